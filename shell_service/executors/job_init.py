"""The job init's Python side: what is made before it starts, and its request.

The job init itself is a small C program, ``job_init.c`` (built by
``init_program.py``): process 1 of the job's own PID namespace, which runs,
contains and ends one job; its comment says how. The launcher (``launcher.py``)
calls ``prepare`` here for each job (its directory, empty but for ``attempt``, and
its cgroup), then starts the init with ``posix_spawn``, handing it the descriptors in
``JOB_INIT_FDS``: the directory, and the request ``encode_request`` makes, the
script and the stdin, each in an anonymous file.

Everything here runs with the service's rights, so it follows the privilege
boundary (ARCHITECTURE.md): it makes the job's directory fresh (root-owned)
and never reads, follows or writes anything the job can write.
"""

import ctypes
import os
import resource
from dataclasses import dataclass
from pathlib import Path

from .job_files import write_attempt

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_NAME = 15

RLIMITS = {
    "cpu_seconds": resource.RLIMIT_CPU,
    "address_space_bytes": resource.RLIMIT_AS,
    "processes": resource.RLIMIT_NPROC,
    "open_files": resource.RLIMIT_NOFILE,
    "core_bytes": resource.RLIMIT_CORE,
}

#: The descriptors the init starts with (job_init.c's enum): the job directory,
#: and anonymous files holding the request, the script and the stdin (if any).
JOB_INIT_FDS = {"root": 3, "request": 4, "script": 5, "stdin": 6}


def set_process_name(name: str) -> None:
    """Set the name ``ps`` and ``top`` show for this process.

    Parameters
    ----------
    name : str
        Cut to 15 bytes.
    """
    _libc.prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)


def process_start_time(pid: str | int = "self") -> int:
    """A process's start time: with the pid, it names one process for ever (pids are reused).

    Parameters
    ----------
    pid : str or int, optional
        A pid, or "self".

    Returns
    -------
    int
        Field 22 of /proc/<pid>/stat: clock ticks since boot.

    Raises
    ------
    OSError
        No such process (FileNotFoundError), or /proc cannot be read.
    """
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rpartition(")")[2].split()[19])


# ---- before the job: what the launcher makes ------------------------------------------
def make_job_directory(request: dict) -> int:
    """A fresh job directory, root 0711, holding only ``attempt`` (``job_files.JobFiles``
    names its files).

    The init makes the files in it (``job_init.c``).

    Parameters
    ----------
    request : dict
        The launch request; its ``root`` is the directory.

    Returns
    -------
    int
        An O_DIRECTORY descriptor of it (the caller closes it).

    Raises
    ------
    OSError
        Something is at ``root`` already (an earlier job's directory, which the
        executor removes first), or it cannot be made.
    """
    root = Path(request["root"])
    if os.path.lexists(root):
        # The executor removes an earlier job's directory first (job_removal, as
        # that job's user): nothing here touches what a job wrote.
        raise OSError(f"{root} is left from an earlier job with this id")
    root.mkdir(mode=0o711)  # exact: the launcher's umask is 022
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        write_attempt(fd, request.get("attempt", 1), request.get("number", 0))
    except BaseException:
        os.close(fd)
        raise
    return fd


def make_cgroup(cgroup: dict) -> list[Path]:
    """Make the job's cgroup directories with their limits.

    The job's process moves itself in before it execs, so everything the job forks
    is inside. A directory a killed init left is made again (its limits must not
    carry over).

    Parameters
    ----------
    cgroup : dict
        The launch request's ``cgroup`` (``cgroups.JobCgroup.request``).

    Returns
    -------
    list of Path
        The directories.

    Raises
    ------
    OSError
        A directory cannot be made, or a limit that is not optional cannot be written.
    """
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


@dataclass
class Prepared:
    """What ``prepare`` made for one job.

    Attributes
    ----------
    root_fd : int
        The job directory's descriptor: the init inherits it.
    cgroup_dirs : list of Path
    """

    root_fd: int  # the job directory: the init inherits it
    cgroup_dirs: list[Path]

    def close(self) -> None:
        """Close the descriptor (the launcher, once the init has its copy)."""
        os.close(self.root_fd)


def prepare(request: dict) -> Prepared:
    """What the launcher makes for a job before its init starts: its directory
    and its cgroup.

    The init makes the files (in parallel with other inits: on a busy disk, making
    files is most of a launch's cost).

    Parameters
    ----------
    request : dict
        The launch request (``launch.JobLaunch.request``).

    Returns
    -------
    Prepared

    Raises
    ------
    OSError
        ``root`` is not absolute, or the directory or the cgroup cannot be made
        (nothing is left behind but the directory, which a rerun or the retention
        sweep removes).
    """
    if not os.path.isabs(request["root"]):
        raise OSError(f"the job directory must be an absolute path, not {request['root']!r}")
    root_fd = make_job_directory(request)
    try:
        cgroup = request.get("cgroup")
        dirs = make_cgroup(cgroup) if cgroup else []
    except BaseException:
        os.close(root_fd)
        raise
    return Prepared(root_fd, dirs)


def record_init_pid(prepared: Prepared, pid: int) -> None:
    """Write ``wrapper.pid``: the init's pid and start time, for an executor that adopts
    the job after a restart.

    Written by the launcher once it has started the init; without it (it could not
    be written, or the init has ended already) an adopter finds the job by its end
    record, or reports it lost. Raises nothing.

    Parameters
    ----------
    prepared : Prepared
        The job's directory (``wrapper.pid`` is made there, 0600, never replaced).
    pid : int
        The init's pid.
    """
    try:
        record = f"{pid} {process_start_time(pid)}\n".encode()
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fd = os.open("wrapper.pid", flags, 0o600, dir_fd=prepared.root_fd)
        try:
            os.write(fd, record)
        finally:
            os.close(fd)
    except OSError:
        pass


def encode_request(request: dict, pid_namespace: bool) -> bytes:
    """The request as the init reads it (``job_init.c``).

    Parameters
    ----------
    request : dict
        The launch request (seconds for ``kill_grace`` and ``timeout``, sent as
        ms).
    pid_namespace : bool
        Whether the init is process 1 of a PID namespace of its own.

    Returns
    -------
    bytes
        NUL-terminated ``key=value`` entries, ``arg`` and ``env`` once per element.

    Raises
    ------
    ValueError
        A string holds a NUL (no C string, no exec argument can).
    """
    entries = [
        ("root", request["root"]),
        ("umask", request["umask"]),
        ("private_mounts", int(bool(request.get("private_mounts")))),
        ("pid_namespace", int(pid_namespace)),
        ("kill_grace_ms", round(float(request["kill_grace"]) * 1000)),
        ("max_log_bytes", int(request["max_log_bytes"])),
        ("stdin", int(bool(request.get("stdin")))),
    ]
    if request.get("uid") is not None:
        entries += [("uid", int(request["uid"])), ("gid", int(request["gid"]))]
    if request.get("tmp"):
        entries.append(("tmp", request["tmp"]))
    if request.get("timeout") is not None:
        entries.append(("timeout_ms", max(round(float(request["timeout"]) * 1000), 0)))
    for name, value in request["rlimits"].items():
        entries.append(("rlimit", f"{RLIMITS[name]}:{int(value)}"))
    cgroup = request.get("cgroup")
    if cgroup:
        entries += [("cgroup_dir", directory) for directory in cgroup["dirs"]]
        if cgroup.get("memory_events"):
            entries.append(("memory_events", cgroup["memory_events"]))
    entries += [("arg", arg) for arg in request["argv"]]
    entries += [("env", f"{name}={value}") for name, value in request["env"].items()]
    encoded = []
    for key, value in entries:
        text = f"{key}={value}"
        if "\0" in text:
            raise ValueError(f"the job's {key} holds a NUL byte")
        encoded.append(text.encode() + b"\0")
    return b"".join(encoded)
