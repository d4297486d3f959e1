"""A local job while it runs (``RunningJob``) and how it ended (``how_it_ended``),
read from its directory once its init has exited."""

import datetime
import signal
from dataclasses import dataclass

from ..job_states import JobStatus
from ..queue import JobOutput
from .cgroups import JobCgroup
from .job_files import JobFiles


@dataclass
class RunningJob:
    """A job this executor started or adopted, while it watches it.

    Attributes
    ----------
    id : str
    files : JobFiles
    started_at : datetime.datetime
        Naive UTC.
    deadline : datetime.datetime
        Naive UTC: ``started_at`` plus its timeout.
    cgroup : JobCgroup or None
    pidfd : int or None
        A pidfd of the job's init, once launched (the executor closes it).
    timed_out : bool
        The executor's timer ended it (a backup to the init's own).
    cancel_requested : bool
        A user asked to cancel it.
    taken : bool
        Taken from this executor (its host was judged lost): ended, not recorded.
    recording : bool
        Its end is being stored (``LocalExecutor._finish``, on another thread).
    """

    id: str
    files: JobFiles
    started_at: datetime.datetime
    deadline: datetime.datetime
    cgroup: JobCgroup | None = None
    # A pidfd of the job's init, once launched.
    pidfd: int | None = None
    timed_out: bool = False
    # A user asked to cancel it.
    cancel_requested: bool = False
    # Its queue (metrics are labelled with it).
    queue: str = "default"
    # Taken from this executor (its host was judged lost): ended, not recorded.
    taken: bool = False
    # Its end is being stored: from that statement on, the database no longer
    # shows it RUNNING here, yet it is watched until the store returns.
    recording: bool = False


def how_it_ended(
    running: RunningJob, max_output_bytes: int
) -> tuple[JobStatus, JobOutput, str | None, str | None]:
    """How a job whose init has exited ended, from its directory: its end record
    and output (and the cgroup an init killed early left, removed). Blocking.

    Parameters
    ----------
    running : RunningJob
    max_output_bytes : int
        Most bytes of each stream kept in the job's row (``jobs.max_output_bytes``).

    Returns
    -------
    tuple
        ``(status, output, message, limit)``: a final ``JobStatus``, a
        ``JobOutput``, the status message (str or None), and the limit that
        killed it ("timeout", "memory", "cpu" or None; for the metrics).
    """
    files = running.files
    stdout, stdout_cut = files.read_output(files.stdout, max_output_bytes)
    stderr, stderr_cut = files.read_output(files.stderr, max_output_bytes)
    record = files.read_end() or {}
    if running.cgroup and any(d.exists() for d in running.cgroup.dirs.values()):
        running.cgroup.remove()  # its init was killed before it could
    code = record.get("code")
    message: str | None = None
    limit: str | None = None
    if record.get("error") or record.get("exec_error"):
        status = JobStatus.SERVER_ERROR
        message = f"could not start the job: {record.get('error') or record['exec_error']}"
    elif running.cancel_requested:
        status = JobStatus.CANCELLED
    elif code is None:
        status = JobStatus.SERVER_ERROR
        message = "the job's init ended without recording how the job ended"
    elif record.get("timed_out", running.timed_out):
        # The init judges (was the script still running at the deadline?); an
        # init that was not given the timeout leaves it to the executor's timer.
        status = JobStatus.TIMED_OUT
        message = "ran past its timeout and was killed"
        limit = "timeout"
    elif code == 0:
        status = JobStatus.COMPLETE
    else:
        status = JobStatus.FAILED
        if record.get("out_of_memory"):
            message = "killed: out of memory (the job's memory_mb limit)"
            limit = "memory"
        elif code > 128:
            message = f"killed by signal {code - 128} ({signal_name(code - 128)})"
            if code - 128 == signal.SIGXCPU:
                message += ": CPU time limit reached"
                limit = "cpu"
    # Truncated: the row's copy is shorter than the output, or the init dropped
    # output past jobs.max_log_bytes (its record says which streams).
    truncated = {"stdout": stdout_cut, "stderr": stderr_cut}
    for name in truncated:
        if name in record.get("dropped", ()):
            truncated[name] = True
            note = f"{name} reached jobs.max_log_bytes; later output was dropped"
            message = f"{message}; {note}" if message else note
    output = JobOutput(code, stdout, stderr, truncated["stdout"], truncated["stderr"])
    return status, output, message, limit


def signal_name(number: int) -> str:
    """A signal's name.

    Parameters
    ----------
    number : int

    Returns
    -------
    str
        "SIGKILL", say, or "unknown signal".
    """
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown signal"
