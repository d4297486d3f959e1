"""GET /metrics: Prometheus text format (outside /api: scrapers expect plain text)."""

from prometheus_client import CONTENT_TYPE_LATEST

from baselayer.app.handlers.base import BaseHandler

from .. import metrics


class MetricsHandler(BaseHandler):
    """``GET /metrics``: Prometheus text format; anyone, no token (scrapers send none)."""

    auth_required = False

    async def get(self):
        """Answer the stack's metrics (every process's, added up) and jobs per state, as text."""
        job_counts = self.settings["job_counts"]
        body = metrics.render(lambda: job_counts.jobs_by_status())
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(body)
