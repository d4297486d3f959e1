"""Programs the benchmark starts itself (the ceiling app, its NGINX, webhook), and
waiting until they answer. Each is stopped by the pid it was started with."""

import http.client
import signal
import socket
import subprocess
import time
from pathlib import Path

from baselayer.tools.readiness import http_status

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


class UnixHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to a server on the unix socket ``unix_path``."""

    def __init__(self, unix_path: Path, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = unix_path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self.unix_path))


def _status(url: str, unix_socket: Path | None) -> int:
    """The HTTP status ``url`` answers with (through ``unix_socket`` if given)."""
    if unix_socket is not None:
        connection = UnixHTTPConnection(unix_socket, timeout=2)
        try:
            connection.request("GET", url)
            return connection.getresponse().status
        finally:
            connection.close()
    status = http_status(url)  # the stack's own readiness probe
    if status is None:
        raise ConnectionError(f"{url}: no answer")
    return status


def wait_until_answers(
    url: str, programs: list[Program], timeout: float = 30, unix_socket: Path | None = None
) -> None:
    """Poll ``url`` until it answers with any HTTP status below 500.

    ``unix_socket``: the server's unix socket (``url`` is then a path, ``/api/...``).

    Raises
    ------
    BenchError
        When a program exits first, or nothing answers in time.
    """
    where = f"{unix_socket}:{url}" if unix_socket else url
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for program in programs:
            if not program.running():
                tail = program.log_path.read_text(errors="replace")[-2000:]
                raise BenchError(f"{program.name} exited ({program.process.returncode}):\n{tail}")
        try:
            if _status(url, unix_socket) < 500:
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.1)
    raise BenchError(f"nothing answered on {where} within {timeout:.0f} s")
