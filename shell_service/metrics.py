"""Prometheus metrics: what the queue holds now, and how jobs waited, ran and ended.

Counters and histograms are recorded by the process that sees the event (the
executor: waits, run times, outcomes). Every program of the stack runs with
``PROMETHEUS_MULTIPROC_DIR`` set (``render_configs``: ``<run_dir>/metrics``), so
prometheus_client's multiprocess mode adds them up when any app worker is
scraped. Jobs by state are the shared counts (``queue``'s job_counts, finished
states recounted at most a minute ago).
"""

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from .job_states import JobStatus

# Seconds: from a second to a day, for jobs from `true` to overnight runs.
BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 86400)

QUEUE_WAIT = Histogram(
    "shell_service_job_queue_wait_seconds",
    "Time from QUEUED to RUNNING, by queue",
    ["queue"],
    buckets=BUCKETS,
)
RUN_TIME = Histogram(
    "shell_service_job_run_seconds",
    "Time from RUNNING to the job's end, by queue",
    ["queue"],
    buckets=BUCKETS,
)
OUTCOMES = Counter(
    "shell_service_jobs_finished",
    "Jobs that ended, by final state and queue",
    ["status", "queue"],
)
LIMIT_KILLS = Counter(
    "shell_service_job_limit_kills",
    "Jobs ended by a limit: timeout, memory (out of memory) or cpu (CPU time), by queue",
    ["limit", "queue"],
)


class JobStateCollector:
    """Jobs per state, from ``count_by_status()`` (a dict: state name -> count), and
    the QUEUED and RUNNING ones per queue, from ``count_by_queue()``
    (``queue.queue_counts``' shape: name -> ``{"queued": n, "running": n, ...}``)."""

    def __init__(self, count_by_status, count_by_queue):
        self.count_by_status = count_by_status
        self.count_by_queue = count_by_queue

    def collect(self):
        family = GaugeMetricFamily("shell_service_jobs", "Jobs per state", labels=["status"])
        for status, count in self.count_by_status().items():
            family.add_metric([status], count)
        yield family
        family = GaugeMetricFamily(
            "shell_service_queue_jobs",
            "Jobs QUEUED and RUNNING per queue",
            labels=["queue", "status"],
        )
        for queue, counts in sorted(self.count_by_queue().items()):
            family.add_metric([queue, JobStatus.QUEUED.value], counts["queued"])
            family.add_metric([queue, JobStatus.RUNNING.value], counts["running"])
        yield family


def render(count_by_status, count_by_queue) -> bytes:
    """The text exposition of every metric (the callables: ``JobStateCollector``'s)."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:  # one process (tests): this process's own metrics
        for metric in (QUEUE_WAIT, RUN_TIME, OUTCOMES, LIMIT_KILLS):
            registry.register(metric)
    registry.register(JobStateCollector(count_by_status, count_by_queue))
    return generate_latest(registry)


def record_end(queue: str, status: JobStatus, run_seconds: float | None, limit: str | None) -> None:
    """Count the end of a job of ``queue``: its final ``status``, its run time in
    seconds (None when it never started) and the limit that killed it ("timeout",
    "memory", "cpu"), if any."""
    OUTCOMES.labels(status=status.value, queue=queue).inc()
    if run_seconds is not None:
        RUN_TIME.labels(queue=queue).observe(run_seconds)
    if limit:
        LIMIT_KILLS.labels(limit=limit, queue=queue).inc()
