"""The isolated launch: the executor's own way to start a job, with no database
and no HTTP. It is the floor under scenarios 2 and 3 that the isolation sets.

    .venv/bin/python -m bench.isolated_launch [--count 1000]

Each launch does what ``LocalExecutor`` does for a job, with its code: the job
directory and script (owned by a uid of its own, as root), the job's cgroups
where the host has them, the wrapper (dash: rlimits, joining the cgroups, then
setpriv to the job's uid and ``sh ./script`` running ``true``), a pidfd wait,
then reading the exit status and output and removing the cgroups. Set-up and
start run in a thread, as in the executor. Measured twice: ``concurrency``
launches in flight (a rate, against scenario 2) and one at a time (a latency,
against scenario 3).
"""

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from shell_service.executors.cgroups import JobCgroup, detect
from shell_service.executors.job_files import JobFiles
from shell_service.executors.processes import (
    Limits,
    job_command,
    job_environment,
    start_wrapper,
    wait_for_child,
)

#: Far above any job number the bench stack reaches, so no uid is a real job's.
UID_OFFSET = 900_000_000
LIMITS = Limits(cpu_seconds=60, address_space_bytes=2**32, file_size_bytes=2**30)


class IsolatedLauncher:
    def __init__(self, root: Path, uid_base: int):
        self.root = root
        self.per_job_uid = os.geteuid() == 0
        self.uid_base = uid_base + UID_OFFSET
        self.cgroups = detect() if self.per_job_uid else None

    def _start(self, number: int):
        files = JobFiles(self.root / f"job_{number}")
        uid = self.uid_base + number if self.per_job_uid else None
        cgroup = JobCgroup(self.cgroups, f"bench_launch_{number}") if self.cgroups else None
        files.prepare("true", None, uid)
        if cgroup:
            cgroup.create(256, 1, LIMITS.processes)
        process = start_wrapper(
            files,
            job_command("sh", [], uid),
            job_environment(f"bench_{number}", files, {}),
            LIMITS,
            cgroup.procs_files if cgroup else [],
        )
        return files, cgroup, process

    @staticmethod
    def _end(files: JobFiles, cgroup: JobCgroup | None) -> None:
        if files.read_exit_status() != 0:
            raise RuntimeError(f"the isolated launch in {files.root} did not exit 0")
        files.read_output(files.stdout, 2**20)
        files.read_output(files.stderr, 2**20)
        if cgroup:
            cgroup.remove()

    async def launch(self, number: int) -> None:
        files, cgroup, process = await asyncio.to_thread(self._start, number)
        await wait_for_child(process)
        await asyncio.to_thread(self._end, files, cgroup)


async def _rate(launcher: IsolatedLauncher, count: int, concurrency: int) -> float:
    numbers = iter(range(count))

    async def worker():
        for number in numbers:
            await launcher.launch(number)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def _latencies(launcher: IsolatedLauncher, count: int, first: int) -> list[float]:
    seconds = []
    for number in range(first, first + count):
        started = time.perf_counter()
        await launcher.launch(number)
        seconds.append(time.perf_counter() - started)
        await asyncio.sleep(0.01)  # idle between jobs, as in a round trip
    return seconds


def isolated_launch(jobs_dir: Path, uid_base: int, count: int = 1000, concurrency: int = 16):
    """Isolated launches per second (``concurrency`` in flight) and the latency of
    one at a time (a fifth of ``count``), with job directories under ``jobs_dir``."""
    jobs_dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="bench_isolated_", dir=jobs_dir))
    os.chmod(root, 0o711)  # job users walk through it to their own directory
    launcher = IsolatedLauncher(root, uid_base)
    sequential = max(count // 5, 10)
    try:
        asyncio.set_child_watcher(asyncio.PidfdChildWatcher())
        seconds = asyncio.run(_rate(launcher, count, concurrency))
        one_at_a_time = asyncio.run(_latencies(launcher, sequential, count))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {
        "dir": str(jobs_dir),
        "per_job_uid": launcher.per_job_uid,
        "cgroups": launcher.cgroups.describe() if launcher.cgroups else None,
        "count": count,
        "concurrency": concurrency,
        "seconds": round(seconds, 3),
        "per_second": round(count / seconds, 1),
        "one_at_a_time": {
            "count": sequential,
            "p50_ms": round(statistics.median(one_at_a_time) * 1000, 2),
            "max_ms": round(max(one_at_a_time) * 1000, 2),
        },
    }


def main() -> None:
    from baselayer.app.config import load_config

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    cfg = load_config()
    result = isolated_launch(
        cfg.path("jobs.dir"), int(cfg["jobs.uid_base"]), args.count, args.concurrency
    )
    print(
        f"{result['per_second']:.0f} isolated launches/s; one at a time "
        f"p50 {result['one_at_a_time']['p50_ms']} ms"
    )


if __name__ == "__main__":
    main()
