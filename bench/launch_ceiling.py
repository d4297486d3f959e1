"""The bare launch rate: what any runner pays to start ``sh -c true`` per job.

    .venv/bin/python -m bench.launch_ceiling [--dir /dev/shm] [--count 1000]

Each launch makes a directory, opens stdout and stderr files in it, and starts
``sh -c true`` from asyncio in a new session with those files as its output,
then waits for it; ``concurrency`` launches are in flight at once. No database,
no HTTP, no wrapper, no per-job user: the floor under the executor's cost.
"""

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path


async def _launch_one(root: Path, number: int) -> None:
    job_dir = root / f"job_{number}"
    job_dir.mkdir()
    with open(job_dir / "stdout", "wb") as stdout, open(job_dir / "stderr", "wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            "sh",
            "-c",
            "true",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    await process.wait()


async def _launch_all(root: Path, count: int, concurrency: int) -> float:
    numbers = iter(range(count))

    async def launcher():
        for number in numbers:
            await _launch_one(root, number)

    started = time.perf_counter()
    await asyncio.gather(*(launcher() for _ in range(concurrency)))
    return time.perf_counter() - started


def launch_rate(parent: Path, count: int = 1000, concurrency: int = 16) -> dict:
    """Launches per second with the job directories under ``parent`` (removed after).

    Returns
    -------
    dict
        ``{"dir", "count", "concurrency", "seconds", "per_second"}``.
    """
    parent.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="bench_launch_", dir=parent))
    try:
        # The app workers use the same child watcher: one pidfd per child.
        asyncio.set_child_watcher(asyncio.PidfdChildWatcher())
        seconds = asyncio.run(_launch_all(root, count, concurrency))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {
        "dir": str(parent),
        "count": count,
        "concurrency": concurrency,
        "seconds": round(seconds, 3),
        "per_second": round(count / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path("/dev/shm"))
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    result = launch_rate(args.dir, args.count, args.concurrency)
    print(f"{result['per_second']:.0f} launches/s in {result['dir']} ({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
