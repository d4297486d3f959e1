"""GET /metrics: Prometheus text format (outside /api: scrapers expect plain text)."""

from prometheus_client import CONTENT_TYPE_LATEST

from baselayer.app.handlers.base import BaseHandler

from .. import metrics


class MetricsHandler(BaseHandler):
    auth_required = False

    async def get(self):
        job_counts = self.settings["job_counts"]
        body = metrics.render(lambda: job_counts.jobs_by_status())
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(body)
