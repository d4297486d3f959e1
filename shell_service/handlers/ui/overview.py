"""The dashboard's overview (``/ui/``): jobs per state and queue, my running and
queued jobs, the last 24 hours' failures, the hosts and their capacity, and charts
of the jobs ended per hour and the queue wait.

The figures are ``stats.job_stats``'s, the same function and owner rule
(``stats_owner``) as ``GET /api/stats``; the job lists are ``queue.list_page``'s,
as ``GET /api/jobs``; the queues are ``GET /api/queues``' ``describe``.
"""

import datetime

import orjson

from baselayer.app.auth import CurrentUser
from baselayer.app.models import utcnow

from ... import queue, queues, schemas, stats
from ...queue import stats as stats_queries
from ..api.jobs import OUTPUT_COLUMNS
from ..api.queues import describe
from ..api.stats import stats_owner
from .base import UI_ROOT, UIHandler
from .jobs import FAILED_STATES, LIST_COLUMNS, duration

#: My running and queued jobs shown (the rest: the jobs list).
MY_JOBS_SHOWN = 20
#: Recent failures shown.
FAILURES_SHOWN = 5


def script_json(value) -> str:
    """``value`` as JSON for a ``<script type="application/json">`` (written raw):
    ``<``, ``>`` and ``&`` escaped, so no text in it can end the element.

    Parameters
    ----------
    value
        What ``orjson`` serializes (datetimes as ISO text).

    Returns
    -------
    str
    """
    text = orjson.dumps(value).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def chart_data(figures: dict) -> dict:
    """The charts' series from ``stats.job_stats``' hours.

    Parameters
    ----------
    figures : dict
        ``stats.job_stats``' answer.

    Returns
    -------
    dict
        ``x`` (each hour's start, Unix seconds), ``finished`` (outcome -> jobs
        per hour), ``wait_p50`` and ``wait_p95`` (seconds per hour; None where no
        job started).
    """
    hours = figures["hours"]
    epoch = datetime.datetime(1970, 1, 1)
    return {
        "x": [int((h["hour"] - epoch).total_seconds()) for h in hours],
        "finished": {o: [h["finished"][o] for h in hours] for o in stats.OUTCOMES},
        "wait_p50": [h["wait_p50"] for h in hours],
        "wait_p95": [h["wait_p95"] for h in hours],
    }


def host_rows(hosts: list[dict], now: datetime.datetime, alive_within, lost_after) -> list[dict]:
    """Each host's capacity (what its newest executor published) and load, and
    whether it is alive, late or lost (as the executors judge a host lost).

    Parameters
    ----------
    hosts : list of dict
        ``queue.stats.hosts_load``.
    now : datetime.datetime
    alive_within, lost_after : datetime.timedelta
        Heard from within ``alive_within``: alive; not within ``lost_after``: lost.

    Returns
    -------
    list of dict
        ``host``, ``state`` (alive, late, lost), ``last_seen``, ``kind``,
        ``slots`` / ``memory_mb`` (offered; None: not published), ``running``,
        ``cpus`` and ``memory_used_mb`` (asked by its running jobs), ``slots_free``
        and ``memory_free_mb`` (None when unknown).
    """
    rows = []
    for host in hosts:
        published = host["published"] or {}
        seen = host["last_seen"]
        if seen is not None and now - seen <= alive_within:
            state = "alive"
        elif seen is not None and now - seen <= lost_after:
            state = "late"
        else:
            state = "lost"
        slots, memory = published.get("max_running"), published.get("memory_budget_mb")
        rows.append(
            {
                "host": host["host"],
                "state": state,
                "last_seen": seen,
                "kind": published.get("kind", "local"),
                "slots": slots,
                "memory_mb": memory,
                "running": host["running"],
                "cpus": host["cpus"],
                "memory_used_mb": host["memory_mb"],
                "slots_free": None if slots is None else max(0, slots - host["running"]),
                "memory_free_mb": None if memory is None else max(0, memory - host["memory_mb"]),
            }
        )
    return rows


class OverviewHandler(UIHandler):
    """``/ui/``: the signed-in user's overview (an admin's figures: everyone's)."""

    current_user: CurrentUser

    def jobs(self, owner_id: int | None, **raw) -> list[dict]:
        """The newest jobs of ``owner_id`` (None: everyone's, for an admin) matching
        ``raw`` (``JobListQuery``'s arguments), through the jobs list's own path.

        Parameters
        ----------
        owner_id : int or None
        **raw
            Query arguments as ``schemas.JobListQuery`` loads them.

        Returns
        -------
        list of dict
            ``jobs.LIST_COLUMNS`` of each, newest first.
        """
        if owner_id is not None:
            raw["submitter_id"] = str(owner_id)
        args = schemas.JobListQuery().load(raw)
        data, _, _, _ = queue.list_page(self.sql, args, owner_id, LIST_COLUMNS, OUTPUT_COLUMNS)
        return orjson.loads(orjson.dumps(data))

    async def get(self):
        """The overview page."""
        user = self.current_user
        now = utcnow()
        owner = stats_owner(user, None)
        figures = stats.job_stats(self.sql, owner, now)
        cfg = self.settings["config"]
        counts = queue.queue_counts(self.sql)
        configured = queues.configured_queues(cfg)
        queue_rows = [
            describe(q, counts.get(q.name), default=i == 0) for i, q in enumerate(configured)
        ]
        hosts = host_rows(
            stats_queries.hosts_load(self.sql),
            now,
            datetime.timedelta(seconds=3 * queue.HEARTBEAT_INTERVAL),
            datetime.timedelta(seconds=float(cfg["hosts.lost_after"])),
        )
        failed_link = f"{UI_ROOT}/jobs?preset=failed"
        if user.is_admin:
            failed_link += "&submitter=all"
        self.render_page(
            "overview.html",
            figures=figures,
            everyone=figures["submitter_id"] is None,
            active_states=stats.ACTIVE_STATES,
            outcomes=stats.OUTCOMES,
            mine=self.jobs(user.id, status=["RUNNING", "QUEUED"], limit=str(MY_JOBS_SHOWN)),
            failures=self.jobs(
                owner,
                status=list(FAILED_STATES),
                limit=str(FAILURES_SHOWN),
                created_after=(now - datetime.timedelta(hours=24)).isoformat(),
            ),
            failed_link=failed_link,
            queue_rows=queue_rows,
            hosts=hosts,
            chart_json=script_json(chart_data(figures)),
            duration=duration,
        )
