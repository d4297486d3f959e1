"""Queues: what each named queue offers and how busy it is."""

from baselayer.app.handlers.base import APIError, BaseHandler
from baselayer.app.plain_sql import PlainSQL

from ... import queue, queues


class QueueHandler(BaseHandler):
    """``GET /api/queues``: every configured queue (``shell_service/queues.py``) with
    its limits and its jobs queued and running now. Any user may read it: it is
    what a user needs to choose a queue, and names no one's jobs."""

    async def get(self, name: str | None = None):
        """
        ---
        multiple:
          summary: List the queues
          description: |
            Every queue in config order (the first is the default), with its
            limits (running at once on all hosts, per user, memory budget, and each
            job option's default and maximum) and its jobs QUEUED and RUNNING now,
            with the running ones per host.
          tags: [queues]
          security: [{token: []}]
          responses:
            200:
              content: {application/json: {schema: QueueListEnvelope}}
            401: Unauthorized
        single:
          summary: Read a queue
          tags: [queues]
          security: [{token: []}]
          responses:
            200:
              content: {application/json: {schema: QueueEnvelope}}
            401: Unauthorized
            404: NotFound
        """
        described = describe_queues(self.settings["config"], self.sql)
        if name is None:
            self.success(described)
            return
        found = next((q for q in described if q["name"] == name), None)
        if found is None:
            raise APIError(404, f"No queue is called {name!r}")
        self.success(found)


def describe_queues(cfg, sql: PlainSQL) -> list[dict]:
    """Every configured queue, in config order, as ``GET /api/queues`` answers them.

    Parameters
    ----------
    cfg : Config
        The app's config (``queues:``).
    sql : PlainSQL

    Returns
    -------
    list of dict
        Each as ``describe`` makes it (the first is the default).
    """
    configured = queues.configured_queues(cfg)
    counts = queue.queue_counts(sql)
    return [describe(q, counts.get(q.name), default=i == 0) for i, q in enumerate(configured)]


def describe(q: queues.Queue, counts: dict | None, default: bool) -> dict:
    """A queue as ``schemas.Queue`` shows it, with ``counts`` from ``queue.queue_counts``
    (None: no job of it is queued or running)."""
    return {
        "name": q.name,
        "description": q.description,
        "default": default,
        "executor": q.executor,
        "hosts": list(q.hosts),
        "limits": {
            "max_running": q.max_running,
            "max_running_per_user": q.max_running_per_user,
            "memory_budget_mb": q.memory_budget_mb,
            **{
                option: {"default": q.defaults[option], "max": q.maxima[option]}
                for option in queues.OPTIONS
            },
        },
        "jobs": counts or {"queued": 0, "running": 0, "running_by_host": {}},
    }
