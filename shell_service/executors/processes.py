"""Starting a job's wrapper with its limits, and ending a job's whole process tree."""

import asyncio
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .job_files import JobFiles

WRAPPER = Path(__file__).with_name("job_wrapper.sh")
#: The wrapper is written for dash (its ulimit flags; Debian and Ubuntu have it).
WRAPPER_SHELL = "/bin/dash"
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True)
class Limits:
    """Per-job rlimits; the wrapper sets them on itself and the job inherits them."""

    cpu_seconds: int
    address_space_bytes: int
    file_size_bytes: int
    processes: int = 512
    open_files: int = 1024

    def ulimit_settings(self) -> str:
        """The limits as the wrapper's dash ``ulimit`` settings (flag=value), one argument."""
        return " ".join(
            [
                f"t={self.cpu_seconds}",
                f"v={self.address_space_bytes // 1024}",
                # 512-byte blocks, rounded up: the file may reach the byte limit.
                f"f={-(-self.file_size_bytes // 512)}",
                f"p={self.processes}",
                f"n={self.open_files}",
                "c=0",
            ]
        )


def available_shells(names: list[str]) -> list[str]:
    """The configured interpreters that are installed here, in config order."""
    return [name for name in names if shutil.which(name, path=BASE_PATH)]


def bwrap_sandbox(files: JobFiles, jobs_dir: Path) -> list[str]:
    """bubblewrap: no network, the system read-only, a private /tmp, and of the
    jobs directory only the job's own work directory."""
    work = str(files.work)
    return [
        shutil.which("bwrap") or "bwrap",
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


def job_command(shell: str, args: list[str], uid: int | None, sandbox: list[str] = ()) -> list[str]:
    """The command the wrapper runs: the shell on the script, as the job's uid if
    given, inside the sandbox if given."""
    shell_path = shutil.which(shell, path=BASE_PATH) or shell
    command = [*sandbox, shell_path, "./script", *args]
    if uid is None:
        return command
    return [
        "setpriv",
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--",
        *command,
    ]


def job_environment(job_id: str, files: JobFiles, extra: dict[str, str]) -> dict[str, str]:
    """A clean environment: nothing of the service's reaches the job."""
    env = {
        "PATH": BASE_PATH,
        "HOME": str(files.work),
        "LANG": "C.UTF-8",
        "SHELL_SERVICE_JOB_ID": job_id,
    }
    env.update(extra)
    return env


def start_wrapper(
    files: JobFiles,
    command: list[str],
    env: dict[str, str],
    limits: Limits,
    cgroup_procs: list[Path] = (),
) -> subprocess.Popen:
    """The wrapper in a process group of its own, its stdio the job's files, cwd the
    job's work dir.

    A process group, not a new session: where the kernel groups CPU time by
    session (``sched_autogroup``, on in Debian's kernels), each new session
    weighs as much as the whole service, whatever its niceness, until the
    wrapper joins the job's CPU cgroup; on a host without cgroups, for the
    job's whole life. In the executor's session the job keeps ``jobs.nice``.

    Blocking (it makes the output files and forks): the executor calls it in a
    thread, and watches the process with ``wait_for_child``."""
    cgroups = ":".join(str(p) for p in cgroup_procs) or "-"
    with (
        open(files.stdin if files.stdin.exists() else os.devnull, "rb") as stdin,
        open(files.open_output(files.stdout), "wb") as stdout,
        open(files.open_output(files.stderr), "wb") as stderr,
    ):
        return subprocess.Popen(
            [
                WRAPPER_SHELL,
                str(WRAPPER),
                str(files.root),
                cgroups,
                limits.ulimit_settings(),
                *command,
            ],
            cwd=files.work,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            env=env,
            process_group=0,
        )


async def wait_for_child(process: subprocess.Popen) -> int:
    """Wait for our child ``process`` to end (a pidfd turns readable); its exit code
    (-N for signal N)."""
    await wait_for_exit(process.pid)
    return process.wait()


def pids_of_uid(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except FileNotFoundError:
                pass
    return pids


def signal_job(sig: int, *, uid: int | None, wrapper_pid: int | None) -> int:
    """Send ``sig`` to every process of the job; returns how many were signalled.

    With a per-job uid that is every process of that uid, however it detached
    (background, nohup, setsid); the root wrapper survives to record the exit.
    Without one, the wrapper's process group.
    """
    count = 0
    if uid is not None:
        # Repeat: a process may fork between the scan and the signal.
        for _ in range(5):
            pids = pids_of_uid(uid)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, sig)
                    count += 1
                except ProcessLookupError:
                    pass
            if sig != signal.SIGKILL:
                break
    elif wrapper_pid:
        try:
            os.killpg(wrapper_pid, sig)
            count += 1
        except ProcessLookupError:
            pass
    return count


def wrapper_alive(pid: int | None, files: JobFiles) -> bool:
    """Whether ``pid`` is still this job's wrapper (pids get reused)."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return str(files.root).encode() in f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False


async def wait_for_exit(pid: int) -> None:
    """Wait until a process that is not our child ends (a pidfd turns readable)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.add_reader(fd, lambda: done.done() or done.set_result(None))
    try:
        await done
    finally:
        loop.remove_reader(fd)
        os.close(fd)
