"""Waiting for a job: a spinner while it is queued, its output streamed live (stdout
to stdout, stderr to stderr), then an exit code from how it ended."""

import sys
import threading
import time
from typing import BinaryIO, TextIO

import requests

from .api import Api
from .errors import ClientError, ExitCode
from .output import Spinner

#: The job's final states (as shell_service.job_states.FINISHED).
FINISHED = frozenset({"COMPLETE", "FAILED", "TIMED_OUT", "CANCELLED", "SERVER_ERROR"})
#: Seconds between looks at a queued job, and between spinner frames.
POLL_INTERVAL = 0.5
SPIN_INTERVAL = 0.1
#: How long a followed log keeps reconnecting (through a restart of the stack, say).
RECONNECT_WINDOW = 60.0
#: HTTP answers of a service on its way down or up: worth trying again.
TRANSIENT_HTTP_STATUSES = frozenset({502, 503, 504})


def wait_while_queued(api: Api, job_id: str, spinner: Spinner) -> dict:
    """Poll the job until it has left QUEUED, or is a retried job's next attempt
    (its followed output goes on with each attempt's), drawing the spinner
    meanwhile; the job."""
    next_poll = 0.0
    job: dict = {}
    try:
        while True:
            if time.monotonic() >= next_poll:
                job = api.get_job(job_id)
                if job["status"] != "QUEUED" or job.get("attempt", 1) > 1:
                    return job
                next_poll = time.monotonic() + POLL_INTERVAL
            # A Slurm queue's job says why Slurm keeps it pending ("pending in
            # Slurm: Resources").
            why = job.get("status_message") or "waiting for capacity"
            spinner.tick(f"{job_id} is queued, {why}")
            time.sleep(SPIN_INTERVAL if spinner.enabled else POLL_INTERVAL)
    finally:
        spinner.clear()


def wait_while_ready(api: Api, job_id: str, announce: bool) -> None:
    """Wait while the job is READY (made, not queued: it has no output, and the log
    answers a page, not a stream), saying so once on stderr when ``announce``."""
    if api.get_job(job_id)["status"] != "READY":
        return
    if announce:
        print(
            f"shell-service: {job_id} is READY, not queued: its output follows once it is "
            f"(POST /api/jobs/{job_id}/execute, or Queue it on its dashboard page)",
            file=sys.stderr,
        )
    while api.get_job(job_id)["status"] == "READY":
        time.sleep(POLL_INTERVAL)


def is_transient(error: Exception) -> bool:
    """Whether a failed request may work if sent again: no answer, or a restarting service."""
    if isinstance(error, ClientError):
        return (
            error.exit_code == ExitCode.UNREACHABLE or error.http_status in TRANSIENT_HTTP_STATUSES
        )
    return isinstance(error, requests.RequestException)


def copy_stream(api: Api, job_id: str, stream: str, sink: BinaryIO, first_attempt: int = 1) -> None:
    """Write one of the job's streams to ``sink`` as it is written, until the job ends:
    each attempt's output from ``first_attempt`` on, in order (a retried job's).

    Each attempt is followed alone (``one_attempt``), so what was copied is known
    as (attempt, bytes of it): a broken connection (a restarted stack, nginx's read
    timeout) is resumed there, for up to RECONNECT_WINDOW seconds without progress.
    Once an attempt's stream has ended and the job has gone on (or ended), the rest
    of that attempt, if a proxy cut the stream short, is read page by page.
    """
    attempt, offset = first_attempt, 0
    broken_since: float | None = None
    wait_while_ready(api, job_id, announce=stream == "stdout")
    while True:
        try:
            for chunk in api.follow_log(job_id, stream, offset, attempt):
                sink.write(chunk)
                sink.flush()
                offset += len(chunk)
                broken_since = None
            # The stream ends when the attempt has; make sure, since a proxy may end it early.
            job = api.get_job(job_id)
            if job.get("attempt", 1) > attempt or job["status"] in FINISHED:
                offset += copy_rest(api, job_id, stream, sink, offset, attempt)
                if job.get("attempt", 1) <= attempt:
                    return
                attempt, offset = attempt + 1, 0
                continue
            time.sleep(POLL_INTERVAL)
        except (ClientError, requests.RequestException) as error:
            if isinstance(error, ClientError) and error.http_status == 409:
                # It runs on a host whose output this service cannot read live: its
                # output comes (stored with it) once it has ended.
                if stream == "stdout":
                    print(f"shell-service: {error}; waiting for it to end", file=sys.stderr)
                while api.get_job(job_id)["status"] not in FINISHED:
                    time.sleep(POLL_INTERVAL)
                continue
            if not is_transient(error):
                raise
            broken_since = broken_since or time.monotonic()
            if time.monotonic() - broken_since > RECONNECT_WINDOW:
                raise ClientError(
                    f"lost the {stream} of {job_id} for {RECONNECT_WINDOW:.0f} s ({error}); "
                    f"the job goes on: `shell-service logs -f {job_id}`",
                    ExitCode.UNREACHABLE,
                )
            time.sleep(POLL_INTERVAL)


def copy_rest(api: Api, job_id: str, stream: str, sink: BinaryIO, offset: int, attempt: int):
    """Copy what an ended attempt's output holds past ``offset`` (nothing, unless its
    followed stream was cut short), page by page; the bytes copied."""
    copied = 0
    while True:
        page = api.read_log(job_id, stream, offset + copied, attempt)
        data = page["text"].encode()
        if not data or page["offset"] <= offset + copied:
            return copied
        sink.write(data)
        sink.flush()
        copied = page["offset"] - offset


class StreamCopier(threading.Thread):
    """``copy_stream`` in a daemon thread, keeping the exception it ended with."""

    def __init__(self, api: Api, job_id: str, stream: str, sink: BinaryIO):
        super().__init__(name=f"follow-{stream}", daemon=True)
        self.args_ = (api, job_id, stream, sink)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            copy_stream(*self.args_)
        except BaseException as exc:  # reported by the main thread
            self.error = exc


def stream_output(api: Api, job_id: str, stdout: BinaryIO, stderr: BinaryIO) -> None:
    """Copy the job's stdout and stderr, at the same time, until it has ended.

    Raises
    ------
    BaseException
        The first error of either copy (ClientError, BrokenPipeError...).
    """
    copiers = [
        StreamCopier(api, job_id, "stdout", stdout),
        StreamCopier(api, job_id, "stderr", stderr),
    ]
    for copier in copiers:
        copier.start()
    for copier in copiers:
        # A join with a timeout lets Ctrl-C reach the main thread.
        while copier.is_alive():
            copier.join(0.2)
    for copier in copiers:
        if copier.error is not None:
            raise copier.error


def job_exit_code(job: dict, messages: TextIO = sys.stderr) -> int:
    """The exit code for how the job ended, saying why on ``messages`` when it did
    not simply exit: the job's own code, or 124/125/126 for TIMED_OUT, CANCELLED and
    SERVER_ERROR."""
    job_id, status, reason = job["id"], job["status"], job.get("status_message")
    suffix = f": {reason}" if reason else ""
    if status == "COMPLETE":
        return ExitCode.OK
    if status == "FAILED":
        if reason:
            print(f"shell-service: job {job_id} FAILED{suffix}", file=messages)
        code = job.get("return_code")
        # An exit status is 1-255; anything else could read as success.
        return code if isinstance(code, int) and 0 < code < 256 else ExitCode.ERROR
    if status == "TIMED_OUT":
        print(
            f"shell-service: job {job_id} TIMED_OUT (timeout {job.get('timeout')} s){suffix}",
            file=messages,
        )
        return ExitCode.JOB_TIMED_OUT
    if status == "CANCELLED":
        print(f"shell-service: job {job_id} was CANCELLED{suffix}", file=messages)
        return ExitCode.JOB_CANCELLED
    print(f"shell-service: job {job_id} ended with {status}{suffix}", file=messages)
    return ExitCode.JOB_SERVER_ERROR


def wait_for_job(api: Api, job_id: str) -> int:
    """Follow a submitted job to its end: spinner, live output, then its exit code."""
    wait_while_queued(api, job_id, Spinner(sys.stderr))
    sys.stdout.flush()
    sys.stderr.flush()
    stream_output(api, job_id, sys.stdout.buffer, sys.stderr.buffer)
    return job_exit_code(api.get_job(job_id))
