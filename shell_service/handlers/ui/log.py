"""A job's live log for the dashboard: stdout and stderr in one Server-Sent Events stream.

Each event carries text of one stream (``event: out`` or ``err``, ``data``: the text
as a JSON string) and, as its ``id``, where both files were read to: for each, the
attempt whose file it is and the byte offset in it (``<a>:<stdout>,<a>:<stderr>``;
a retried job's next attempts follow the one being read, as ``FollowedOutput`` in
the API's log does). A browser that lost the connection reconnects with
``Last-Event-ID`` and goes on from exactly there: no gap, no duplicate. Without
one, the stream starts ``TAIL_BYTES`` before each file's end (the page renders the
last ~1 MiB; the whole file is a download: ``/api/jobs/{id}/log?download=true``,
or ``/ui/jobs/{id}/download/<stream>`` with the session; ``event: skipped``
says how many bytes of which file were left out). ``event: end`` says the
job has ended and everything is sent; the page then closes the stream. A READY
job's stream stays open, saying nothing, until the job is queued.

stdout and stderr are two files, so their relative order is the order in which
this loop read them (every 0.25 s), not the order the job wrote them.
"""

import asyncio
import json
import time

from tornado.escape import url_escape
from tornado.iostream import StreamClosedError

from baselayer.app.handlers.base import APIError

from ... import queue
from ...job_paths import attempt_in
from ...job_states import FINISHED, JobStatus
from ...utf8 import decode
from ..api.job_log import (
    FOLLOW_INTERVAL,
    FollowedOutput,
    attempt_output_or_404,
    output_path,
    read_from,
    stream_file,
    tail_offset,
)
from ..api.jobs import JobAccessMixin
from .base import UI_ROOT, UIHandler

#: Each stream starts this far before its end when the page opens (about 1 MiB in all).
TAIL_BYTES = 512 * 1024
#: How far past the tail's start a line's start is looked for.
LINE_SEARCH = 4096
#: Seconds between looks at a READY job's state (its page's log starts once it is queued).
READY_INTERVAL = 2.0
#: Seconds between comments that keep an idle stream open through proxies.
KEEPALIVE_SECONDS = 15
STREAMS = (("stdout", "out"), ("stderr", "err"))
#: What the log's handlers read of a job (``number``: whose directory is whose).
LOG_COLUMNS = ("id", "status", "host", "queue", "number", "attempt")


def parse_positions(value: str | None) -> list[tuple[int | None, int]] | None:
    """Where an event id says both files were read to, or None for none or a bad one.

    Parameters
    ----------
    value : str or None
        ``<attempt>:<offset>,<attempt>:<offset>`` (stdout's, stderr's); an entry
        without ``<attempt>:`` is in the file there now.

    Returns
    -------
    list of (int or None, int), or None
        (attempt, offset) for stdout and stderr.
    """
    if not value:
        return None
    parts = value.split(",")
    if len(parts) != 2:
        return None
    positions = []
    for part in parts:
        attempt, _, offset = part.rpartition(":")
        numbers = [n for n in (attempt, offset) if n]
        if not all(n.isascii() and n.isdigit() and len(n) <= 18 for n in numbers) or not offset:
            return None
        positions.append((int(attempt) if attempt else None, int(offset)))
    return positions


def tail_start(path) -> int:
    """Where the page's first look at a file starts: ``TAIL_BYTES`` before its end,
    moved on to the start of the next line when one starts within ``LINE_SEARCH``
    bytes (else to the start of a UTF-8 character).

    Parameters
    ----------
    path : Path
        An output file (missing: 0).

    Returns
    -------
    int
        A byte offset; 0 for a file of at most ``TAIL_BYTES``.
    """
    offset = tail_offset(path, TAIL_BYTES)
    if offset == 0:
        return 0
    newline = read_from(path, offset - 1, LINE_SEARCH).find(b"\n")
    return offset - 1 + newline + 1 if newline != -1 else offset


def position_text(outputs: list[FollowedOutput]) -> str:
    """The event id for where ``outputs`` (stdout's, stderr's) were read to.

    Parameters
    ----------
    outputs : list of FollowedOutput

    Returns
    -------
    str
        ``parse_positions``'s text.
    """
    return ",".join(
        f"{'' if o.attempt is None else o.attempt}:{o.in_file}".lstrip(":") for o in outputs
    )


class JobLogStreamHandler(JobAccessMixin, UIHandler):
    """``GET /ui/jobs/{job_id}/log``: the job's stdout and stderr as one event stream,
    until the job has ended and both files are sent. Someone else's job is a 404."""

    async def get(self, job_id: str):
        """Stream the log (from ``Last-Event-ID``, ``?from=``, or the last ``TAIL_BYTES``)."""
        job = self.job_row_or_404(job_id, LOG_COLUMNS)
        self.set_header("Content-Type", "text/event-stream; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Accel-Buffering", "no")  # nginx: pass events on at once
        if job["status"] == JobStatus.READY:
            if await self.wait_while_ready(job_id) is None:
                return self.finish(self.event("end", "deleted", None))
            job = self.job_row_or_404(job_id, LOG_COLUMNS)
        paths = [output_path(self.settings, job, name) for name, _ in STREAMS]
        on_disk = None if None in paths else attempt_in(paths[0].parent, job["number"])
        if None in paths or (on_disk is None and job["status"] in FINISHED):
            # Another host's, or ended and its directory gone: as stored with it.
            return await self.stored_output(job)
        positions = parse_positions(self.request.headers.get("Last-Event-ID")) or parse_positions(
            self.get_argument("from", None)
        )
        skipped = []
        if positions is None:
            # No directory of this job's yet (one of its id may be a deleted job's):
            # from the start of the one it makes.
            positions = [(on_disk, 0 if on_disk is None else tail_start(path)) for path in paths]
            skipped = [
                {"stream": name, "bytes": offset}
                for (name, _), (_, offset) in zip(STREAMS, positions, strict=True)
                if offset
            ]
        for left_out in skipped:
            self.write(self.event("skipped", left_out, None))
        outputs = [
            FollowedOutput(self.sql, job_id, path, name, offset, attempt, number=job["number"])
            for path, (name, _), (attempt, offset) in zip(paths, STREAMS, positions, strict=True)
        ]
        await self.follow(job_id, outputs)

    async def wait_while_ready(self, job_id: str) -> str | None:
        """Wait, the stream open, until a READY job is queued (or deleted, or the
        browser goes away), looking every ``READY_INTERVAL`` seconds.

        Parameters
        ----------
        job_id : str

        Returns
        -------
        str or None
            The job's state once it is no longer READY; None when it was deleted or
            the browser went away.
        """
        last_sent = time.monotonic()
        while True:
            await asyncio.sleep(READY_INTERVAL)
            status = queue.job_status(self.sql, job_id)
            if status != JobStatus.READY:
                return status
            if time.monotonic() - last_sent > KEEPALIVE_SECONDS:
                self.write(b": keep-alive\n\n")
                last_sent = time.monotonic()
                try:
                    await self.flush()
                except StreamClosedError:
                    return None

    def event(self, kind: str, text: str | dict, positions: str | None) -> bytes:
        """One event's bytes.

        Parameters
        ----------
        kind : str
            ``out``, ``err``, ``skipped`` or ``end``.
        text : str or dict
            Its data, sent as JSON (a string's newlines and ``\\r`` intact;
            ``skipped``'s ``{"stream", "bytes"}``).
        positions : str or None
            Where the files were read to, as its id (``position_text``).

        Returns
        -------
        bytes
        """
        lines = [f"event: {kind}"]
        if positions is not None:
            lines.append(f"id: {positions}")
        lines.append("data: " + json.dumps(text))
        return ("\n".join(lines) + "\n\n").encode()

    async def stored_output(self, job: dict) -> None:
        """A job of another host (its files are not here): its stored output once it
        has ended, else an end saying where it runs."""
        if job["status"] not in FINISHED:
            self.finish(self.event("end", f"running on host {job['host']}", None))
            return
        row = queue.job_row(self.sql, job["id"], ("stdout", "stderr")) or {}
        out, err = (row.get("stdout") or ""), (row.get("stderr") or "")
        sizes = f"{len(out.encode())},{len(err.encode())}"
        self.write(self.event("out", out, sizes))
        self.write(self.event("err", err, sizes))
        self.finish(self.event("end", job["status"], sizes))

    async def follow(self, job_id: str, outputs: list[FollowedOutput]) -> None:
        """Send what both files get until the job has ended and both are read to the end.

        Parameters
        ----------
        job_id : str
        outputs : list of FollowedOutput
            stdout's and stderr's, from where to start in each.
        """
        last_sent = time.monotonic()
        with self.settings["job_waiters"].watching(job_id) as ended:
            status = queue.job_status(self.sql, job_id)
            finished = status is None or status in FINISHED
            while True:
                sent = False
                for output, (_, kind) in zip(outputs, STREAMS, strict=True):
                    data = output.read(finished)
                    if data:
                        self.write(self.event(kind, decode(data), position_text(outputs)))
                        sent = True
                if sent or time.monotonic() - last_sent > KEEPALIVE_SECONDS:
                    if not sent:
                        self.write(b": keep-alive\n\n")
                    last_sent = time.monotonic()
                    try:
                        await self.flush()
                    except StreamClosedError:
                        return  # the browser went away (tab hidden, page left)
                    if sent:
                        continue
                if finished:
                    break
                await asyncio.sleep(FOLLOW_INTERVAL)
                if ended.is_set():
                    ended.clear()
                    status = queue.job_status(self.sql, job_id)
                    finished = status is None or status in FINISHED
        self.finish(self.event("end", status or "deleted", position_text(outputs)))


class JobLogDownloadHandler(JobAccessMixin, UIHandler):
    """``GET /ui/jobs/{job_id}/download/{stream}``: the whole stdout or stderr file,
    raw and streamed (as the API's ``?download=true``), with the session cookie."""

    async def get(self, job_id: str, stream: str):
        """Send the file as an attachment named ``<job id>.<stream>``."""
        job = self.job_row_or_404(job_id, LOG_COLUMNS)
        if stream not in ("stdout", "stderr"):
            raise APIError(404, f"No output stream {stream!r}")
        name = f"{job['id']}.{stream}"
        path = None if job["status"] == JobStatus.READY else output_path(self.settings, job, stream)
        if path is None or attempt_in(path.parent, job["number"]) != job["attempt"]:
            # Not here, or no directory of this attempt's (not made yet, the last
            # attempt's, or gone): as stored with it (nothing before its end).
            row = queue.job_row(self.sql, job["id"], (stream,)) or {}
            self.set_header("Content-Type", "application/octet-stream")
            self.set_header("Content-Disposition", f'attachment; filename="{name}"')
            return self.finish((row.get(stream) or "").encode())
        await stream_file(self, path, name)


class JobAttemptLogHandler(JobAccessMixin, UIHandler):
    """``GET /ui/jobs/{job_id}/attempts/{attempt}``: an earlier attempt's stdout and
    stderr as stored at its end (what ``/api/jobs/{id}/log?attempt=N`` reads), or
    ``.../download/{stream}`` for one of them as a file. The job's current (or last)
    attempt redirects to the job's page and its downloads, where its output is.
    Someone else's job, or an attempt the job has not had, is a 404."""

    async def get(self, job_id: str, attempt: str, stream: str | None = None):
        """The attempt's page, or (``stream``) its stdout or stderr as an attachment."""
        job = self.job_row_or_404(job_id, ("id", "attempt"))
        if int(attempt) == job["attempt"]:
            # The attempt under way, or the last one: its output is the job's own.
            here = f"{UI_ROOT}/jobs/{url_escape(job['id'], plus=False)}"
            return self.redirect(f"{here}/download/{stream}" if stream else f"{here}#live-log")
        stored = attempt_output_or_404(self.sql, job, int(attempt))
        if stream is not None:
            self.set_header("Content-Type", "application/octet-stream")
            name = f"{job['id']}.attempt{int(attempt)}.{stream}"
            self.set_header("Content-Disposition", f'attachment; filename="{name}"')
            # At most jobs.max_output_bytes, in the row already read.
            return self.finish((stored[stream] or "").encode())
        self.render_page(
            "attempt.html",
            job=job,
            attempt=int(attempt),
            stdout=stored["stdout"] or "",
            stderr=stored["stderr"] or "",
        )
