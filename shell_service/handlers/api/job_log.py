"""A job's output while it runs: read from an offset, or follow it live; an
earlier attempt's, as stored at its end."""

import asyncio
import os
from pathlib import Path

from tornado.iostream import StreamClosedError

from baselayer.app.handlers.base import APIError, BaseHandler

from ... import queue, schemas
from ...job_paths import output_file
from ...job_states import FINISHED, JobStatus
from ...utf8 import decode, whole_characters
from .jobs import JobAccessMixin

#: Most bytes one response (or one streamed chunk) carries.
CHUNK_BYTES = 65536
#: Seconds between looks at a followed job's file.
FOLLOW_INTERVAL = 0.25


def read_from(path, offset: int, limit: int = CHUNK_BYTES) -> bytes:
    """Up to ``limit`` bytes of the file at ``path`` from byte ``offset``.

    An offset past the end is never handed to the kernel: ``lseek`` and ``pread``
    refuse offsets past the file system's largest file (16 TiB on ext4) with
    EINVAL, while the API accepts any offset a bigint holds.

    Parameters
    ----------
    path : str or Path
    offset : int
        Bytes from the file's start.
    limit : int, optional
        Most bytes read.

    Returns
    -------
    bytes
        b"" when the file is missing or ends before ``offset``.
    """
    try:
        with open(path, "rb") as f:
            if offset >= os.fstat(f.fileno()).st_size:
                return b""
            return os.pread(f.fileno(), limit, offset)
    except FileNotFoundError:
        return b""


def file_identity(path) -> tuple[int, int] | None:
    """The inode and modification time of the file at ``path``; None when there
    is none."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns


def piece_to_hand_out(data: bytes, at_the_end: bool) -> bytes:
    """What to hand out of ``data``, bytes just read from the output at some offset.

    Parameters
    ----------
    data : bytes
    at_the_end : bool
        The job had ended before ``data`` was read, and ``data`` reaches the end of
        the file: nothing more will come, so all of it goes (a character cut short
        at the very end decodes to U+FFFD).

    Returns
    -------
    bytes
        All of ``data`` at the end; otherwise up to its last whole UTF-8 character
        (a character whose last bytes are not in ``data`` waits for the next read).
    """
    return data if at_the_end else whole_characters(data)


class JobLogHandler(JobAccessMixin, BaseHandler):
    """``GET /api/jobs/{job_id}/log``: a job's output, from an offset or followed live.

    Its owner (or an admin) with a token. The output files are read here, read-only,
    at the path config gives (``job_paths.output_file``).
    """

    async def get(self, job_id: str):
        """Answer a piece of the output of job ``job_id`` (from the path), or stream it.

        ---
        summary: Read a job's output
        description: |
          Text of `stream` (stdout or stderr) from byte `offset`, at most 64 KiB, and
          the offset to ask from next. A retried job's earlier attempt: `attempt=N`
          (its output as stored at its end; 404 for an attempt it has not had). With
          `follow=true` the response stays open and streams plain text as the job
          writes it, until the job ends:
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
        job = self.job_row_or_404(job_id, ("id", "status", "host", "queue", "attempt"))
        args = self.load_query(schemas.JobLogQuery)
        attempt = args.get("attempt", job["attempt"])
        if attempt != job["attempt"]:
            return self.earlier_attempt(job, attempt, args)
        if job["status"] == JobStatus.READY or (
            job["status"] == JobStatus.QUEUED and job["attempt"] > 1 and not args["follow"]
        ):
            # It never ran (a directory of its id is not its own: an earlier job's),
            # or its next attempt has not started (the directory holds the last one's).
            return self.success({"text": "", "offset": args["offset"], "finished": False})
        slurm_dir = self.settings["slurm_jobs_dirs"].get(job["queue"])
        if slurm_dir is not None:
            # A Slurm queue's: its directory is on the filesystem shared with the nodes.
            path = output_file(slurm_dir, job["id"], args["stream"])
        else:
            path = output_file(self.settings["jobs_dir"], job["id"], args["stream"])
            if job["host"] not in (None, self.settings["host"]) and not os.path.exists(path):
                return self.from_another_host(job, args)
        if not args["follow"]:
            # The state before the file: once ended, the file read after is whole.
            finished = job["status"] in FINISHED
            data = read_from(path, args["offset"])
            data = piece_to_hand_out(data, finished and len(data) < CHUNK_BYTES)
            return self.success(
                {"text": decode(data), "offset": args["offset"] + len(data), "finished": finished}
            )
        await self.follow(job, path, args["offset"])

    def earlier_attempt(self, job: dict, attempt: int, args: dict) -> None:
        """The output of an earlier attempt of a retried job, as stored at its end
        (up to ``jobs.max_output_bytes``), in pages as from the file; with
        ``follow``, all of it as plain text.

        Raises
        ------
        APIError
            404 when the job has no such ended attempt.
        """
        stored = queue.attempt_output(self.sql, job["id"], attempt)
        if stored is None:
            raise APIError(
                404,
                f"Job {job['id']!r} has no attempt {attempt} (it is at attempt {job['attempt']})",
            )
        self.stored_page(stored[args["stream"]] or "", args)

    def stored_page(self, stored: str, args: dict) -> None:
        """Answer a page of output stored in the database (``args``: the query),
        ended: whole characters, as from the file; with ``follow``, the rest as
        plain text."""
        rest = stored.encode()[args["offset"] :]  # empty past the end
        if args["follow"]:
            self.set_header("Content-Type", "text/plain; charset=UTF-8")
            self.finish(rest)
            return
        data = piece_to_hand_out(rest[:CHUNK_BYTES], len(rest) <= CHUNK_BYTES)
        self.success({"text": decode(data), "offset": args["offset"] + len(data), "finished": True})

    def from_another_host(self, job: dict, args: dict) -> None:
        """The log of a job that ran on another host, whose jobs directory this host
        does not share: once it has ended, the output stored with it (up to
        ``jobs.max_output_bytes``), in pages as from the file; while it runs, a 409.

        Raises
        ------
        APIError
            409 while the job runs: its live output is on its host.
        """
        if job["status"] not in FINISHED:
            raise APIError(
                409,
                f"Job {job['id']!r} runs on host {job['host']!r}: its live output is in that "
                "host's jobs directory, which this host does not share; its output is "
                "here once it ends",
            )
        stream = args["stream"]
        stored = (queue.job_row(self.sql, job["id"], (stream,)) or {}).get(stream) or ""
        self.stored_page(stored, args)

    def job_has_ended(self, job_id: str) -> bool:
        """Whether the job is in a final state, or gone (deleted meanwhile).

        Parameters
        ----------
        job_id : str

        Returns
        -------
        bool
        """
        status = queue.job_status(self.sql, job_id)
        return status is None or status in FINISHED  # None: deleted meanwhile

    async def follow(self, job: dict, path, offset: int) -> None:
        """Stream new text until the job has ended and the file is read to its end.

        Each chunk is whole characters (invalid bytes as U+FFFD), cut as log pages
        are: a character the job has only half written waits for its other half, or
        for the job's end. The file is looked at every FOLLOW_INTERVAL seconds; the
        job's state only when its end is announced (the NOTIFY behind ``wait=N``), so
        a follow costs the database nothing while the job runs. Returns quietly when
        the client goes away.

        Parameters
        ----------
        job : dict
            The job's ``id`` (and ``status``), read and access-checked by the caller.
        path : Path
            Its output file.
        offset : int
            Byte offset to start from.
        """
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.set_header("X-Accel-Buffering", "no")  # nginx: pass chunks on at once
        job_id = job["id"]
        # Where in the file: the offset asked for, until a retried job's next
        # attempt makes its directory anew (the end record seen is gone or
        # another: each attempt's init writes its own); that attempt's output
        # then follows from its start, as Slurm's requeue appends to its output.
        in_file = offset
        end_record = Path(path).parent / "exit_status"
        end_seen = file_identity(end_record)
        with self.settings["job_waiters"].watching(job_id) as ended:
            # Read the state once watching, so an end just before is not missed.
            finished = self.job_has_ended(job_id)
            while True:
                end_now = file_identity(end_record)
                if end_seen is not None and end_now != end_seen:
                    in_file = 0
                end_seen = end_now
                data = read_from(path, in_file)
                data = piece_to_hand_out(data, finished and len(data) < CHUNK_BYTES)
                if data:
                    offset += len(data)
                    in_file += len(data)
                    self.write(decode(data).encode())
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
