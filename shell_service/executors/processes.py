"""What a job runs as and with: its limits, environment, command and script, and
watching or ending its init (``job_init.c``) through a pidfd."""

import asyncio
import os
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
    stdout and stderr (the job's init copies them), never the job's own files."""

    cpu_seconds: int
    address_space_bytes: int
    processes: int = 4096
    open_files: int = 1024
    core_bytes: int = 0

    def rlimits(self) -> dict[str, int]:
        """The limits by ``job_init.RLIMITS`` name."""
        return asdict(self)


def script_text(code: str, shell: str) -> str:
    """The script as the interpreter gets it. For POSIX shells a leading byte-order
    mark is dropped and CRLF line ends become LF (scripts saved on Windows would
    otherwise fail: ``\\ufeffecho: not found``, or carry ``\\r`` into every
    command's last argument); other interpreters get the script as stored."""
    if shell not in POSIX_SHELLS:
        return code
    return code.removeprefix("\ufeff").replace("\r\n", "\n")


def bwrap_sandbox(files: JobFiles, jobs_dir: Path) -> list[str]:
    """bubblewrap: no network, the system read-only, a private /tmp, and of the
    jobs directory only the job's own work directory."""
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
    """A clean environment, as a login on a cluster node gives: nothing of the
    service's reaches the job. The job's own ``env`` comes last (it may override
    these; it is applied only in the job's process, after it dropped to its user)."""
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
    """The job init's pid and start time from its directory, or None."""
    try:
        pid, started = files.wrapper_pid.read_text().split()
        return int(pid), int(started)
    except (FileNotFoundError, ValueError):
        return None


def open_job_init(files: JobFiles) -> int | None:
    """A pidfd of the job's init if it still runs (its pid and start time both
    match what it recorded: pids get reused), else None."""
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
    if now != started:
        os.close(fd)
        return None
    return fd


def end_job(pidfd: int) -> None:
    """Ask the job's init to end the job: TERM to all its processes, KILL after
    ``kill_grace``; the init then records the end and exits. The one way a job is
    ended (timeout, cancel, a disabled user, shutting the test server down)."""
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGTERM)
    except ProcessLookupError:
        pass


async def wait_for_pidfd(pidfd: int) -> None:
    """Wait until the process behind ``pidfd`` has ended (the fd turns readable)."""
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
