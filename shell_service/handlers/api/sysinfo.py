"""Health: answers without a token, so load balancers and `make run` can ask."""

from datetime import timedelta

from baselayer.app.handlers.base import BaseHandler

from ... import queue
from ...executors.local import ADOPT_INTERVAL


class SysinfoHandler(BaseHandler):
    auth_required = False

    async def get(self):
        """
        ---
        summary: Service health
        description: |
          The version, the executors alive (one per host, a heartbeat every few seconds), how
          many jobs are in each state (QUEUED and RUNNING exact; the others as of
          a recount every minute), running jobs against the host's capacity,
          and which isolation layers this host gives jobs. No token needed.
        tags: [system]
        responses:
          200:
            content: {application/json: {schema: SysinfoEnvelope}}
        """
        job_host = self.settings["job_host"]
        jobs_cfg = self.settings["config"]["jobs"]
        running, running_memory = queue.running_load(self.sql)
        workers = queue.live_workers(self.sql, within=timedelta(seconds=3 * ADOPT_INTERVAL))
        self.success(
            {
                "version": self.settings["version"],
                "workers": workers,
                "jobs_by_status": job_host.jobs_by_status(),
                "capacity": {
                    "max_running": int(jobs_cfg["max_running"]),
                    "max_running_per_user": int(jobs_cfg["max_running_per_user"]),
                    "memory_budget_mb": job_host.memory_budget_mb,
                    "running": running,
                    "running_memory_mb": running_memory,
                },
                "isolation": job_host.isolation(),
            }
        )
