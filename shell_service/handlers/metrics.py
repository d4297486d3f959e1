"""GET /metrics: Prometheus text format (outside /api: scrapers expect plain text)."""

from prometheus_client import CONTENT_TYPE_LATEST

from baselayer.app.handlers.base import BaseHandler

from .. import metrics


class MetricsHandler(BaseHandler):
    auth_required = False

    async def get(self):
        job_host = self.settings["job_host"]
        body = metrics.render(lambda: job_host.jobs_by_status())
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(body)
