"""Per-job cgroups: memory, CPU and process-count limits, and knowing a job hit them.

Detected once at start: cgroup v2 where the unified hierarchy offers the
controllers, else v1 where memory, cpu and pids are mounted separately, else
none (the job still has its rlimits). Each job gets
``<controller root>/shell_service/<stack key>-<job id>``; the launcher makes it
(``job_init.prepare``), the job's process moves itself in before it execs
(``job_init.c``), so everything the job forks is inside; the init reads
whether the kernel killed for memory there, and removes it when the job has
ended.
"""

import functools
import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
GROUP = "shell_service"
CFS_PERIOD_US = 100_000


def _writable_dir(path: Path) -> bool:
    probe = path / f"{GROUP}_probe_{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
        return True
    except OSError:
        return False


@dataclass(frozen=True)
class CgroupLayout:
    """Where job cgroups go: ``version`` 2 with one root, or 1 with one root per controller.

    Attributes
    ----------
    version : int
        1 or 2.
    roots : dict of str to Path
        Controller ("memory", "pids", "cpu") -> the directory holding the
        ``shell_service`` group.
    """

    version: int
    roots: dict[str, Path]  # controller -> directory holding the "shell_service" group

    def describe(self) -> str:
        """The layout in words, for sysinfo and the bench.

        Returns
        -------
        str
            E.g. "cgroup v1 (cpu, memory, pids)".
        """
        return f"cgroup v{self.version} ({', '.join(sorted(self.roots))})"

    def hide_jobs(self) -> None:
        """Make each controller's ``shell_service`` group root's, mode 0711.

        That group is the parent of every job's cgroup: a job reads its own cgroup's
        files (a JVM sizes its heap from memory.max), whose path /proc/self/cgroup
        gives, but cannot list the others (their names would tell other users' jobs).

        Raises
        ------
        OSError
            A group cannot be made or its mode set.
        """
        for root in self.roots.values():
            group = root / GROUP
            group.mkdir(mode=0o711, exist_ok=True)
            os.chmod(group, 0o711)

    def weigh_jobs(self, weight: int) -> None:
        """Give all jobs together ``weight`` of CPU against the service's own processes.

        When jobs saturate the CPU, the API and PostgreSQL still get it first; idle
        CPU still goes to jobs. Nothing without a cpu controller; a failure to write
        is logged, not raised.

        Parameters
        ----------
        weight : int
            On the cgroup v2 scale, where each other process has 100 (converted to
            ``cpu.shares`` on v1).
        """
        if "cpu" not in self.roots:
            return
        group = self.roots["cpu"] / GROUP
        name, value = (
            ("cpu.weight", weight) if self.version == 2 else ("cpu.shares", weight * 1024 // 100)
        )
        try:
            group.mkdir(exist_ok=True)
            (group / name).write_text(str(max(value, 2)))
        except OSError as exc:
            log.warning("Could not set the jobs' CPU weight (%s): %s", group / name, exc)


def detect(root: Path = CGROUP_ROOT) -> CgroupLayout | None:
    """The cgroup layout this host lets us use.

    Parameters
    ----------
    root : Path, optional
        Where cgroups are mounted.

    Returns
    -------
    CgroupLayout or None
        v2 when the unified hierarchy offers memory and pids and we may make
        groups there; else v1 with the writable controllers among memory, pids and
        cpu, if memory is one; else None.
    """
    unified = root if (root / "cgroup.controllers").exists() else root / "unified"
    controllers = (
        (unified / "cgroup.controllers").read_text().split()
        if (unified / "cgroup.controllers").exists()
        else []
    )
    if {"memory", "pids"} <= set(controllers) and _writable_dir(unified):
        return CgroupLayout(2, {name: unified for name in ("memory", "pids", "cpu")})
    roots = {
        name: root / name
        for name in ("memory", "pids", "cpu")
        if (root / name / "cgroup.procs").exists() and _writable_dir(root / name)
    }
    if "memory" in roots:
        return CgroupLayout(1, roots)
    return None


#: In the jobs directory (root's 0711): the key job cgroup names are made with.
NAME_KEY_FILE = ".cgroup_name_key"


@functools.lru_cache(maxsize=8)
def _name_key(jobs_dir: Path) -> bytes:
    """32 random bytes kept in ``jobs_dir/NAME_KEY_FILE`` (root's 0600), made once."""
    path = jobs_dir / NAME_KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        with open(path, "rb") as f:
            key = f.read()
        if len(key) == 32:
            return key
        raise OSError(f"{path} is not a key of ours (32 bytes); remove it") from None
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


def job_cgroup_name(jobs_dir: Path, job_id: str) -> str:
    """The cgroup name of a job of the stack whose jobs live in ``jobs_dir``.

    Job ids are the users' words ("payroll-2026"): a name made of them would tell
    any job which jobs other users run (their cgroups' files are world-readable,
    and a job sees its own cgroup's name in /proc/self/cgroup).

    Parameters
    ----------
    jobs_dir : Path
        The stack's jobs directory (holds the key, ``NAME_KEY_FILE``, made on
        first use).
    job_id : str

    Returns
    -------
    str
        ``<stack_key>-<24 hex digits>``, an HMAC-SHA256 of the id with the stack's key.

    Raises
    ------
    OSError
        The key cannot be read or made (or the file holds no key of ours).
    """
    digest = hmac.new(_name_key(jobs_dir), job_id.encode(), "sha256").hexdigest()[:24]
    return f"{stack_key(jobs_dir)}-{digest}"


def stack_key(jobs_dir: Path) -> str:
    """A short name for one stack on this host: its jobs directory's digest.

    Job cgroups are ``shell_service/<stack key>-<digest of the job id>``, so two
    stacks' jobs with the same id never share (and rewrite) each other's limits.

    Parameters
    ----------
    jobs_dir : Path

    Returns
    -------
    str
        12 hex digits.
    """
    return hashlib.sha256(str(jobs_dir).encode()).hexdigest()[:12]


class JobCgroup:
    """One job's cgroup(s): what its init makes, joins and removes (see ``request``).

    Parameters
    ----------
    layout : CgroupLayout
    name : str
        Unique on the host: ``job_cgroup_name(jobs_dir, job id)``.

    Attributes
    ----------
    dirs : dict of str to Path
        Controller -> the job's cgroup directory (one directory for all on v2).
    """

    def __init__(self, layout: CgroupLayout, name: str):
        self.layout = layout
        self.dirs = {controller: root / GROUP / name for controller, root in layout.roots.items()}

    def request(self, memory_mb: int, cpus: int, max_processes: int) -> dict:
        """The ``cgroup`` of a launch request: what the job's init needs to make the
        cgroup with these limits, join it, tell an out-of-memory kill, and remove it.

        Parameters
        ----------
        memory_mb : int
            MiB (written in bytes); swap is not allowed besides.
        cpus : int
            Whole CPUs of CFS quota (per 100 ms period).
        max_processes : int
            ``pids.max``.

        Returns
        -------
        dict
            ``dirs`` (list of str), ``limits`` (each ``[file, value, optional]``: an
            optional one the host may lack, such as swap accounting or the CPU
            controller), ``enable_in`` (v2: where to enable the controllers) and
            ``memory_events`` (the file telling an out-of-memory kill).
        """
        memory = memory_mb * 2**20
        quota = cpus * CFS_PERIOD_US
        if self.layout.version == 2:
            group = self.dirs["memory"]
            limits = [
                [group / "memory.max", memory, False],
                [group / "memory.swap.max", 0, True],
                [group / "pids.max", max_processes, False],
                [group / "cpu.max", f"{quota} {CFS_PERIOD_US}", True],
            ]
            enable_in = [str(group.parent)]
            events = group / "memory.events"
        else:
            memory_dir = self.dirs["memory"]
            limits = [
                [memory_dir / "memory.limit_in_bytes", memory, False],
                [memory_dir / "memory.memsw.limit_in_bytes", memory, True],
            ]
            if "pids" in self.dirs:
                limits.append([self.dirs["pids"] / "pids.max", max_processes, False])
            if "cpu" in self.dirs:
                limits.append([self.dirs["cpu"] / "cpu.cfs_period_us", CFS_PERIOD_US, False])
                limits.append([self.dirs["cpu"] / "cpu.cfs_quota_us", quota, False])
            enable_in = []
            events = memory_dir / "memory.oom_control"
        return {
            "dirs": sorted({str(d) for d in self.dirs.values()}),
            "limits": [[str(path), value, optional] for path, value, optional in limits],
            "enable_in": enable_in,
            "memory_events": str(events),
        }

    def remove(self) -> None:
        """Remove the directories left behind (by a job init that was killed).

        Missing ones are skipped; one that cannot be removed is logged.
        """
        for directory in self.dirs.values():
            try:
                directory.rmdir()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("Could not remove cgroup %s: %s", directory, exc)
