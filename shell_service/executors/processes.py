"""What a job runs as and with: its limits, environment, command and script, and
watching or ending its init (``job_init.c``) through a pidfd."""

import asyncio
import os
import select
import shutil
import signal
from dataclasses import asdict, dataclass
from pathlib import Path

from ..shells import BASE_PATH, available_shells  # noqa: F401 (the executor's names)
from .job_files import JobFiles
from .job_init import process_start_time

#: Interpreters whose scripts get Windows line ends and a byte-order mark removed.
POSIX_SHELLS = ("sh", "bash", "dash", "ksh", "zsh")


@dataclass(frozen=True)
class Limits:
    """Per-job rlimits, set on the job's process before it drops to its user.

    ``processes`` (RLIMIT_NPROC) counts every process of the job's Unix user, all
    of that user's jobs together: it is a safety net; the per-job process limit is
    the cgroup's ``pids.max``. No file-size limit: ``jobs.max_log_bytes`` caps only
    stdout and stderr (the job's init copies them), never the job's own files.

    Attributes
    ----------
    cpu_seconds : int
        CPU time, seconds (RLIMIT_CPU).
    address_space_bytes : int
        Virtual memory, bytes (RLIMIT_AS).
    processes : int
        RLIMIT_NPROC, per Unix user.
    open_files : int
        RLIMIT_NOFILE.
    core_bytes : int
        RLIMIT_CORE, bytes (0: no core dumps).
    """

    cpu_seconds: int
    address_space_bytes: int
    processes: int = 4096
    open_files: int = 1024
    core_bytes: int = 0

    def rlimits(self) -> dict[str, int]:
        """The limits by ``job_init.RLIMITS`` name.

        Returns
        -------
        dict of str to int
            The attributes above, by name.
        """
        return asdict(self)


def script_text(code: str, shell: str) -> str:
    r"""The script as the interpreter gets it.

    For POSIX shells a leading byte-order mark is dropped and CRLF line ends
    become LF (scripts saved on Windows would otherwise fail: ``\ufeffecho: not
    found``, or carry ``\r`` into every command's last argument); other
    interpreters get the script as stored.

    Parameters
    ----------
    code : str
        The script as stored.
    shell : str
        The interpreter's name.

    Returns
    -------
    str
    """
    if shell not in POSIX_SHELLS:
        return code
    return code.removeprefix("\ufeff").replace("\r\n", "\n")


def bwrap_sandbox(files: JobFiles, jobs_dir: Path) -> list[str]:
    """The bubblewrap command a sandboxed job's command runs under.

    No network, the system read-only, a private /tmp, and of the jobs directory
    only the job's own work directory.

    Parameters
    ----------
    files : JobFiles
        The job's files (its ``work`` directory is bound and is the cwd).
    jobs_dir : Path
        Hidden under an empty tmpfs.

    Returns
    -------
    list of str
        ``bwrap`` by absolute path, its options, and ``--``.
    """
    work = str(files.work)
    return [
        shutil.which("bwrap", path=BASE_PATH) or "/usr/bin/bwrap",
        "--ro-bind", "/", "/",
        "--dev", "/dev",
        "--proc", "/proc",
        "--tmpfs", "/tmp",
        "--tmpfs", str(jobs_dir),
        "--bind", work, work,
        "--chdir", work,
        "--unshare-net", "--unshare-ipc", "--unshare-uts",
        "--new-session",
        "--",
    ]  # fmt: skip


def job_environment(
    job_id: str, user: str, home: str, login_shell: str, extra: dict[str, str]
) -> dict[str, str]:
    """A clean environment, as a login on a cluster node gives.

    Nothing of the service's reaches the job. The job's own ``env`` comes last
    (it may override these; it is applied only in the job's process, after it
    dropped to its user).

    Parameters
    ----------
    job_id : str
    user : str
        The Unix account's name (``USER``, ``LOGNAME``).
    home : str
    login_shell : str
        ``SHELL``.
    extra : dict of str to str
        The job's own ``env``.

    Returns
    -------
    dict of str to str
        ``PATH``, ``HOME``, ``USER``, ``LOGNAME``, ``SHELL``, ``LANG``,
        ``SHELL_SERVICE_JOB_ID``, then ``extra``.
    """
    env = {
        "PATH": BASE_PATH,
        "HOME": home,
        "USER": user,
        "LOGNAME": user,
        "SHELL": login_shell,
        "LANG": "C.UTF-8",
        "SHELL_SERVICE_JOB_ID": job_id,
    }
    env.update(extra)
    return env


def read_init_pid(files: JobFiles) -> tuple[int, int] | None:
    """The job init's pid and start time, from ``wrapper.pid`` in its directory.

    Parameters
    ----------
    files : JobFiles

    Returns
    -------
    tuple of (int, int) or None
        ``(pid, start time in clock ticks since boot)``; None when the file is
        missing or malformed.
    """
    try:
        pid, started = files.wrapper_pid.read_text().split()
        return int(pid), int(started)
    except (FileNotFoundError, ValueError):
        return None


def open_job_init(files: JobFiles) -> int | None:
    """A pidfd of the job's init if it still runs.

    It still runs when its pid and start time both match what it recorded (pids
    get reused) and it has not exited: an init that exited and is not reaped yet
    (a zombie, its pidfd already readable) does not run; its end record says how
    the job ended. (A retry's next attempt on the same host finds the last
    attempt's init so, moments after its end.)

    Parameters
    ----------
    files : JobFiles

    Returns
    -------
    int or None
        The pidfd (the caller closes it), or None.
    """
    recorded = read_init_pid(files)
    if recorded is None:
        return None
    pid, started = recorded
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    try:
        now = process_start_time(pid)
    except (OSError, ValueError):
        now = None
    if now != started or select.select([fd], [], [], 0)[0]:
        os.close(fd)
        return None
    return fd


def end_job(pidfd: int) -> None:
    """Ask the job's init to end the job (SIGTERM to the init).

    The init sends TERM to all the job's processes, KILL after ``kill_grace``, then
    records the end and exits. The one way a job is ended (timeout, cancel, a
    disabled user, shutting the test server down). An init that has exited
    already is no error.

    Parameters
    ----------
    pidfd : int
        A pidfd of the job's init.
    """
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGTERM)
    except ProcessLookupError:
        pass


async def wait_for_pidfd(pidfd: int) -> None:
    """Wait until the process behind ``pidfd`` has ended (the fd turns readable).

    Parameters
    ----------
    pidfd : int
        Watched on the running event loop; not closed here.
    """
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def ended() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(pidfd, ended)
    try:
        await done
    finally:
        loop.remove_reader(pidfd)
