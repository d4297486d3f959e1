"""A job's output while it runs: read from an offset or its tail, follow it live,
or download it whole; an earlier attempt's, as stored at its end."""

import asyncio
import os
from pathlib import Path

from tornado.iostream import StreamClosedError

from baselayer.app.handlers.base import APIError, BaseHandler

from ... import queue, schemas
from ...job_paths import attempt_in, output_file
from ...job_states import FINISHED, JobStatus
from ...utf8 import decode, whole_characters
from .jobs import JobAccessMixin

#: Most bytes one response (or one streamed chunk) carries.
CHUNK_BYTES = 65536
#: Seconds between looks at a followed job's file.
FOLLOW_INTERVAL = 0.25


#: The query arguments a download (the whole file, at once) takes none of.
DOWNLOAD_EXCLUDES = ("offset", "tail", "follow", "one_attempt")


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


def file_size(path) -> int:
    """The size of the file at ``path`` in bytes; 0 when it is missing.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    int
    """
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def tail_offset(path, tail: int) -> int:
    """Where the last ``tail`` bytes of the file at ``path`` start, moved on to the
    start of a UTF-8 character (past at most 3 continuation bytes).

    Parameters
    ----------
    path : str or Path
    tail : int
        Bytes from the end (0: the end itself).

    Returns
    -------
    int
        A byte offset, 0 for a file shorter than ``tail`` or missing.
    """
    offset = max(0, file_size(path) - tail)
    if offset == 0:
        return 0
    head = read_from(path, offset, 4)
    skip = 0
    while skip < min(3, len(head)) and head[skip] & 0xC0 == 0x80:
        skip += 1
    return offset + skip


async def stream_file(handler, path, name: str) -> None:
    """Send the file at ``path`` as a download, as it is when the download starts,
    in CHUNK_BYTES pieces (never read whole into memory).

    Parameters
    ----------
    handler : tornado.web.RequestHandler
        Its response: headers, then the bytes; finished here.
    path : str or Path
    name : str
        The attachment's file name (``Content-Disposition``).
    """
    size = file_size(path)
    handler.set_header("Content-Type", "application/octet-stream")
    handler.set_header("Content-Disposition", f'attachment; filename="{name}"')
    handler.set_header("Content-Length", str(size))
    handler.set_header("X-Accel-Buffering", "no")
    offset = 0
    while offset < size:
        data = read_from(path, offset, min(CHUNK_BYTES, size - offset))
        if not data:  # shorter than it was (removed): end what was promised short
            break
        offset += len(data)
        handler.write(data)
        try:
            await handler.flush()
        except StreamClosedError:
            return
    handler.finish()


def stored_tail_offset(stored: bytes, tail: int) -> int:
    """Where the last ``tail`` bytes of ``stored`` start, moved on to the start of
    a UTF-8 character (``tail_offset`` for output stored in the database).

    Parameters
    ----------
    stored : bytes
    tail : int

    Returns
    -------
    int
    """
    offset = max(0, len(stored) - tail)
    while offset < len(stored) and stored[offset] & 0xC0 == 0x80:
        offset += 1
    return offset


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


def output_path(settings: dict, job: dict, stream: str):
    """Where this host reads a job's output file.

    Parameters
    ----------
    settings : dict
        The app's settings: ``jobs_dir``, ``slurm_jobs_dirs``, ``host``.
    job : dict
        Its ``id``, ``host`` and ``queue``.
    stream : str
        "stdout" or "stderr".

    Returns
    -------
    Path or None
        None for a job that ran on another host whose jobs directory this host does
        not share (its output is in its row once it has ended).
    """
    slurm_dir = settings["slurm_jobs_dirs"].get(job["queue"])
    if slurm_dir is not None:
        # A Slurm queue's: its directory is on the filesystem shared with the nodes.
        return output_file(slurm_dir, job["id"], stream)
    path = output_file(settings["jobs_dir"], job["id"], stream)
    if job["host"] not in (None, settings["host"]) and not os.path.exists(path):
        return None
    return path


class FollowedOutput:
    """One output stream of a job, followed across its attempts, as Slurm's requeue
    appends a job's next run to its output: an attempt's text, then the next's.

    Each attempt makes the job's directory anew, saying which attempt it is
    (``job_paths.ATTEMPT_FILE``, the service's). The file is read at the offset
    reached in the attempt the directory holds; once it holds a later one, what
    was not read of the earlier attempts comes from their output stored at their
    end (``queue.attempt_output``, up to ``jobs.max_output_bytes`` each), and the
    new attempt's file is read from its start. So nothing is missed when an attempt
    ends and the next starts between two looks.

    Attributes
    ----------
    attempt : int or None
        The attempt whose file ``in_file`` is an offset in; None until a
        directory saying which was seen (not made yet, or made before directories
        said). A directory holding an earlier attempt is not read: the one asked
        for has not started yet.
    in_file : int
        Bytes handed out of that attempt's file.
    last : int or None
        The last attempt to hand out (None: every one); ``done`` once it is all out.
    """

    def __init__(
        self,
        sql,
        job_id: str,
        path: Path,
        stream: str,
        offset: int,
        attempt=None,
        last=None,
        *,
        number: int,
    ):
        """
        Parameters
        ----------
        sql : PlainSQL
            For the stored output of attempts that ended between two looks.
        job_id : str
        path : Path
            The stream's file (``output_path``).
        stream : str
            "stdout" or "stderr".
        offset : int
            Bytes of ``attempt``'s file (or, None, of the file now there) already
            handed out.
        attempt : int or None
            The attempt ``offset`` is in; None: the one the directory holds.
        last : int or None
            The last attempt to hand out (``attempt`` alone, say); None: all.
        number : int
            The job's ``jobs.number``: a directory of its id made for another job
            (a deleted one's) is never read.
        """
        self.number = number
        self.sql, self.job_id, self.path, self.stream = sql, job_id, Path(path), stream
        self.in_file, self.attempt, self.last = offset, attempt, last
        self.seen = False  # whether the directory was seen holding ``attempt``

    @property
    def done(self) -> bool:
        """Whether the last attempt asked for (``last``) is all handed out."""
        return None not in (self.last, self.attempt) and self.attempt > self.last

    def read(self, finished: bool) -> bytes:
        """The next piece to hand out (empty: nothing new now).

        Parameters
        ----------
        finished : bool
            The job had ended before this call: a character cut short at the very
            end of the file goes out too.

        Returns
        -------
        bytes
            At most ``CHUNK_BYTES`` of the file (whole characters unless
            finished), or the rest of earlier attempts from the database.
        """
        directory = self.path.parent
        on_disk = attempt_in(directory, self.number)
        if self.done:
            return b""
        if self.attempt is not None:
            if on_disk is None or on_disk < self.attempt:
                # Being made anew, gone, or an earlier attempt's (the one followed
                # has not started yet).
                return b""
            if on_disk > self.attempt:
                upto = on_disk if self.last is None else min(on_disk, self.last + 1)
                missed = self.rest_of_attempts(upto)
                self.attempt, self.in_file = upto, 0
                if missed or self.done:
                    return missed
        if on_disk is None:
            return b""  # no directory of this job's here (yet, or any more)
        self.attempt = on_disk
        self.seen = True
        data = read_from(self.path, self.in_file)
        if attempt_in(directory, self.number) != on_disk:
            return b""  # made anew while read: the next look starts that attempt
        data = piece_to_hand_out(data, finished and len(data) < CHUNK_BYTES)
        self.in_file += len(data)
        return data

    def rest_of_attempts(self, now: int) -> bytes:
        """What was not handed out of attempts ``self.attempt`` to ``now - 1``, from
        their stored output (an attempt with none stored, or a deleted job: nothing).

        Parameters
        ----------
        now : int
            The attempt the directory holds now.

        Returns
        -------
        bytes
        """
        parts = []
        for number in range(self.attempt, now):
            stored = queue.attempt_output(self.sql, self.job_id, number) or {}
            text = (stored.get(self.stream) or "").encode()
            parts.append(text[self.in_file :] if number == self.attempt else text)
        return b"".join(parts)

    def rest_at_end(self, final: int) -> bytes:
        """Once the job has ended at attempt ``final`` and its directory has no more
        to read: what was not handed out of the attempts from ``self.attempt`` to
        ``final`` (or ``last``), from their stored output (the last attempt's is the
        job's own), when the directory did not hold them (it is gone, the job ran
        on another host, or its last attempt never started).

        Parameters
        ----------
        final : int
            The job's last attempt.

        Returns
        -------
        bytes
        """
        if self.attempt is None or self.done or (self.attempt >= final and self.seen):
            return b""
        upto = final if self.last is None else min(final, self.last + 1)
        missed = self.rest_of_attempts(upto)
        if upto == final:
            row = queue.job_row(self.sql, self.job_id, (self.stream,)) or {}
            text = (row.get(self.stream) or "").encode()
            missed += text[self.in_file :] if self.attempt == final else text
        return missed


def attempt_output_or_404(sql, job: dict, attempt: int) -> dict:
    """An ended attempt's output as stored at its end (``/log?attempt=N`` and the
    dashboard's attempt page).

    Parameters
    ----------
    sql : PlainSQL
    job : dict
        Its ``id`` and ``attempt`` (read and access-checked by the caller).
    attempt : int
        1 first.

    Returns
    -------
    dict
        ``stdout`` and ``stderr`` (str or None).

    Raises
    ------
    APIError
        404 when the job has no such ended attempt.
    """
    stored = queue.attempt_output(sql, job["id"], attempt)
    if stored is None:
        raise APIError(
            404,
            f"Job {job['id']!r} has no attempt {attempt} (it is at attempt {job['attempt']})",
        )
    return stored


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
          Text of `stream` (stdout or stderr) from byte `offset`, at most 64 KiB, the
          offset to ask from next, and the file's `size` in bytes. With `tail=N` it
          starts N bytes before the end instead (at a character's start): the last
          part of a big log. A retried job's earlier attempt: `attempt=N` (its
          output as stored at its end; 404 for an attempt it has not had). With
          `follow=true` the response stays open and
          streams plain text as the job writes it, until the job ends:
          `curl -N -H "Authorization: token $TOKEN" ".../api/jobs/ID/log?follow=true"`.
          A retried job's follow from an attempt: `follow=true&attempt=1` streams
          attempt 1 from `offset` (its stored output once it has ended), then every
          later attempt's, in order, until the job ends; add `one_attempt=true` to
          end the stream with that attempt (a client that resumes a broken follow
          asks again with `attempt=N&offset=M`, the bytes it has of attempt N).
          With `download=true` the answer is the whole file as it is now, raw bytes
          (`application/octet-stream`, an attachment named `ID.stdout`), streamed:
          `curl -OJ -H "Authorization: token $TOKEN" ".../api/jobs/ID/log?download=true"`;
          with `offset`, `tail`, `follow` or `one_attempt` too it is a 400.
        tags: [jobs]
        security: [{token: []}]
        parameters:
          - {in: query, schema: JobLogQuery}
        responses:
          200:
            content:
              application/json: {schema: JobLogEnvelope}
              text/plain: {schema: {type: string}}
              application/octet-stream: {schema: {type: string, format: binary}}
          400: BadRequest
          401: Unauthorized
          404: NotFound
        """
        job = self.job_row_or_404(job_id, ("id", "status", "host", "queue", "attempt", "number"))
        args = self.load_query(schemas.JobLogQuery)
        if args["download"]:
            # The whole file, once: a part of it or a stream is another request's.
            given = [name for name in DOWNLOAD_EXCLUDES if name in self.request.query_arguments]
            if given:
                errors = {
                    name: [f"a download is the whole file; leave out {name}"] for name in given
                }
                message = "; ".join(f"{name}: {problem[0]}" for name, problem in errors.items())
                raise APIError(400, f"Invalid query arguments: {message}", {"errors": errors})
        attempt = args.get("attempt", job["attempt"])
        if args["follow"] and "attempt" in args and job["status"] != JobStatus.READY:
            if attempt < job["attempt"] and args["one_attempt"]:
                return self.earlier_attempt(job, attempt, args)  # ended: its stored rest
            if attempt <= job["attempt"]:
                return await self.follow_from(job, attempt, args)
        if attempt != job["attempt"]:
            return self.earlier_attempt(job, attempt, args)
        if job["status"] == JobStatus.READY or (
            job["status"] == JobStatus.QUEUED and job["attempt"] > 1 and not args["follow"]
        ):
            # It never ran (a directory of its id is not its own: an earlier job's),
            # or its next attempt has not started (the directory holds the last one's).
            if args["download"]:
                self.set_header("Content-Type", "application/octet-stream")
                return self.finish(b"")
            offset = 0 if "tail" in args else args["offset"]
            return self.success({"text": "", "offset": offset, "finished": False, "size": 0})
        path = output_path(self.settings, job, args["stream"])
        if path is None:
            return self.from_another_host(job, args)
        if not args["follow"] and attempt_in(path.parent, job["number"]) != job["attempt"]:
            # No directory of this attempt's: not made yet (a directory of its id is a
            # deleted job's, until the executor removes it; or the last attempt's, when
            # this one was cancelled in its back-off), or gone after its end.
            if job["status"] in FINISHED:
                return self.stored_output(job, args)
            if args["download"]:
                self.set_header("Content-Type", "application/octet-stream")
                return self.finish(b"")
            offset = 0 if "tail" in args else args["offset"]
            return self.success({"text": "", "offset": offset, "finished": False, "size": 0})
        if args["download"]:
            return await stream_file(self, path, f"{job['id']}.{args['stream']}")
        if "tail" in args:
            args["offset"] = tail_offset(path, args["tail"])
        if not args["follow"]:
            # The state before the file: once ended, the file read after is whole.
            finished = job["status"] in FINISHED
            data = read_from(path, args["offset"])
            data = piece_to_hand_out(data, finished and len(data) < CHUNK_BYTES)
            return self.success(
                {
                    "text": decode(data),
                    "offset": args["offset"] + len(data),
                    "finished": finished,
                    # After the read: the file only grows, so it covers what was read.
                    "size": file_size(path),
                }
            )
        # An ended job's follow is its last attempt's output, as its read is: its
        # directory may hold an earlier one's (the last was cancelled in its back-off).
        attempt = job["attempt"] if job["status"] in FINISHED else None
        await self.follow(job, path, args["stream"], args["offset"], attempt)

    async def follow_from(self, job: dict, attempt: int, args: dict) -> None:
        """Follow the output from attempt ``attempt`` (at ``offset``, or ``tail``
        bytes before its end) through every later one, or (``one_attempt``) to the
        end of that attempt alone.

        Parameters
        ----------
        job : dict
            Its ``id``, ``status``, ``host``, ``queue`` and ``attempt``.
        attempt : int
            At most the job's attempt now.
        args : dict
            The query.

        Raises
        ------
        APIError
            404 for an earlier attempt with no stored record; 409 while the job runs
            on a host whose jobs directory this host does not share.
        """
        stream, offset = args["stream"], args["offset"]
        path = output_path(self.settings, job, stream)
        if path is None:
            if job["status"] not in FINISHED:
                self.from_another_host(job, args)  # its 409
            # Every attempt's output is stored: no directory here holds one.
            path = output_file(self.settings["jobs_dir"], job["id"], stream)
        if attempt < job["attempt"]:
            stored = queue.attempt_output(self.sql, job["id"], attempt)
            if stored is None:
                self.earlier_attempt(job, attempt, args)  # its 404
                return
            if "tail" in args:
                offset = stored_tail_offset((stored[stream] or "").encode(), args["tail"])
        elif "tail" in args:
            offset = tail_offset(path, args["tail"])
        last = attempt if args["one_attempt"] else None
        await self.follow(job, path, stream, offset, attempt, last)

    def stored_output(self, job: dict, args: dict) -> None:
        """An ended job's output as stored with it (up to ``jobs.max_output_bytes``):
        ``stored_page``."""
        stream = args["stream"]
        stored = (queue.job_row(self.sql, job["id"], (stream,)) or {}).get(stream) or ""
        self.stored_page(stored, job, args)

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
        self.stored_page(stored, job, args)

    def earlier_attempt(self, job: dict, attempt: int, args: dict) -> None:
        """The output of an earlier attempt of a retried job, as stored at its end
        (up to ``jobs.max_output_bytes``), as ``stored_page`` answers it.

        Raises
        ------
        APIError
            404 when the job has no such ended attempt.
        """
        stored = attempt_output_or_404(self.sql, job, attempt)
        self.stored_page(stored[args["stream"]] or "", job, args)

    def stored_page(self, stored_text: str, job: dict, args: dict) -> None:
        """Answer from output stored in the database (``args``: the query), ended:
        a page of whole characters as from the file (from ``offset``, or the last
        ``tail`` bytes); with ``follow``, the rest as plain text; with
        ``download``, all of it as an attachment."""
        stream, offset = args["stream"], args["offset"]
        stored = stored_text.encode()
        if args["download"]:
            self.set_header("Content-Type", "application/octet-stream")
            self.set_header("Content-Disposition", f'attachment; filename="{job["id"]}.{stream}"')
            self.finish(stored)  # at most jobs.max_output_bytes, in the row already read
            return
        if "tail" in args:
            offset = stored_tail_offset(stored, args["tail"])
        rest = stored[offset:]  # empty past the end
        if args["follow"]:
            self.set_header("Content-Type", "text/plain; charset=UTF-8")
            self.finish(rest)
            return
        # Pages end on whole characters, as from the file.
        data = piece_to_hand_out(rest[:CHUNK_BYTES], len(rest) <= CHUNK_BYTES)
        self.success(
            {
                "text": decode(data),
                "offset": offset + len(data),
                "finished": True,
                "size": len(stored),
            }
        )

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

    async def follow(
        self, job: dict, path, stream: str, offset: int, attempt=None, last=None
    ) -> None:
        """Stream new text until the job has ended and the file is read to its end
        (or, ``last`` given, until that attempt's text is all out).

        Each chunk is whole characters (invalid bytes as U+FFFD), cut as log pages
        are: a character the job has only half written waits for its other half, or
        for the job's end. A retried job's next attempts follow the one being read
        (``FollowedOutput``). The file is looked at every FOLLOW_INTERVAL seconds;
        the job's state only when its end is announced (the NOTIFY behind
        ``wait=N``), so a follow costs the database nothing while the job runs.
        Returns quietly when the client goes away.

        Parameters
        ----------
        job : dict
            The job's ``id`` (and ``status``), read and access-checked by the caller.
        path : Path
            Its output file.
        stream : str
            "stdout" or "stderr".
        offset : int
            Byte offset to start from, in ``attempt``'s output (None: in the file
            there now).
        attempt : int, optional
            The attempt to start in (None: the one the directory holds).
        last : int, optional
            The last attempt to stream (None: every one).
        """
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.set_header("X-Accel-Buffering", "no")  # nginx: pass chunks on at once
        job_id = job["id"]
        output = FollowedOutput(
            self.sql, job_id, path, stream, offset, attempt, last, number=job["number"]
        )
        with self.settings["job_waiters"].watching(job_id) as ended:
            # Read the state once watching, so an end just before is not missed.
            finished = self.job_has_ended(job_id)
            while not output.done:
                data = output.read(finished)
                if not data and finished:
                    # The directory has no more: what it did not hold is stored.
                    final = (queue.job_row(self.sql, job_id, ("attempt",)) or {}).get("attempt")
                    data = output.rest_at_end(final) if final is not None else b""
                    if data:
                        self.write(decode(data).encode())
                    break
                if data:
                    self.write(decode(data).encode())
                    try:
                        await self.flush()
                    except StreamClosedError:
                        return  # the client went away
                    continue
                await asyncio.sleep(FOLLOW_INTERVAL)
                if ended.is_set():
                    # Announced (or the listener was lost): the database says.
                    ended.clear()
                    finished = self.job_has_ended(job_id)
        self.finish()
