"""A job's init: the root process that prepares, runs, contains and ends one job.

Forked by the launcher (``launcher.py``), as process 1 of the job's own PID
namespace when the host allows (root). Everything here runs with the service's
rights, so it follows the privilege boundary (ARCHITECTURE.md):

- it names programs by absolute path and starts none but the job's interpreter;
- it never reads, follows or writes anything the job can write: it makes the
  job's directory fresh (root-owned), writes the script before handing the
  work directory to the job's user, and only ever writes files in the
  root-owned job directory and the cgroup tree;
- the job's ``env`` is used only in ``execve`` of the job's interpreter,
  after the job's process has dropped to the job's user.

The job's life here:

1. (``prepare``, in the launcher before the fork) the job directory
   (``JobFiles``), its output files and its cgroup with its limits; (here) a
   private mount namespace with a fresh ``/proc`` (only the job's processes)
   and the user's own ``/tmp``;
2. fork the job: rlimits, stdio (stdin file, output pipes), into its cgroup
   (so all it forks is inside, and the init is not: the OOM killer never picks
   it), the user's groups, gid and uid, no new privileges, umask, then
   ``execve`` the shell;
3. copy the job's output from the pipes to ``stdout``/``stderr`` up to
   ``max_log_bytes`` each (only the output is capped, not the job's files);
4. when the job's main process ends, or SIGTERM arrives from the executor
   (timeout, cancel, a disabled user), end every other process of the job:
   TERM, up to ``kill_grace`` seconds, then KILL. As process 1 of the
   namespace this process is every orphan's parent, and its exit kills
   whatever is left, so nothing outlives the job (not even ``setsid``
   daemons). Without a PID namespace (not root) it is a child subreaper and
   ends its descendants one by one;
5. write the end record (``exit_status``: exit code, the streams whose output
   passed the cap, whether the cgroup saw an out-of-memory kill, or the error
   that kept the job from starting),
   remove the cgroup, and exit. The job's output is final then.
"""

import ctypes
import gc
import json
import os
import resource
import select
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from ..utf8 import whole_characters

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
#: Bytes read from an output pipe at a time.
PIPE_CHUNK = 65536
#: Exit status when the job's interpreter could not be executed (as sh does).
EXEC_FAILED = 127

RLIMITS = {
    "cpu_seconds": resource.RLIMIT_CPU,
    "address_space_bytes": resource.RLIMIT_AS,
    "processes": resource.RLIMIT_NPROC,
    "open_files": resource.RLIMIT_NOFILE,
    "core_bytes": resource.RLIMIT_CORE,
}


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def mount(source: str, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    _check(
        _libc.mount(
            source.encode(), target.encode(), fstype and fstype.encode(), flags, data.encode()
        ),
        f"mount {target}",
    )


def write_end(root_fd: int, record: dict) -> None:
    """The end record, in one write, in the job directory open as ``root_fd`` (paths
    may mean other things in the job's mounts). A reader that races the write
    sees a record it cannot parse, as if there were none (``JobFiles.read_end``),
    and looks again once this process has exited."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    fd = os.open("exit_status", flags, 0o600, dir_fd=root_fd)
    try:
        os.write(fd, json.dumps(record).encode())
    finally:
        os.close(fd)


def process_start_time(pid: str | int = "self") -> int:
    """Field 22 of /proc/<pid>/stat (clock ticks since boot): with the pid, it names
    one process for ever (pids are reused)."""
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rpartition(")")[2].split()[19])


# ---- 1. before the job -------------------------------------------------------------
def prepare_directory(request: dict) -> tuple[int, int]:
    """A fresh job directory (``job_files.JobFiles`` names its files): root 0711,
    ``work/`` with the script, handed to the job's user only once written.
    File descriptors of the directory and of ``work/``."""
    root = Path(request["root"])
    if os.path.lexists(root):  # a rerun under the same id: start clean
        shutil.rmtree(root)  # fd-based, never follows the job's symlinks
    root.mkdir(mode=0o711)  # exact: the launcher's umask is 022
    work = root / "work"
    work.mkdir(mode=0o700)
    script = work / "script"
    fd = os.open(script, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(request["script"])
    if request.get("stdin"):
        fd = os.open(root / "stdin", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(request["stdin"])
    if request.get("uid") is not None:
        os.chown(script, request["uid"], request["gid"])
        os.chown(work, request["uid"], request["gid"])
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    return os.open(root, flags), os.open(work, flags)


def make_cgroup(cgroup: dict) -> list[Path]:
    """Make the job's cgroup directories with their limits (the job's process moves
    itself in before it execs, so everything the job forks is inside); the
    directories."""
    dirs = [Path(d) for d in cgroup["dirs"]]
    for parent in cgroup.get("enable_in", []):  # cgroup v2: let the jobs' group use controllers
        for controller in ("memory", "pids", "cpu"):
            try:
                Path(parent, "cgroup.subtree_control").write_text(f"+{controller}")
            except OSError:
                pass
    for directory in dirs:
        try:
            directory.rmdir()  # one a killed init left: its limits must not carry over
        except OSError:
            pass
        directory.mkdir(parents=True, exist_ok=True)
    for path, value, optional in cgroup["limits"]:
        try:
            Path(path).write_text(str(value))
        except OSError:
            if not optional:
                raise
    return dirs


def remove_cgroup(cgroup: dict, dirs: list[Path]) -> bool:
    """Whether the kernel killed something in the job for memory; then remove the
    job's cgroup (empty: every process of the job has ended)."""
    memory = Path(cgroup["memory_events"])
    out_of_memory = False
    try:
        for line in memory.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and int(value) > 0:
                out_of_memory = True
    except (OSError, ValueError):
        pass
    for directory in dirs:
        try:
            directory.rmdir()
        except OSError:
            pass
    return out_of_memory


#: World-writable directories other users' jobs could leave files in: each job
#: gets an empty one of its own (memory, charged to the job's cgroup).
PRIVATE_TMPFS = ("/dev/shm", "/run/lock")


def private_namespaces(request: dict, pid_namespace: bool) -> None:
    """Mount and IPC namespaces of the job's own: a /proc that shows only the job's
    processes; the user's own directory over /tmp and /var/tmp (one user's jobs
    share it; other users' jobs never see it); an empty /dev/shm and /run/lock;
    System V shared memory, semaphores and message queues that no other job sees
    and that go with the job's last process. Nothing writable by everyone is
    shared with another user's jobs, and nothing there outlives the job but /tmp."""
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWIPC), "unshare(CLONE_NEWNS | CLONE_NEWIPC)")
    mount("none", "/", None, MS_REC | MS_PRIVATE)
    if pid_namespace:
        mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    tmp = request.get("tmp")
    if tmp:
        # By descriptor: once /tmp is covered its path may lead elsewhere; and
        # O_NOFOLLOW: never mount where a symlink points.
        tmp_fd = os.open(tmp, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            for target in ("/tmp", "/var/tmp"):
                if os.path.isdir(target) and not os.path.islink(target):
                    mount(f"/proc/self/fd/{tmp_fd}", target, None, MS_BIND)
        finally:
            os.close(tmp_fd)
    for target in PRIVATE_TMPFS:
        if os.path.isdir(target) and not os.path.islink(target):
            mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=25%")


# ---- 2. the job's own process ----------------------------------------------------------
def exec_job(
    request: dict, work_fd: int, stdin_fd: int, stdout_fd: int, stderr_fd: int, error_fd: int
):
    """In the forked child: become the job (its limits, stdio, user) and exec its
    interpreter. Never returns; a failure is written to ``error_fd``."""
    try:
        for name in ("SIGPIPE", "SIGXFSZ", "SIGINT", "SIGTERM", "SIGCHLD", "SIGHUP", "SIGQUIT"):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        os.dup2(stdin_fd, 0)
        os.dup2(stdout_fd, 1)
        os.dup2(stderr_fd, 2)
        for name, value in request["rlimits"].items():
            resource.setrlimit(RLIMITS[name], (value, value))
        if request.get("cgroup"):
            # The job joins it, not its init: when the job passes its memory the
            # OOM killer picks among the job's processes, never the init.
            for directory in request["cgroup"]["dirs"]:
                with open(os.path.join(directory, "cgroup.procs"), "w") as f:
                    f.write("0")  # 0: this process
        uid = request.get("uid")
        if uid is not None:
            gid = request["gid"]
            os.setgroups([gid])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
        # By path, in the job's own mounts (a descriptor from before them would
        # leave the job a cwd getcwd() cannot name), as the job's user; then
        # checked against the directory the init made.
        work = os.path.join(request["root"], "work")
        os.chdir(work)
        here, made = os.stat("."), os.fstat(work_fd)
        if (here.st_dev, here.st_ino) != (made.st_dev, made.st_ino):
            raise OSError(f"{work} is not the job's directory in its mounts (jobs.dir under /tmp?)")
        # setuid programs (su, sudo, ...) can no longer raise the job's rights.
        _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
        os.umask(request["umask"])
        os.closerange(3, error_fd)
        os.closerange(error_fd + 1, 2**31 - 1)
        argv = request["argv"]
        os.execve(argv[0], argv, request["env"])
    except BaseException as exc:  # noqa: BLE001 - report anything, then exit
        try:
            os.write(error_fd, f"{type(exc).__name__}: {exc}".encode()[:4000])
        finally:
            os._exit(EXEC_FAILED)


# ---- 3. and 4. while it runs, and its end ----------------------------------------------
class OutputCopy:
    """One output stream: pipe -> file, the file capped at ``cap`` bytes (cut on a
    UTF-8 character boundary); past the cap the pipe is still drained."""

    def __init__(self, pipe_fd: int, file_fd: int, cap: int):
        self.pipe_fd = pipe_fd
        self.file_fd = file_fd
        self.room = cap
        self.open = True
        # Output past the cap was read and not kept.
        self.dropped = False

    def pump(self) -> None:
        """Copy what the pipe holds now (non-blocking); at end of file, close."""
        while True:
            try:
                data = os.read(self.pipe_fd, PIPE_CHUNK)
            except BlockingIOError:
                return
            if not data:
                self.close()
                return
            kept = data[: self.room]
            if len(kept) < len(data):
                kept = whole_characters(kept)
                self.room = 0
                self.dropped = True
            else:
                self.room -= len(kept)
            if kept:
                os.write(self.file_fd, kept)

    def close(self) -> None:
        if self.open:
            self.open = False
            os.close(self.pipe_fd)
            os.close(self.file_fd)


class JobInit:
    """Runs one job to its end; see the module's docstring."""

    def __init__(self, request: dict, pid_namespace: bool):
        self.request = request
        self.pid_namespace = pid_namespace
        self.job_pid: int | None = None
        self.job_status: int | None = None
        self.ending_since: float | None = None
        self.killed = False

    def signal_all(self, sig: int) -> None:
        """``sig`` to every process of the job (not to this one)."""
        if self.pid_namespace:
            try:
                os.kill(-1, sig)  # in a PID namespace: every process in it but us
            except ProcessLookupError:
                pass
            return
        for pid in descendants(os.getpid()):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def begin_ending(self) -> None:
        if self.ending_since is None:
            self.ending_since = time.monotonic()
            self.signal_all(signal.SIGCONT)  # a stopped process must see TERM
            self.signal_all(signal.SIGTERM)

    def reap(self) -> bool:
        """Collect ended children; whether any is left."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            if pid == self.job_pid:
                self.job_status = status
                self.begin_ending()

    def run(self, stdout: OutputCopy, stderr: OutputCopy, wakeup_fd: int) -> None:
        """Copy output and reap until every process of the job has ended."""
        copies = {stdout.pipe_fd: stdout, stderr.pipe_fd: stderr}
        poller = select.poll()
        for fd in (*copies, wakeup_fd):
            os.set_blocking(fd, False)
            poller.register(fd, select.POLLIN)
        grace = float(self.request["kill_grace"])
        while True:
            timeout = None
            if self.ending_since is not None and not self.killed:
                timeout = max(self.ending_since + grace - time.monotonic(), 0) * 1000
            for fd, _ in poller.poll(timeout):
                if fd == wakeup_fd:
                    drain(wakeup_fd)
                else:
                    copies[fd].pump()
                    if not copies[fd].open:
                        poller.unregister(fd)
            if _terminate_requested:
                self.begin_ending()
            left = self.reap()
            if self.ending_since is not None and not self.killed:
                if time.monotonic() >= self.ending_since + grace:
                    self.killed = True
                    self.signal_all(signal.SIGKILL)
            if not left:
                break
        # Every process of the job is gone: what is left in the pipes is the rest.
        for copy in copies.values():
            if copy.open:
                copy.pump()
                copy.close()

    def exit_code(self) -> int | None:
        """The shell's way: the exit code, or 128 + the signal that killed it."""
        if self.job_status is None:
            return None
        if os.WIFSIGNALED(self.job_status):
            return 128 + os.WTERMSIG(self.job_status)
        return os.WEXITSTATUS(self.job_status)


_terminate_requested = False


def _on_terminate(signum, frame) -> None:
    global _terminate_requested
    _terminate_requested = True


def drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children first), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rpartition(")")[2].split()[1])
            except (OSError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@dataclass
class Prepared:
    """What ``prepare`` made for one job: open descriptors the init inherits."""

    root_fd: int  # the job directory
    work_fd: int  # its work/ directory
    stdin_fd: int  # the stdin file, or /dev/null
    stdout_fd: int  # the stdout file (the init copies the job's output into it)
    stderr_fd: int
    cgroup_dirs: list[Path]

    def close(self) -> None:
        """Close them all (the launcher, once the init has its copies)."""
        for fd in (self.root_fd, self.work_fd, self.stdin_fd, self.stdout_fd, self.stderr_fd):
            os.close(fd)


def prepare(request: dict) -> Prepared:
    """Everything on disk a job needs, made before its init is forked: its
    directory, script, stdin, output files and cgroup. The launcher calls it: one
    process making them one after another costs less than every init making its
    own at once (the inits' copy-on-write faults, and the kernel's locks on the
    jobs directory). Raises OSError (nothing is left behind but the directory,
    which a rerun or the retention sweep removes)."""
    if not os.path.isabs(request["root"]):
        raise OSError(f"the job directory must be an absolute path, not {request['root']!r}")
    root_fd, work_fd = prepare_directory(request)
    opened = [root_fd, work_fd]
    try:
        try:
            opened.append(os.open("stdin", os.O_RDONLY | os.O_NOFOLLOW, dir_fd=root_fd))
        except FileNotFoundError:
            opened.append(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC))
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        for name in ("stdout", "stderr"):
            opened.append(os.open(name, flags, 0o600, dir_fd=root_fd))
        cgroup = request.get("cgroup")
        dirs = make_cgroup(cgroup) if cgroup else []
    except BaseException:
        for fd in opened:
            os.close(fd)
        raise
    return Prepared(*opened, dirs)


def record_init_pid(prepared: Prepared, pid: int) -> None:
    """``wrapper.pid``: the init's pid and start time, for an executor that adopts
    the job after a restart. Written by the launcher once it has forked the init;
    without it (it could not be written, or the init has ended already) an adopter
    finds the job by its end record, or reports it lost."""
    try:
        record = f"{pid} {process_start_time(pid)}\n".encode()
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fd = os.open("wrapper.pid", flags, 0o644, dir_fd=prepared.root_fd)
        try:
            os.write(fd, record)
        finally:
            os.close(fd)
    except OSError:
        pass


def run(request: dict, prepared: Prepared, pid_namespace: bool) -> int:
    """The job init's whole life (called in the launcher's fork); its exit code."""
    global _terminate_requested
    _terminate_requested = False
    gc.disable()  # a short life: no collections (they would copy the launcher's heap)
    # From the executor: end the job (TERM, grace, KILL) and record its end.
    signal.signal(signal.SIGTERM, _on_terminate)
    for name in ("SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"):
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])  # blocked by the launcher
    os.setpgid(0, 0)  # out of the executor's group: supervisor's stop does not reach jobs
    cgroup = request.get("cgroup")
    try:
        if not pid_namespace:
            _check(_libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(CHILD_SUBREAPER)")
        out_read, out_write = os.pipe2(os.O_CLOEXEC)
        err_read, err_write = os.pipe2(os.O_CLOEXEC)
        error_read, error_write = os.pipe2(os.O_CLOEXEC)
        cap = int(request["max_log_bytes"])
        stdout = OutputCopy(out_read, prepared.stdout_fd, cap)
        stderr = OutputCopy(err_read, prepared.stderr_fd, cap)
        # Last: from here on, paths mean what the job sees (its /tmp, its /proc).
        if request.get("private_mounts"):
            private_namespaces(request, pid_namespace)
        init = JobInit(request, pid_namespace)
        init.job_pid = os.fork()
        if init.job_pid == 0:
            os.close(wake_read)
            signal.set_wakeup_fd(-1)
            exec_job(
                request, prepared.work_fd, prepared.stdin_fd, out_write, err_write, error_write
            )
        for fd in (prepared.work_fd, prepared.stdin_fd, out_write, err_write, error_write):
            os.close(fd)
        # Empty at once when the exec succeeded (the pipe closes on exec).
        start_error = b""
        while chunk := os.read(error_read, 4096):
            start_error += chunk
        os.close(error_read)
        if start_error:
            message = start_error.decode("utf-8", "replace")
            os.write(stderr.file_fd, f"could not start the job: {message}\n".encode())
        init.run(stdout, stderr, wake_read)
        record = {
            "code": init.exit_code(),
            "dropped": [
                name for name, copy in (("stdout", stdout), ("stderr", stderr)) if copy.dropped
            ],
        }
        if start_error and init.exit_code() == EXEC_FAILED:
            record["exec_error"] = start_error.decode("utf-8", "replace")
    except Exception as exc:  # the service, not the script, failed
        record = {"code": None, "error": f"{type(exc).__name__}: {exc}"}
    if cgroup and prepared.cgroup_dirs:
        record["out_of_memory"] = remove_cgroup(cgroup, prepared.cgroup_dirs)
    try:
        write_end(prepared.root_fd, record)
    except OSError:
        return 1
    return 0
