"""The isolated launch: the executor's own way to start a job, with no database
and no HTTP. It is the floor under scenarios 2 and 3 that the isolation sets.

    .venv/bin/python -m bench.isolated_launch [--count 1000]

Each launch does what ``LocalExecutor`` does for a job, with its code: the
launch request, sent by ``executors.launch.launch_job`` (as ``LocalExecutor``
sends it) to the launcher, which makes the job directory and script and the
job's cgroups where the host has them, and starts the job's init
(``job_init.c``) in a PID namespace of its own; the init makes a mount
namespace with a fresh /proc and the user's /tmp, pipes for the output, forks
the job (rlimits, the user's uid, no new privileges) which execs ``sh
./script`` running ``true``, copies the output, ends the job and writes its end
record; the bench waits on the init's pidfd, then reads the record and output.
As root the job runs as ``nobody``. Measured twice: ``concurrency`` launches
in flight (a rate, against scenario 2) and one at a time (a latency, against
scenario 3).
"""

import argparse
import asyncio
import os
import pwd
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from shell_service.executors.cgroups import JobCgroup, detect
from shell_service.executors.job_files import JobFiles, usable_jobs_dir
from shell_service.executors.launch import JobLaunch, launch_job
from shell_service.executors.launcher_client import LauncherClient
from shell_service.executors.processes import Limits, job_environment, wait_for_pidfd

LIMITS = Limits(cpu_seconds=60, address_space_bytes=2**32)


class IsolatedLauncher:
    def __init__(self, root: Path):
        self.root = root
        self.as_root = os.geteuid() == 0
        self.cgroups = detect() if self.as_root else None
        self.user = pwd.getpwnam("nobody") if self.as_root else pwd.getpwuid(os.geteuid())
        self.tmp = root / "tmp"
        self.tmp.mkdir(mode=0o700)
        if self.as_root:
            os.chown(self.tmp, self.user.pw_uid, self.user.pw_gid)
        self.client: LauncherClient | None = None

    def job_launch(self, number: int, files: JobFiles, cgroup: JobCgroup | None) -> JobLaunch:
        return JobLaunch(
            job_id=f"bench_{number}",
            files=files,
            script="true",
            uid=self.user.pw_uid if self.as_root else None,
            gid=self.user.pw_gid if self.as_root else None,
            tmp=self.tmp if self.as_root else None,
            private_mounts=self.as_root,
            argv=["/bin/sh", "./script"],
            env=job_environment(f"bench_{number}", self.user.pw_name, "/", "/bin/sh", {}),
            umask=0o022,
            limits=LIMITS,
            cgroup=cgroup,
            cgroup_limits=(256, 1, 512),
            kill_grace=5,
            max_log_bytes=2**20,
        )

    async def launch(self, number: int) -> None:
        files = JobFiles(self.root / f"job_{number}")
        cgroup = JobCgroup(self.cgroups, f"bench_launch_{number}") if self.cgroups else None
        pidfd = await launch_job(self.client, self.job_launch(number, files, cgroup))
        try:
            await wait_for_pidfd(pidfd)
        finally:
            os.close(pidfd)
        await asyncio.to_thread(self._end, files)

    @staticmethod
    def _end(files: JobFiles) -> None:
        record = files.read_end()
        if not record or record.get("code") != 0:
            raise RuntimeError(f"the isolated launch in {files.root} did not exit 0: {record}")
        files.read_output(files.stdout, 2**20)
        files.read_output(files.stderr, 2**20)


def _cpu_seconds() -> float:
    """CPU used by this process and its ended children (the launcher, reaped at the
    end, with the inits and jobs it reaped)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


async def _rate(launcher: IsolatedLauncher, count: int, concurrency: int) -> float:
    numbers = iter(range(count))

    async def launch_in_turn():
        for number in numbers:
            await launcher.launch(number)

    started = time.perf_counter()
    await asyncio.gather(*(launch_in_turn() for _ in range(concurrency)))
    return time.perf_counter() - started


async def _latencies(launcher: IsolatedLauncher, count: int, first: int) -> list[float]:
    seconds = []
    for number in range(first, first + count):
        started = time.perf_counter()
        await launcher.launch(number)
        seconds.append(time.perf_counter() - started)
        await asyncio.sleep(0.01)  # idle between jobs, as in a round trip
    return seconds


def isolated_launch(jobs_dir: Path, count: int = 1000, concurrency: int = 16):
    """Isolated launches per second (``concurrency`` in flight) and the latency of
    one at a time (a fifth of ``count``), with job directories under ``jobs_dir``."""
    jobs_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(jobs_dir, 0o711)  # as the executor does: jobs walk through to their own
    root = Path(tempfile.mkdtemp(prefix="bench_isolated_", dir=jobs_dir))
    os.chmod(root, 0o711)  # job users walk through it to their own directory
    launcher = IsolatedLauncher(root)
    sequential = max(count // 5, 10)

    async def measure():
        launcher.client = LauncherClient()
        try:
            return (
                await _rate(launcher, count, concurrency),
                await _latencies(launcher, sequential, count),
            )
        finally:
            launcher.client.close()

    cpu_before = _cpu_seconds()
    try:
        seconds, one_at_a_time = asyncio.run(measure())
        cpu = _cpu_seconds() - cpu_before  # the launcher has ended: its CPU is counted
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {
        "dir": str(jobs_dir),
        "run_as": "nobody" if launcher.as_root else "service user",
        "cgroups": launcher.cgroups.describe() if launcher.cgroups else None,
        "count": count,
        "concurrency": concurrency,
        "seconds": round(seconds, 3),
        "per_second": round(count / seconds, 1),
        # Every launch's CPU (the launcher, init, job, and this side), both phases.
        "cpu_ms_per_launch": round(cpu / (count + sequential) * 1000, 2),
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
    jobs_dir = usable_jobs_dir(cfg.path("jobs.dir"), os.geteuid() == 0)
    result = isolated_launch(jobs_dir, args.count, args.concurrency)
    print(
        f"{result['per_second']:.0f} isolated launches/s; one at a time "
        f"p50 {result['one_at_a_time']['p50_ms']} ms; CPU {result['cpu_ms_per_launch']} ms "
        "per launch"
    )


if __name__ == "__main__":
    main()
