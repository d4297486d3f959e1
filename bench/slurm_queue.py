"""The Slurm scenario (issue 14): the service's overhead on a Slurm cluster, and
the local queue's burst against the Slurm queue's, in the same run.

- Direct: ``count`` trivial jobs (``--wrap=true``) submitted one after another
  with ``sbatch`` straight to the bench stack's own test cluster (the same
  partition, the same per-job resources), watched with one ``squeue`` every
  ``poll`` seconds until Slurm has ended them all: what a script driving Slurm by
  hand gets.
- Through the service: the same number of ``true`` jobs POSTed to the ``slurm``
  queue from 16 clients, until the API shows them all ended (the service's own
  submission, poll, and end record included).
- The local queue's burst of the same jobs, for scale.
"""

import subprocess
import time

from shell_service.queues import queue_named
from shell_service.slurm_cluster import client_command, client_environment

from .scenarios import Bench, burst_rate, submit_jobs, utcnow
from .tools import BenchError

#: The bench config's Slurm queue (bench/config.bench.yaml).
QUEUE = "slurm"


def _slurm(bench: Bench, name: str, *args: str) -> str:
    result = subprocess.run(
        [client_command(bench.cfg, name), *args],
        env=client_environment(bench.cfg),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise BenchError(f"{name} {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def direct_sbatch(bench: Bench, count: int, poll: float) -> dict:
    """``count`` ``sbatch --wrap=true`` jobs, one after another, then ``squeue`` every
    ``poll`` seconds until none of them is pending or running."""
    name = f"bench-direct-{time.time_ns()}"
    partition = bench.cfg["slurm.test_cluster.partition"]
    started = time.perf_counter()
    for _ in range(count):
        _slurm(
            bench, "sbatch", "--parsable", f"--job-name={name}", f"--partition={partition}",
            "--mem=256M", "--cpus-per-task=1", "--time=2", "--output=/dev/null",
            "--no-requeue", "--wrap=true",
        )  # fmt: skip
    submitted = time.perf_counter() - started
    while True:
        out = _slurm(bench, "squeue", "--noheader", f"--name={name}", "--states=all", "--format=%T")
        states = out.split()
        if len(states) >= count and not any(
            s in ("PENDING", "RUNNING", "COMPLETING", "CONFIGURING") for s in states
        ):
            break
        if time.perf_counter() - started > 600:
            raise BenchError(f"direct sbatch jobs not done after 600 s: {states[:10]}...")
        time.sleep(poll)
    seconds = time.perf_counter() - started
    completed = sum(1 for s in states if s == "COMPLETED")
    return {
        "jobs": count,
        "seconds": round(seconds, 2),
        "per_second": count / seconds,
        "submitted_per_second": count / submitted,
        "completed": completed,
    }


def through_the_service(bench: Bench, count: int) -> dict:
    """``count`` ``true`` jobs POSTed to the Slurm queue from 16 clients, until all
    ended (GET /api/sysinfo's counts)."""
    since = utcnow()
    started = time.perf_counter()
    submit_jobs(bench, count, 16, "true", queue=QUEUE)
    submitted = time.perf_counter() - started
    ended = bench.wait_until_done(since, timeout=600, interval=0.1)
    seconds = time.perf_counter() - started
    if ended.get("COMPLETE", 0) != count:
        raise BenchError(f"the Slurm queue's jobs did not all complete: {ended}")
    return {
        "jobs": count,
        "seconds": round(seconds, 2),
        "per_second": count / seconds,
        "submitted_per_second": count / submitted,
        "ended": ended,
    }


def slurm_overhead(bench: Bench, count: int = 200, rounds: int = 3) -> dict:
    """Direct and through the service, alternately, ``rounds`` times each (Slurm's
    own pace varies from run to run: one pair alone says little), then the local
    burst; the medians and their ratio."""
    slurm_queue = queue_named(bench.cfg, QUEUE)
    if slurm_queue is None or slurm_queue.slurm is None:
        raise BenchError(f"bench/config.bench.yaml has no Slurm queue {QUEUE!r}")
    poll = slurm_queue.slurm.poll_interval
    directs, services = [], []
    for _ in range(rounds):
        directs.append(direct_sbatch(bench, count, poll))
        services.append(through_the_service(bench, count))
    direct = _median_run(directs)
    service = _median_run(services)
    local = burst_rate(bench)
    return {
        "jobs": count,
        "rounds": rounds,
        "poll_interval": poll,
        "direct": direct,
        "service": service,
        "direct_seconds": [run["seconds"] for run in directs],
        "service_seconds": [run["seconds"] for run in services],
        "local_burst": {"per_second": local["per_second"]},
        "local_jobs": bench.scale.burst_jobs,
        # > 0: the service took longer end to end than sbatch + squeue by hand.
        "overhead": service["seconds"] / direct["seconds"] - 1,
        "slurm_vs_local": service["per_second"] / local["per_second"],
    }


def _median_run(runs: list[dict]) -> dict:
    """The run of median end-to-end time."""
    return sorted(runs, key=lambda run: run["seconds"])[len(runs) // 2]
