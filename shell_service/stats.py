"""Job stats: jobs per state and queue now, and per hour the jobs ended by outcome
and the queue wait's p50 and p95, for ``GET /api/stats`` and the dashboard's
overview (one function, ``job_stats``, for both).

The hours come from rollups (``queue/stats.py``): counts per hour, submitter,
queue, outcome and wait bucket, which add up across users and queues, so a
percentile is read from the merged histogram. The buckets are fixed and
log-spaced, four per doubling of the wait from 1 ms (bucket ``b`` holds waits
from 2^(b/4) to 2^((b+1)/4) ms; waits under 1 ms are in bucket 0 and those of
about ten days and more in the last). A percentile is its bucket's geometric
middle, 2^((b+1/2)/4) ms: within ``WAIT_RESOLUTION`` (9.05%) of the true value
for waits of 1 ms and more.
"""

import datetime
import math
from dataclasses import dataclass

from baselayer.app.config import Config
from baselayer.app.plain_sql import PlainSQL

from .queue import stats as stats_queries

#: Wait buckets: 0..119 (a wait's bucket: ``queue.stats.BUCKET_SQL``).
WAIT_BUCKETS = 120
#: Buckets per doubling of the wait.
BUCKETS_PER_DOUBLING = 4
#: How far a percentile may be from the true one (relative), for waits >= 1 ms.
WAIT_RESOLUTION = 2 ** (1 / (2 * BUCKETS_PER_DOUBLING)) - 1
#: The outcomes counted: a job's final states.
OUTCOMES = stats_queries.OUTCOMES
#: The states of a job not ended.
ACTIVE_STATES = ("READY", "QUEUED", "RUNNING")
#: Most hours one request may ask for (a week).
MAX_HOURS = 168
DEFAULT_HOURS = 24


def bucket_seconds(bucket: int) -> float:
    """What a percentile falling in ``bucket`` reads: the bucket's geometric middle.

    Parameters
    ----------
    bucket : int
        0 to ``WAIT_BUCKETS`` - 1.

    Returns
    -------
    float
        Seconds.
    """
    return round(2 ** ((bucket + 0.5) / BUCKETS_PER_DOUBLING) / 1000, 6)


def wait_bucket(seconds: float) -> int:
    """The bucket of a wait of ``seconds`` (as ``queue.stats.BUCKET_SQL`` computes it).

    Parameters
    ----------
    seconds : float

    Returns
    -------
    int
    """
    ms = max(seconds * 1000, 1.0)
    return min(WAIT_BUCKETS - 1, math.floor(BUCKETS_PER_DOUBLING * math.log(ms) / math.log(2)))


def percentile(histogram: dict[int, int], fraction: float) -> float | None:
    """The ``fraction`` percentile (0.5: the median) of a wait histogram, in seconds.

    Parameters
    ----------
    histogram : dict of int to int
        Bucket -> jobs.
    fraction : float
        In (0, 1].

    Returns
    -------
    float or None
        The bucket's value (``bucket_seconds``) where the ``ceil(fraction * n)``-th
        wait falls, smallest first; None for an empty histogram.
    """
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket_seconds(bucket)
    return bucket_seconds(max(histogram))  # not reached


def hour_start(moment: datetime.datetime) -> datetime.datetime:
    """The start of ``moment``'s hour."""
    return moment.replace(minute=0, second=0, microsecond=0)


def job_stats(
    sql: PlainSQL, owner_id: int | None, now: datetime.datetime, hours: int = DEFAULT_HOURS
) -> dict:
    """Jobs per state and queue now, and per hour over the last ``hours`` (the
    current hour last) the jobs ended by outcome and the queue wait's p50 and p95.

    Parameters
    ----------
    sql : PlainSQL
    owner_id : int or None
        One submitter's jobs (a user's own, or the one an admin asked for);
        None: everyone's (admins).
    now : datetime.datetime
        Naive UTC.
    hours : int
        How many hours, the current one included (1 to ``MAX_HOURS``).

    Returns
    -------
    dict
        As ``schemas.Stats`` describes it: ``submitter_id``, ``since``,
        ``until``, ``now`` (``by_state``: every state, the ended ones counted
        over every hour the rollups hold; ``by_queue``: queue -> the states
        not ended), ``period`` (jobs ended per outcome, ``failed``, waits
        and their p50/p95 over the hours shown), ``hours`` (one entry per hour,
        oldest first), ``wait_resolution`` and ``rolled_until``.
    """
    first = hour_start(now) - datetime.timedelta(hours=hours - 1)
    rows = stats_queries.stats_rows(sql, owner_id, first)
    by_hour: dict[datetime.datetime, dict] = {
        first + datetime.timedelta(hours=i): {"finished": dict.fromkeys(OUTCOMES, 0), "waits": {}}
        for i in range(hours)
    }
    by_state = dict.fromkeys((*ACTIVE_STATES, *OUTCOMES), 0)
    by_queue: dict[str, dict[str, int]] = {}
    period_waits: dict[int, int] = {}
    rolled_until = None
    for row in rows:
        kind, n = row["kind"], row["n"]
        if kind == "ended" and row["hour"] in by_hour:
            by_hour[row["hour"]]["finished"][row["outcome"]] += n
        elif kind == "wait" and row["hour"] in by_hour:
            by_hour[row["hour"]]["waits"][row["bucket"]] = n
            period_waits[row["bucket"]] = period_waits.get(row["bucket"], 0) + n
        elif kind == "total":
            by_state[row["outcome"]] += n
        elif kind == "active":
            by_state[row["outcome"]] += n
            counts = by_queue.setdefault(row["queue"], dict.fromkeys(ACTIVE_STATES, 0))
            counts[row["outcome"]] += n
        elif kind == "mark":
            rolled_until = row["hour"]
    hour_list = [
        {
            "hour": hour,
            "finished": entry["finished"],
            "waits": sum(entry["waits"].values()),
            "wait_p50": percentile(entry["waits"], 0.5),
            "wait_p95": percentile(entry["waits"], 0.95),
        }
        for hour, entry in sorted(by_hour.items())
    ]
    finished = {o: sum(h["finished"][o] for h in hour_list) for o in OUTCOMES}
    return {
        "submitter_id": owner_id,
        "since": first,
        "until": now,
        "now": {"by_state": by_state, "by_queue": dict(sorted(by_queue.items()))},
        "period": {
            "finished": finished,
            "failed": sum(finished[o] for o in ("FAILED", "TIMED_OUT", "SERVER_ERROR")),
            "waits": sum(period_waits.values()),
            "wait_p50": percentile(period_waits, 0.5),
            "wait_p95": percentile(period_waits, 0.95),
        },
        "hours": hour_list,
        "wait_resolution": round(WAIT_RESOLUTION, 4),
        "rolled_until": rolled_until,
    }


@dataclass(frozen=True)
class StatsSettings:
    """The config's ``stats:`` section.

    Attributes
    ----------
    interval : float
        Seconds between the stats service's passes.
    settle : float
        How far behind now a pass stops: a job's end is stamped just before its
        statement commits, so the rollups take only ends older than this.
    """

    interval: float = 10.0
    settle: float = 30.0


def stats_settings(cfg: Config) -> StatsSettings:
    """The config's ``stats:`` section.

    Parameters
    ----------
    cfg : Config

    Returns
    -------
    StatsSettings

    Raises
    ------
    ValueError
        Naming a setting that is not a number > 0.
    """
    section = cfg.get("stats") or {}
    values = {}
    for name in ("interval", "settle"):
        value = section.get(name, getattr(StatsSettings, name))
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(f"config stats.{name} must be a number > 0, not {value!r}")
        values[name] = float(value)
    return StatsSettings(**values)


def roll_up_now(sql: PlainSQL, settings: StatsSettings, now: datetime.datetime) -> int | None:
    """One pass of the stats service: the jobs ended up to ``settle`` ago into the rollups.

    Parameters
    ----------
    sql : PlainSQL
    settings : StatsSettings
    now : datetime.datetime
        Naive UTC.

    Returns
    -------
    int or None
        Jobs added; None when another pass held the lock.
    """
    return stats_queries.roll_up(sql, now - datetime.timedelta(seconds=settings.settle))
