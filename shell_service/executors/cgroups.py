"""Per-job cgroups: memory, CPU and process-count limits, and knowing a job hit them.

Detected once at start: cgroup v2 where the unified hierarchy offers the
controllers, else v1 where memory, cpu and pids are mounted separately, else
none (the job still has its rlimits). Each job gets
``<controller root>/shell_service/<job dir name>``; the wrapper moves itself
there before it starts the job, so everything the job forks is inside.
"""

import logging
import os
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
    """Where job cgroups go: ``version`` 2 with one root, or 1 with one root per controller."""

    version: int
    roots: dict[str, Path]  # controller -> directory holding the "shell_service" group

    def describe(self) -> str:
        return f"cgroup v{self.version} ({', '.join(sorted(self.roots))})"

    def weigh_jobs(self, weight: int) -> None:
        """Give all jobs together ``weight`` of CPU against the service's own
        processes (100 each, the cgroup v2 scale): when jobs saturate the CPU,
        the API and PostgreSQL still get it first; idle CPU still goes to jobs."""
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
    """The cgroup layout this host lets us use, or None."""
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


class JobCgroup:
    """One job's cgroup(s): created with its limits, joined by its wrapper, removed after."""

    def __init__(self, layout: CgroupLayout, name: str):
        self.layout = layout
        self.dirs = {controller: root / GROUP / name for controller, root in layout.roots.items()}

    @property
    def procs_files(self) -> list[Path]:
        return sorted({d / "cgroup.procs" for d in self.dirs.values()})

    def create(self, memory_mb: int, cpus: int, max_processes: int) -> None:
        for directory in self.dirs.values():
            if self.layout.version == 2:
                self._enable_v2_controllers(directory.parent)
            directory.mkdir(parents=True, exist_ok=True)
        memory = str(memory_mb * 2**20)
        quota = cpus * CFS_PERIOD_US
        if self.layout.version == 2:
            group = self.dirs["memory"]
            self._write(group / "memory.max", memory)
            self._write(group / "memory.swap.max", "0", optional=True)
            self._write(group / "pids.max", str(max_processes))
            self._write(group / "cpu.max", f"{quota} {CFS_PERIOD_US}", optional=True)
        else:
            self._write(self.dirs["memory"] / "memory.limit_in_bytes", memory)
            self._write(self.dirs["memory"] / "memory.memsw.limit_in_bytes", memory, optional=True)
            if "pids" in self.dirs:
                self._write(self.dirs["pids"] / "pids.max", str(max_processes))
            if "cpu" in self.dirs:
                self._write(self.dirs["cpu"] / "cpu.cfs_period_us", str(CFS_PERIOD_US))
                self._write(self.dirs["cpu"] / "cpu.cfs_quota_us", str(quota))

    def _enable_v2_controllers(self, parent: Path) -> None:
        parent.mkdir(exist_ok=True)
        for controller in ("memory", "pids", "cpu"):
            self._write(parent / "cgroup.subtree_control", f"+{controller}", optional=True)

    @staticmethod
    def _write(path: Path, value: str, optional: bool = False) -> None:
        try:
            path.write_text(value)
        except OSError:
            if not optional:
                raise

    def out_of_memory(self) -> bool:
        """Whether the kernel killed something in the job for exceeding its memory."""
        memory = self.dirs["memory"]
        name = "memory.events" if self.layout.version == 2 else "memory.oom_control"
        try:
            for line in (memory / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
        except (OSError, ValueError):
            pass
        return False

    def remove(self) -> None:
        for directory in self.dirs.values():
            try:
                directory.rmdir()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("Could not remove cgroup %s: %s", directory, exc)
