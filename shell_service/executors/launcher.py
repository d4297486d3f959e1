"""The launcher: one small, long-lived, single-threaded process per executor that
starts jobs by forking, never by running a program of its own.

The executor (``launcher_client.LauncherClient``) sends it one request per job over a unix
socket. For each, it forks a *job init* (``job_init.run``) as process 1 of a
new PID namespace and hands the executor back a pidfd of it. The job init does
the rest on its own (in parallel with the next launches): the job's directory,
cgroup, mount namespace, output pipes; it forks the job itself, which drops to
the job's user and execs the shell; it copies the job's output to its files
up to the cap, and when the script's main process ends it ends every other
process of the job (TERM, ``kill_grace``, KILL), writes the job's end record
and exits. The executor watches the pidfd; when it turns readable the job
has ended and its record is final.

Why a process of its own: forking the executor (threads, a database
connection, megabytes of heap) is unsafe and slow; a fresh program per job
(the old dash wrapper and setpriv) cost three program starts. This process
imports little (not asyncio: the executor's side of the protocol is
``launcher_client.py``), freezes its heap for copy-on-write, and forks in a
quarter of a millisecond.

Protocol: each request is a 4-byte big-endian length and that many bytes of
JSON (a ``job_init`` request); each reply is exactly ``REPLY_BYTES`` of
space-padded JSON, ``{"id", "pid"}`` with the pidfd attached (SCM_RIGHTS), or
``{"id", "error"}``. The launcher exits when the executor's end of the socket
closes; jobs it started go on (their init does not depend on it).
"""

import ctypes
import gc
import json
import os
import select
import signal
import socket
import struct
import sys

from . import job_init

REPLY_BYTES = 256

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWPID = 0x20000000


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def can_use_pid_namespaces() -> bool:
    """Whether this process may make PID namespaces (root, or CAP_SYS_ADMIN)."""
    own = os.open("/proc/self/ns/pid", os.O_RDONLY)
    try:
        if _libc.unshare(CLONE_NEWPID) != 0:
            return False
        _check(_libc.setns(own, CLONE_NEWPID), "setns")
        return True
    finally:
        os.close(own)


class Launcher:
    """The launcher's side: reads requests, forks job inits, replies with pidfds."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.pid_namespaces = can_use_pid_namespaces()
        self.own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)

    def fork_job_init(self, request: dict) -> int:
        """Prepare the job (``job_init.prepare``) and fork its init (in a new PID
        namespace when we may); the init's pid here. Raises OSError (or whatever a
        malformed request makes ``prepare`` raise): ``serve`` answers it as this
        job's error and goes on."""
        prepared = job_init.prepare(request)
        pid = None
        try:
            if self.pid_namespaces:
                # The next child becomes process 1 of a new namespace; then our own
                # children go back to ours (setns): each job gets a namespace of its own.
                _check(_libc.unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)")
            # SIGTERM (the executor's "end the job") stays pending until the init has
            # its handler: process 1 of a namespace ignores a signal it has none for.
            signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])
            try:
                pid = os.fork()
            finally:
                if pid != 0:
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])
                    if self.pid_namespaces:
                        _check(_libc.setns(self.own_pid_ns, CLONE_NEWPID), "setns")
            if pid == 0:
                code = 1
                try:
                    self.sock.close()
                    os.close(self.own_pid_ns)
                    code = job_init.run(request, prepared, pid_namespace=self.pid_namespaces)
                finally:
                    os._exit(code)
            job_init.record_init_pid(prepared, pid)
        finally:
            if pid != 0:
                prepared.close()
        return pid

    def reply(self, message: dict, fds: list[int] = ()) -> None:
        data = json.dumps(message).encode()
        if len(data) > REPLY_BYTES:
            data = json.dumps({"id": message.get("id"), "error": "reply too long"}).encode()
        socket.send_fds(self.sock, [data.ljust(REPLY_BYTES)], list(fds))

    def serve(self) -> None:
        """Launch until the executor closes its end of the socket."""
        # Our heap is shared copy-on-write with every job init: keep the
        # collector from touching (and so copying) it in each of them.
        gc.collect()
        gc.freeze()
        while True:
            ready, _, _ = select.select([self.sock], [], [], 1.0)
            self.reap()
            if not ready:
                continue
            request = read_frame(self.sock)
            if request is None:
                return
            job_id = request.get("id")
            try:
                pid = self.fork_job_init(request)
            except Exception as exc:  # this job could not start; the next may
                self.reply({"id": job_id, "error": f"{type(exc).__name__}: {exc}"[:200]})
                continue
            pidfd = os.pidfd_open(pid)
            try:
                self.reply({"id": job_id, "pid": pid}, [pidfd])
            finally:
                os.close(pidfd)

    @staticmethod
    def reap() -> None:
        """Collect ended job inits (the executor watches them through pidfds)."""
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return


def read_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks, remaining = [], size
    while remaining:
        chunk = sock.recv(remaining)
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(sock: socket.socket) -> dict | None:
    """One length-prefixed JSON request, or None at the end of the stream."""
    header = read_exactly(sock, 4)
    if header is None:
        return None
    body = read_exactly(sock, struct.unpack(">I", header)[0])
    return None if body is None else json.loads(body)


def frame(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return struct.pack(">I", len(body)) + body


def main() -> None:
    sock = socket.socket(fileno=int(sys.argv[1]))
    sock.setblocking(True)
    os.chdir("/")
    os.umask(0o022)  # the modes job directories are made with are exact
    Launcher(sock).serve()
