"""Jobs per state: the live load (QUEUED, RUNNING) and the stored recount."""

import datetime

from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL, Statement

from ..job_states import JobStatus

_RUNNING_LOAD = Statement(
    "SELECT count(*), coalesce(sum(memory_mb), 0) FROM jobs WHERE status = 'RUNNING'"
)
_COUNT_ACTIVE = Statement(
    "SELECT status, count(*) FROM jobs WHERE status IN ('QUEUED', 'RUNNING') GROUP BY status"
)

_QUEUE_COUNTS = Statement(
    """
    SELECT queue, status, host, count(*) FROM jobs
    WHERE status IN ('QUEUED', 'RUNNING') GROUP BY queue, status, host
    """
)


def queue_counts(sql: PlainSQL) -> dict[str, dict]:
    """Jobs waiting and running in each queue, now (partial indexes: the count
    reads index entries only).

    Returns
    -------
    dict
        Queue name -> ``{"queued": n, "running": n, "running_by_host": {host: n}}``,
        for every queue that has a job QUEUED or RUNNING (configured or not).
    """
    counts: dict[str, dict] = {}
    for name, status, host, n in sql.tuples(_QUEUE_COUNTS):
        entry = counts.setdefault(name, {"queued": 0, "running": 0, "running_by_host": {}})
        if status == JobStatus.QUEUED:
            entry["queued"] += n
        else:
            entry["running"] += n
            by_host = entry["running_by_host"]
            by_host[host or "?"] = by_host.get(host or "?", 0) + n
    return counts


def running_load(sql: PlainSQL) -> tuple[int, int]:
    """Jobs running on the queue's hosts, and the memory they asked for.

    Parameters
    ----------
    sql : PlainSQL

    Returns
    -------
    tuple of (int, int)
        ``(jobs, memory_mb)``: the number of RUNNING jobs and the sum of their
        ``memory_mb`` (MiB; 0 when none runs).
    """
    row = sql.tuples(_RUNNING_LOAD)[0]
    return row[0], int(row[1])


def count_active(sql: PlainSQL) -> dict[str, int]:
    """QUEUED and RUNNING jobs: exact and cheap (partial indexes).

    Parameters
    ----------
    sql : PlainSQL

    Returns
    -------
    dict of str to int
        ``{"QUEUED": n, "RUNNING": n}`` (both keys always present).
    """
    rows = sql.tuples(_COUNT_ACTIVE)
    counts = {JobStatus.QUEUED.value: 0, JobStatus.RUNNING.value: 0}
    counts.update(dict(rows))
    return counts


#: Whoever holds it is recounting the jobs per state; the others do not wait.
_RECOUNT_LOCK_KEY = 0x5E11_C0C

# Replaces the counts when the last recount is older than %(before)s, in one
# statement: the states counted are stored, the states no job is in go to 0.
_RECOUNT_SQL = Statement(
    """
    WITH stale AS (
        SELECT 1 WHERE coalesce((SELECT max(modified) FROM job_counts), '-infinity')
                       < %(before)s
    ),
    fresh AS (
        SELECT status, count(*) AS n FROM jobs
        WHERE EXISTS (SELECT 1 FROM stale) GROUP BY status
    ),
    emptied AS (
        UPDATE job_counts SET count = 0, modified = %(now)s
        WHERE EXISTS (SELECT 1 FROM stale) AND status NOT IN (SELECT status FROM fresh)
    )
    INSERT INTO job_counts (status, count, created_at, modified)
    SELECT status, n, %(now)s, %(now)s FROM fresh
    ON CONFLICT (status) DO UPDATE SET count = excluded.count, modified = excluded.modified
    RETURNING status
    """
)
_JOB_COUNTS = Statement("SELECT status, count FROM job_counts")


def recount_if_stale(sql: PlainSQL, max_age: datetime.timedelta) -> bool:
    """Count the jobs per state (the whole table) if the stored counts are stale.

    Counts only if the last recount is older than ``max_age`` and no one else
    holds the recount's advisory lock (others do not wait). Blocking for as long
    as the count takes: call it in a thread.

    Parameters
    ----------
    sql : PlainSQL
    max_age : datetime.timedelta
        How old the stored counts may be before they are recounted.

    Returns
    -------
    bool
        Whether this call counted (and stored the counts).
    """
    now = utcnow()
    rows = sql.rows_if_unlocked(
        _RECOUNT_SQL, {"before": now - max_age, "now": now}, _RECOUNT_LOCK_KEY
    )
    return bool(rows)


def stored_counts(sql: PlainSQL) -> dict[str, int]:
    """Jobs in every state as of the last recount.

    Parameters
    ----------
    sql : PlainSQL

    Returns
    -------
    dict of str to int
        ``JobStatus`` value -> count, every state present (0 for the states never
        seen).
    """
    counts = {status.value: 0 for status in JobStatus}
    counts.update(dict(sql.tuples(_JOB_COUNTS)))
    return counts
