"""The executor's side of the launcher protocol (``launcher.py``): start the
launcher and ask it for jobs, from the executor's event loop."""

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

from .init_program import PROGRAM
from .launcher import REPLY_BYTES, frame

log = logging.getLogger(__name__)

#: The code this package is in (by absolute path, not from the environment).
PACKAGE_PARENT = Path(__file__).resolve().parents[2]
LAUNCHER_MAIN = (
    f"import sys; sys.path.insert(0, {str(PACKAGE_PARENT)!r}); "
    "from shell_service.executors.launcher import main; main()"
)
#: The launcher's whole environment: nothing of the executor's reaches it.
LAUNCHER_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


class LaunchError(Exception):
    """The launcher could not start a job (the message says why)."""


class LauncherClient:
    """The executor's side: starts the launcher and asks it for jobs.

    ``launch`` is a coroutine: requests go out in order and replies come back in
    the same order, each with the job init's pidfd. Not thread-safe: use it from
    the executor's event loop only. A launcher that died is replaced at the next
    launch.

    Attributes
    ----------
    process : subprocess.Popen
        The launcher now.

    Raises
    ------
    SystemExit
        The job init program (``init_program.PROGRAM``) is not built.
    """

    def __init__(self):
        if not os.access(PROGRAM, os.X_OK):
            raise SystemExit(f"The job init {PROGRAM} is not built: run make run (it builds it)")
        self.process: subprocess.Popen  # set by _start
        self._start()

    def _start(self) -> None:
        """A new launcher, and a socket to it."""
        self.sock, launcher_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        # The launcher is one of ours: our interpreter by absolute path, a fixed
        # environment, and only its end of the socket.
        self.process = subprocess.Popen(
            [sys.executable, "-E", "-s", "-c", LAUNCHER_MAIN, str(launcher_end.fileno())],
            pass_fds=[launcher_end.fileno()],
            env=LAUNCHER_ENV,
            cwd="/",
            stdin=subprocess.DEVNULL,
        )
        launcher_end.close()
        self.sock.setblocking(False)
        self._waiting: list[asyncio.Future] = []
        self._buffer = b""
        self._fds: list[int] = []
        self._reading = False
        self._lock = asyncio.Lock()

    def _restart_if_gone(self) -> None:
        """A launcher that died (killed, crashed) is replaced: the jobs it started
        go on under their inits; the next ones need a launcher."""
        if self.process.poll() is None:
            return
        log.error("The launcher exited (%s); starting another", self.process.returncode)
        self._stop_reading()
        self.sock.close()
        self._start()

    def _stop_reading(self) -> None:
        if self._reading:
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
            self._reading = False

    async def launch(self, request: dict) -> tuple[int, int]:
        """Start one job.

        Parameters
        ----------
        request : dict
            A launch request (``launch.JobLaunch.request``).

        Returns
        -------
        tuple of (int, int)
            The init's pid and a pidfd of it (the caller closes it).

        Raises
        ------
        LaunchError
            The launcher refused (the message says why) or is gone.
        """
        loop = asyncio.get_running_loop()
        self._restart_if_gone()
        if not self._reading:
            loop.add_reader(self.sock.fileno(), self._read_replies)
            self._reading = True
        reply = loop.create_future()
        async with self._lock:  # one frame at a time on the stream
            self._waiting.append(reply)
            try:
                await loop.sock_sendall(self.sock, frame(request))
            except OSError as exc:
                self._waiting.remove(reply)
                raise LaunchError(f"the launcher is gone: {exc}") from exc
        message, fds = await reply
        if "error" in message:
            for fd in fds:
                os.close(fd)
            raise LaunchError(message["error"])
        return message["pid"], fds[0]

    def _read_replies(self) -> None:
        """Read every reply there is (the socket is readable); at the end of the
        stream (the launcher exited) fail the waiting launches."""
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(self.sock, REPLY_BYTES - len(self._buffer), 1)
            except BlockingIOError:
                return
            except OSError as exc:
                data, fds = b"", []
                error = str(exc)
            else:
                error = "the launcher exited"
            if not data:
                # The launcher is gone: its socket stays readable (at its end),
                # so stop watching it; the next launch starts another.
                self._stop_reading()
                for pending in self._waiting:
                    if not pending.done():
                        pending.set_result(({"error": error}, []))
                self._waiting.clear()
                return
            self._buffer += data
            self._fds += fds
            if len(self._buffer) == REPLY_BYTES:
                message = json.loads(self._buffer)
                self._buffer, received, self._fds = b"", self._fds, []
                waiting = self._waiting.pop(0) if self._waiting else None
                if waiting is not None and not waiting.done():
                    waiting.set_result((message, received))
                else:
                    for fd in received:
                        os.close(fd)

    def close(self) -> None:
        """Close our end: the launcher exits; running jobs go on."""
        try:
            self._stop_reading()
        except RuntimeError:  # no running loop
            pass
        self.sock.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
