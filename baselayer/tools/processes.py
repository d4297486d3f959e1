"""Small helpers about processes: by pid file, or by exact command line."""

import contextlib
import os
import signal
import time
from pathlib import Path


def read_pidfile(path: Path) -> int | None:
    """The pid on the first line of ``path``, or None if it is missing or unreadable."""
    try:
        return int(path.read_text().split("\n", 1)[0].strip())
    except (OSError, ValueError):
        return None


def process_runs(pid: int | None, name: str) -> bool:
    """Whether process ``pid`` exists and ``name`` appears in its command line.

    The name check guards against a stale pid file whose pid was reused.
    """
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return name.encode() in cmdline


def wait_until_gone(pid: int, name: str, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for process ``pid`` to exit; True if it did."""
    deadline = time.monotonic() + timeout
    while process_runs(pid, name):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def signal_pidfile_process(path: Path, name: str, signum: int, timeout: float) -> int | None:
    """Send ``signum`` to the live process named in ``path`` and wait for it to exit.

    Returns
    -------
    int or None
        The pid signalled, or None when no such process was running.
    """
    pid = read_pidfile(path)
    if pid is None or not process_runs(pid, name):
        return None
    os.kill(pid, signum)
    wait_until_gone(pid, name, timeout)
    return pid


def pids_with_command(argv: list[str]) -> list[int]:
    """Pids of the processes whose command line is exactly ``argv``."""
    wanted = b"\0".join(arg.encode() for arg in argv) + b"\0"
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "cmdline").read_bytes() == wanted:
                pids.append(int(entry.name))
        except OSError:
            continue  # it exited meanwhile, or is not ours to read
    return pids


def terminate(pids: list[int], timeout: float) -> None:
    """SIGTERM each pid, wait up to ``timeout`` seconds in all, then SIGKILL what is left."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(Path(f"/proc/{pid}/cmdline").exists() for pid in pids):
        if time.monotonic() > deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.1)
