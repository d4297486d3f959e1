"""Health: answers without a token, so load balancers and `make run` can ask."""

from datetime import timedelta

from baselayer.app.handlers.base import BaseHandler
from baselayer.app.plain_sql import PlainSQL

from ... import queue


class SysinfoHandler(BaseHandler):
    """``GET /api/sysinfo``: the service's health and capacity; anyone, no token.

    Load balancers and ``make run`` ask it. What it shows of the executors is what
    each published in its registry row (``queue.heartbeat``).
    """

    auth_required = False

    async def get(self):
        """Answer the version, live executors, jobs per state, capacity and isolation.

        ---
        summary: Service health
        description: |
          The version, the executors alive (one per host, a heartbeat every few seconds), how
          many jobs are in each state (QUEUED and RUNNING exact; the others as of
          a recount every minute), running jobs against the executors' capacity,
          and which isolation layers the executors give jobs (as each publishes
          them; `isolation` is that of the executor heard from last). No token needed.
          `workers` is a deprecated alias of `executors`, kept for old clients.
        tags: [system]
        responses:
          200:
            content: {application/json: {schema: SysinfoEnvelope}}
        """
        self.success(system_info(self.settings, self.sql))


def system_info(settings: dict, sql: PlainSQL) -> dict:
    """What ``GET /api/sysinfo`` answers (``schemas.Sysinfo``); the dashboard's system
    page shows it too.

    Parameters
    ----------
    settings : dict
        The app's settings (``config``, ``version``, ``job_counts``).
    sql : PlainSQL

    Returns
    -------
    dict
        ``version``, ``executors`` (and ``workers``, the same list), ``jobs_by_status``,
        ``capacity`` and ``isolation``.
    """
    jobs_cfg = settings["config"]["jobs"]
    running, running_memory = queue.running_load(sql)
    live = queue.live_executors(sql, within=timedelta(seconds=3 * queue.HEARTBEAT_INTERVAL))
    published = [executor.pop("published") or {} for executor in live]
    last = queue.last_published(sql) or {}
    return {
        "version": settings["version"],
        "executors": live,
        "workers": live,
        "jobs_by_status": settings["job_counts"].jobs_by_status(),
        "capacity": {
            # Each host's executor counts its own slots: theirs together.
            "max_running": sum(p.get("max_running", 0) for p in published),
            "max_running_per_user": int(jobs_cfg["max_running_per_user"]),
            # Each host's executor counts its own memory: theirs together.
            "memory_budget_mb": sum(p.get("memory_budget_mb", 0) for p in published),
            "running": running,
            "running_memory_mb": running_memory,
        },
        # A host's (a Slurm executor's is that of its jobs on the nodes).
        "isolation": next(
            (p["isolation"] for p in published if p.get("kind") != "slurm" and "isolation" in p),
            last.get("isolation", {}),
        ),
    }
