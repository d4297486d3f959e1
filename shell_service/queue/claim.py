"""Claiming: QUEUED -> RUNNING, as capacity and fairness allow, in one statement."""

import datetime
from dataclasses import dataclass

from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL, Statement

from ..job_states import JobStatus, may_become

# Serializes claims across executors (one per host sharing the database) so the
# capacity count a claim reads cannot be raced by another claim. An executor that
# finds it taken does not wait (its event loop would stall): it looks again a
# moment later.
_CLAIM_LOCK_KEY = 0x5E11_0B5


def _sql_list(statuses: list[str]) -> str:
    """``('A', 'B')``: states as SQL literals, written into a statement's text (a
    constant, so PostgreSQL's generic plan of the prepared claim still uses the
    partial index on QUEUED jobs, as a parameter would not let it)."""
    assert statuses and all(status in JobStatus.__members__ for status in statuses)
    return "(" + ", ".join(f"'{status}'" for status in statuses) + ")"


#: The states a claim takes jobs from (QUEUED): ``may_become(RUNNING)``.
_CLAIMABLE = _sql_list(may_become(JobStatus.RUNNING))

#: The ``jobs`` columns of a ``ClaimedJob``, for a statement's SELECT or RETURNING.
EXECUTOR_JOB_COLUMNS = (
    "jobs.id, jobs.number, jobs.code, jobs.shell, jobs.args, jobs.env, jobs.stdin,"
    " jobs.timeout, jobs.cpus, jobs.memory_mb, jobs.queued_at, jobs.started_at,"
    " jobs.submitter_id,"
    " (SELECT username FROM users WHERE users.id = jobs.submitter_id) AS username,"
    " jobs.executor, jobs.cancel_requested_at"
)


_CLAIM_SQL = Statement(
    """
    WITH running AS (
        SELECT submitter_id, count(*) AS n, sum(memory_mb) AS memory_mb
        FROM jobs WHERE status = 'RUNNING' GROUP BY submitter_id
    ),
    totals AS (
        SELECT coalesce(sum(n), 0) AS n, coalesce(sum(memory_mb), 0) AS memory_mb FROM running
    ),
    ranked AS (
        SELECT q.id, q.priority, q.queued_at, q.memory_mb,
               coalesce(r.n, 0)
                 + row_number() OVER (PARTITION BY q.submitter_id
                                      ORDER BY q.priority DESC, q.queued_at, q.id) AS user_slot
        FROM jobs q LEFT JOIN running r USING (submitter_id)
        WHERE q.status IN {claimable}
    ),
    ordered AS (
        -- Fairness: a user's first waiting job outranks anyone's second, so the
        -- user with the fewest running jobs goes first; then priority, then age.
        SELECT id, row_number() OVER w AS position, sum(memory_mb) OVER w AS memory_needed
        FROM ranked
        WHERE user_slot <= %(per_user)s
        WINDOW w AS (ORDER BY user_slot, priority DESC, queued_at, id)
    ),
    chosen AS (
        SELECT ordered.id FROM ordered, totals
        WHERE position <= %(max_running)s - totals.n
          AND memory_needed <= %(memory_budget_mb)s - totals.memory_mb
        ORDER BY position
        LIMIT %(batch)s
    ),
    locked AS (
        SELECT id, status FROM jobs
        WHERE id IN (SELECT id FROM chosen) AND status IN {claimable}
        FOR UPDATE SKIP LOCKED
    ),
    claimed AS (
        UPDATE jobs SET status = 'RUNNING', started_at = %(now)s, modified = %(now)s,
                        executor = %(executor)s
        FROM locked WHERE jobs.id = locked.id
        RETURNING {executor_job_columns}
    ),
    events AS (
        INSERT INTO job_events (job_id, from_status, to_status, detail, created_at, modified)
        SELECT id, locked.status, 'RUNNING', %(detail)s, %(now)s, %(now)s
        FROM claimed JOIN locked USING (id)
    )
    SELECT * FROM claimed
    """.replace("{claimable}", _CLAIMABLE).replace("{executor_job_columns}", EXECUTOR_JOB_COLUMNS)
)


@dataclass(frozen=True)
class ClaimedJob:
    """A RUNNING job as its executor sees it: claimed by this executor
    (``claim_jobs``), or found on its host to adopt (``running_jobs_on_host``).
    Times are naive UTC.

    Attributes
    ----------
    id : str
        The job's id.
    number : int
        Its serial number (the order jobs were made in).
    code : str
        The script.
    shell : str
        The interpreter's name (one of ``shells.py``'s).
    args : list of str
        The script's arguments.
    env : dict of str to str
        The job's extra environment.
    stdin : str or None
        Its standard input (None: empty).
    timeout : int
        Seconds it may run, from ``started_at``.
    cpus : int
        CPUs it may use.
    memory_mb : int
        Memory it may use, MiB.
    queued_at : datetime.datetime or None
        When it was queued (None for a job queued before that was recorded).
    started_at : datetime.datetime
        When it was claimed (its deadline is ``started_at + timeout``).
    submitter_id : int
        Its owner's user id.
    username : str
        Its owner's username (their Unix account is derived from it).
    executor : str or None
        The executor that holds it, "host:pid" (None: none was recorded).
    cancel_requested_at : datetime.datetime or None
        When a user asked to cancel it (None: not asked).
    """

    id: str
    number: int
    code: str
    shell: str
    args: list[str]
    env: dict[str, str]
    stdin: str | None
    timeout: int
    cpus: int
    memory_mb: int
    queued_at: datetime.datetime | None
    started_at: datetime.datetime
    submitter_id: int
    username: str
    executor: str | None
    cancel_requested_at: datetime.datetime | None


def claim_jobs(
    sql: PlainSQL,
    executor: str,
    *,
    max_running: int,
    per_user: int,
    memory_budget_mb: int,
    batch: int,
) -> list[ClaimedJob] | None:
    """Move up to ``batch`` QUEUED jobs (``may_become(RUNNING)``) to RUNNING, as
    capacity and fairness allow, each with its event, in one statement.

    Parameters
    ----------
    sql : PlainSQL
    executor : str
        The claiming executor, "host:pid" (stored in ``jobs.executor``).
    max_running : int
        Most jobs RUNNING at once, counting those running already.
    per_user : int
        Most jobs RUNNING at once per user.
    memory_budget_mb : int
        Most memory (MiB) the RUNNING jobs may have asked for together.
    batch : int
        Most jobs this call claims.

    Returns
    -------
    list of ClaimedJob or None
        The jobs claimed (may be empty); None when another claim is under way
        (a try-lock: try again shortly).
    """
    rows = sql.rows_if_unlocked(
        _CLAIM_SQL,
        {
            "max_running": max_running,
            "per_user": per_user,
            "memory_budget_mb": memory_budget_mb,
            "batch": batch,
            "executor": executor,
            "detail": f"by {executor}",
            "now": utcnow(),
        },
        lock=_CLAIM_LOCK_KEY,
    )
    return None if rows is None else [ClaimedJob(**row) for row in rows]
