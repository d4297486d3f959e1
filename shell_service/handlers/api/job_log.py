"""A job's output while it runs: read from an offset, or follow it live."""

import asyncio

from tornado.iostream import StreamClosedError

from baselayer.app.handlers.base import BaseHandler
from baselayer.app.plain_sql import Statement

from ... import schemas
from ...job_states import FINISHED
from .jobs import JobAccessMixin

#: Most bytes one response (or one streamed chunk) carries.
CHUNK_BYTES = 65536
#: Seconds between looks at a followed job's file.
FOLLOW_INTERVAL = 0.25

_JOB_STATUS = Statement("SELECT status FROM jobs WHERE id = %(id)s")


def read_from(path, offset: int, limit: int = CHUNK_BYTES) -> bytes:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(limit)
    except FileNotFoundError:
        return b""


def whole_characters(data: bytes) -> bytes:
    """``data`` without a UTF-8 character cut in two at its end (the next read gets it)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:  # ASCII: nothing cut
            return data
        if byte >= 0xC0:  # a lead byte: is its sequence complete?
            needed = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return data if back >= needed else data[:-back]
    return data  # not UTF-8 at all: pass the bytes on as they are


class JobLogHandler(JobAccessMixin, BaseHandler):
    async def get(self, job_id: str):
        """
        ---
        summary: Read a job's output
        description: |
          Text of `stream` (stdout or stderr) from byte `offset`, at most 64 KiB, and
          the offset to ask from next. With `follow=true` the response stays open and
          streams plain text as the job writes it, until the job ends:
          `curl -N -H "Authorization: token $TOKEN" ".../api/jobs/ID/log?follow=true"`.
        tags: [jobs]
        security: [{token: []}]
        parameters:
          - {in: query, schema: JobLogQuery}
        responses:
          200:
            content:
              application/json: {schema: JobLogEnvelope}
              text/plain: {schema: {type: string}}
          400: BadRequest
          401: Unauthorized
          404: NotFound
        """
        job = self.get_job_or_404(job_id)
        args = self.load_query(schemas.JobLogQuery)
        path = getattr(self.settings["job_host"].job_files(job.id), args["stream"])
        if not args["follow"]:
            data = whole_characters(read_from(path, args["offset"]))
            return self.success(
                {
                    "text": data.decode("utf-8", "replace"),
                    "offset": args["offset"] + len(data),
                    "finished": job.status in FINISHED,
                }
            )
        await self.follow(job, path, args["offset"])

    def job_has_ended(self, job_id: str) -> bool:
        status = self.sql.value(_JOB_STATUS, {"id": job_id})
        return status is None or status in FINISHED  # None: deleted meanwhile

    async def follow(self, job, path, offset: int) -> None:
        """Stream new bytes until the job has ended and the file is read to its end.

        The file is looked at every FOLLOW_INTERVAL; the job's state only when
        its end is announced (the NOTIFY behind ``wait=N``), so a follow costs
        the database nothing while the job runs."""
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.set_header("X-Accel-Buffering", "no")  # nginx: pass chunks on at once
        job_id = job.id
        # Give the pooled connection back while streaming: a follow may last hours.
        self.session.close()
        with self.settings["job_waiters"].watching(job_id) as ended:
            # Read the state once watching, so an end just before is not missed.
            finished = self.job_has_ended(job_id)
            while True:
                data = read_from(path, offset)
                if data:
                    offset += len(data)
                    self.write(data)
                    try:
                        await self.flush()
                    except StreamClosedError:
                        return  # the client went away
                    continue
                if finished:
                    break
                await asyncio.sleep(FOLLOW_INTERVAL)
                if ended.is_set():
                    # Announced (or the listener was lost): the database says.
                    ended.clear()
                    finished = self.job_has_ended(job_id)
        self.finish()
