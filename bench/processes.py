"""Programs the benchmark starts itself (the ceiling app, its NGINX, webhook), and
waiting until they answer. Each is stopped by the pid it was started with."""

import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from .tools import BenchError


class Program:
    """One program run in its own session, its output appended to ``log_path``."""

    def __init__(self, name: str, command: list[str], log_path: Path, cwd: Path | None = None):
        self.name = name
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.log_path = log_path

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10) -> None:
        """TERM, then KILL after ``timeout`` seconds."""
        if not self.running():
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def wait_until_answers(url: str, programs: list[Program], timeout: float = 30) -> None:
    """Poll ``url`` until it answers with any HTTP status below 500.

    Raises
    ------
    BenchError
        When a program exits first, or nothing answers in time.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for program in programs:
            if not program.running():
                tail = program.log_path.read_text(errors="replace")[-2000:]
                raise BenchError(f"{program.name} exited ({program.process.returncode}):\n{tail}")
        try:
            with opener.open(url, timeout=2) as response:
                if response.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise BenchError(f"nothing answered on {url} within {timeout:.0f} s")
