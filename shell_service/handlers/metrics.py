"""GET /metrics: Prometheus text format (outside /api: scrapers expect plain text)."""

from prometheus_client import CONTENT_TYPE_LATEST

from baselayer.app.handlers.base import BaseHandler

from .. import metrics, queue


class MetricsHandler(BaseHandler):
    auth_required = False

    async def get(self):
        with self.settings["session_factory"]() as session:
            body = metrics.render(lambda: queue.count_by_status(session))
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(body)
