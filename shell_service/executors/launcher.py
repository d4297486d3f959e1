"""The launcher: one small, long-lived, single-threaded process per executor that
starts job inits, and nothing else.

The executor (``launcher_client.LauncherClient``) sends it one request per job over a unix
socket. For each, it makes the job's (empty) directory and its cgroup
(``job_init.prepare``), then starts a *job init* (``job_init.c``, built into
``build/job_init``) with ``posix_spawn``: by absolute path, with an empty
environment, as process 1 of a new PID namespace, holding the descriptors it
needs and the request (``job_init.encode_request``) in an anonymous file. It
hands the executor back a pidfd of the init. The init does the rest on its
own (in parallel with the next launches): the job's mounts, output pipes; it
forks the job itself, which drops to the job's user and execs the shell; it
copies the job's output to its files up to the cap, and when the script's main
process ends it ends every other process of the job (TERM, ``kill_grace``,
KILL), writes the job's end record and exits. The executor watches the pidfd;
when it turns readable the job has ended and its record is final.

Why a process of its own: the executor (threads, a database connection,
megabytes of heap) cannot fork safely or cheaply. ``posix_spawn`` here is a
vfork: the launcher's memory is never copied, whatever its size.

Protocol: each request is a 4-byte big-endian length and that many bytes of
JSON (the shape of ``launch.JobLaunch.request``); each reply is exactly
``REPLY_BYTES`` of space-padded JSON, ``{"id", "pid"}`` with the pidfd attached
(SCM_RIGHTS), or ``{"id", "error"}``. The launcher exits when the executor's
end of the socket closes; jobs it started go on (their init does not depend
on it).
"""

import contextlib
import ctypes
import fcntl
import json
import os
import select
import signal
import socket
import struct
import sys
from collections.abc import Sequence

from . import job_init
from .init_program import PROGRAM

REPLY_BYTES = 256
#: Above every descriptor number the init is given (``job_init.JOB_INIT_FDS``).
FIRST_FREE_FD = 10

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWPID = 0x20000000


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def can_use_pid_namespaces() -> bool:
    """Whether this process may make PID namespaces (root, or CAP_SYS_ADMIN).

    Tries it (unshare, then setns back to its own).

    Returns
    -------
    bool

    Raises
    ------
    OSError
        It made one but could not go back to its own (setns failed).
    """
    own = os.open("/proc/self/ns/pid", os.O_RDONLY)
    try:
        if _libc.unshare(CLONE_NEWPID) != 0:
            return False
        _check(_libc.setns(own, CLONE_NEWPID), "setns")
        return True
    finally:
        os.close(own)


class Launcher:
    """The launcher's side: reads requests, starts job inits, replies with pidfds.

    Parameters
    ----------
    sock : socket.socket
        Its end of the socket pair with the executor (blocking).
    """

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.pid_namespaces = can_use_pid_namespaces()
        self.own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        self.devnull = fcntl.fcntl(devnull, fcntl.F_DUPFD_CLOEXEC, FIRST_FREE_FD)
        os.close(devnull)

    def start_job_init(self, request: dict) -> int:
        """Prepare the job (``job_init.prepare``) and start its init (``job_init.c``).

        In a new PID namespace when we may.

        Parameters
        ----------
        request : dict
            One launch request (``launch.JobLaunch.request``).

        Returns
        -------
        int
            The init's pid (in our namespace).

        Raises
        ------
        OSError, ValueError
            Or whatever a malformed request makes ``prepare`` raise: ``serve``
            answers it as this job's error and goes on.
        """
        encoded = job_init.encode_request(request, self.pid_namespaces)
        prepared = job_init.prepare(request)
        pid = None
        try:
            with contextlib.ExitStack() as stack:
                fds = job_init.JOB_INIT_FDS
                given = {
                    fds["root"]: prepared.root_fd,
                    fds["request"]: stack.enter_context(anonymous_file("request", encoded)),
                    fds["script"]: stack.enter_context(
                        anonymous_file("script", request["script"].encode())
                    ),
                }
                if request.get("stdin"):
                    given[fds["stdin"]] = stack.enter_context(
                        anonymous_file("stdin", request["stdin"].encode())
                    )
                # The actions run in order: a source numbered like an earlier target
                # would be replaced before its turn. Sources above every target.
                given = {to: stack.enter_context(above(fd)) for to, fd in given.items()}
                file_actions = [(os.POSIX_SPAWN_DUP2, self.devnull, fd) for fd in (0, 1, 2)]
                file_actions += [(os.POSIX_SPAWN_DUP2, fd, to) for to, fd in given.items()]
                if self.pid_namespaces:
                    # The next child becomes process 1 of a new namespace; then our own
                    # children go back to ours (setns): each job gets a namespace of its own.
                    _check(_libc.unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)")
                try:
                    # By absolute path, with nothing in its environment. SIGTERM (the
                    # executor's "end the job") stays pending until the init listens:
                    # process 1 of a namespace ignores a signal it has no handler for.
                    # Its own process group: supervisor's stop does not reach jobs.
                    pid = os.posix_spawn(
                        str(PROGRAM),
                        [str(PROGRAM)],
                        {},
                        file_actions=file_actions,
                        setpgroup=0,
                        setsigmask=[signal.SIGTERM],
                        setsigdef=[signal.SIGPIPE, signal.SIGXFSZ],
                    )
                finally:
                    if self.pid_namespaces:
                        _check(_libc.setns(self.own_pid_ns, CLONE_NEWPID), "setns")
            job_init.record_init_pid(prepared, pid)
        finally:
            prepared.close()
        return pid

    def reply(self, message: dict, fds: Sequence[int] = ()) -> None:
        """Send ``message`` padded to exactly REPLY_BYTES, with ``fds`` attached (SCM_RIGHTS).

        Replies come back in the order of the requests: a reply too long loses its
        ``id`` first, then the end of its ``error``.

        Parameters
        ----------
        message : dict
            ``{"id", "pid"}`` or ``{"id", "error"}``.
        fds : sequence of int, optional
            Descriptors to pass (the caller closes its own).
        """
        data = json.dumps(message).encode()
        if len(data) > REPLY_BYTES:
            message = {key: value for key, value in message.items() if key != "id"}
            data = json.dumps(message).encode()
        while len(data) > REPLY_BYTES and message.get("error"):
            message["error"] = message["error"][: len(message["error"]) - 16]
            data = json.dumps(message).encode()
        socket.send_fds(self.sock, [data.ljust(REPLY_BYTES)], list(fds))

    def serve(self) -> None:
        """Launch until the executor closes its end of the socket.

        A request that fails (not JSON, not an object, or the job cannot start) is
        answered with its error; the next one is served.
        """
        while True:
            ready, _, _ = select.select([self.sock], [], [], 1.0)
            self.reap()
            if not ready:
                continue
            try:
                request = read_frame(self.sock)
            except ValueError as exc:  # not JSON: this request fails, the stream goes on
                self.reply({"error": f"a request that is not JSON: {exc}"[:200]})
                continue
            if request is None:
                return
            job_id = request.get("id") if isinstance(request, dict) else None
            try:
                if not isinstance(request, dict):
                    raise ValueError("a request must be a JSON object")
                pid = self.start_job_init(request)
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


@contextlib.contextmanager
def above(fd: int, lowest: int = FIRST_FREE_FD):
    """``fd`` numbered at least ``lowest`` (a context manager).

    Parameters
    ----------
    fd : int
    lowest : int, optional

    Yields
    ------
    int
        ``fd`` itself when its number is at least ``lowest``, else a copy numbered
        so (closed on exit; the original is the caller's to close).
    """
    if fd >= lowest:
        yield fd
        return
    copy = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, lowest)
    try:
        yield copy
    finally:
        os.close(copy)


@contextlib.contextmanager
def anonymous_file(name: str, data: bytes):
    """An anonymous file (memfd) holding ``data`` (a context manager; closed on exit).

    The init reads it from its start; a pipe could not hold a large script before
    the init starts.

    Parameters
    ----------
    name : str
        Shown as ``memfd:job-<name>``.
    data : bytes

    Yields
    ------
    int
        Its descriptor.
    """
    fd = os.memfd_create(f"job-{name}", os.MFD_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        yield fd
    finally:
        os.close(fd)


def read_exactly(sock: socket.socket, size: int) -> bytes | None:
    """``size`` bytes from the blocking ``sock``.

    Parameters
    ----------
    sock : socket.socket
    size : int
        Bytes.

    Returns
    -------
    bytes or None
        None at the end of the stream.
    """
    chunks, remaining = [], size
    while remaining:
        chunk = sock.recv(remaining)
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(sock: socket.socket) -> dict | None:
    """One length-prefixed JSON request.

    Parameters
    ----------
    sock : socket.socket

    Returns
    -------
    object or None
        The decoded JSON (a dict, for a well-formed request); None at the end of
        the stream.

    Raises
    ------
    ValueError
        The body is not JSON (it has been read: the next frame follows).
    """
    header = read_exactly(sock, 4)
    if header is None:
        return None
    body = read_exactly(sock, struct.unpack(">I", header)[0])
    return None if body is None else json.loads(body)


def frame(message: dict) -> bytes:
    """``message`` as one request on the wire.

    Parameters
    ----------
    message : dict
        JSON-able.

    Returns
    -------
    bytes
        A 4-byte big-endian length, then the JSON.
    """
    body = json.dumps(message).encode()
    return struct.pack(">I", len(body)) + body


def main() -> None:
    """The launcher program: serve on the socket whose descriptor is ``argv[1]``."""
    sock = socket.socket(fileno=int(sys.argv[1]))
    sock.set_inheritable(False)  # passed to us inheritable; no job init may hold it
    sock.setblocking(True)
    os.chdir("/")
    os.umask(0o022)  # the modes job directories are made with are exact
    job_init.set_process_name("shell_svc-launch")
    Launcher(sock).serve()
