"""GET /metrics: Prometheus text format (outside /api: scrapers expect plain text)."""

from prometheus_client import CONTENT_TYPE_LATEST

from baselayer.app.handlers.base import BaseHandler

from .. import metrics, queue, queues


class MetricsHandler(BaseHandler):
    """``GET /metrics``: Prometheus text format; anyone, no token (scrapers send none)."""

    auth_required = False

    async def get(self):
        """Answer the stack's metrics (every process's, added up) and jobs per state, as text."""
        job_counts = self.settings["job_counts"]
        configured = [q.name for q in queues.configured_queues(self.settings["config"])]

        def count_by_queue():
            # Every configured queue, empty ones too (a series that vanishes reads as
            # "no data", not 0); and any other queue that still has jobs.
            counts = queue.queue_counts(self.sql)
            empty = {"queued": 0, "running": 0}
            return {name: counts.get(name, empty) for name in configured} | counts

        body = metrics.render(lambda: job_counts.jobs_by_status(), count_by_queue)
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(body)
