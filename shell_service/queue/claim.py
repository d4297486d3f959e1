"""Claiming: QUEUED -> RUNNING, as capacity and fairness allow, in one statement."""

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING

from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL, Statement

from ..job_states import JobStatus, may_become

if TYPE_CHECKING:
    from ..queues import Queue

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


def _claimable_row(alias: str) -> str:
    """The condition on a jobs row (``alias``: "q." or "") that a claim may take
    it: QUEUED, held by no executor, and not waiting (dependencies, a back-off,
    an array's own row: ``jobs.waiting_for``). ``ix_jobs_queued_heads``'s
    predicate is the same, so the claim reads that index."""
    return (
        f"{alias}status IN {_CLAIMABLE} AND {alias}executor IS NULL AND {alias}waiting_for IS NULL"
    )


#: The status message of a job a Slurm executor holds until sbatch answers.
HELD_MESSAGE = "submitting to Slurm"

#: A limit left empty (None): larger than anything it could bound.
UNLIMITED = 2**31 - 1

#: The ``jobs`` columns of a ``ClaimedJob``, for a statement's SELECT or RETURNING.
EXECUTOR_JOB_COLUMNS = (
    "jobs.id, jobs.number, jobs.code, jobs.shell, jobs.args,"
    # A definition's secret parameters reach the job's environment here, and only here.
    " jobs.env || COALESCE(jobs.secret_env, '{}'::jsonb)"
    # An array task learns which it is (as Slurm's SLURM_ARRAY_TASK_ID...).
    " || CASE WHEN jobs.array_id IS NULL THEN '{}'::jsonb ELSE jsonb_build_object("
    "'SHELL_SERVICE_ARRAY_ID', jobs.array_id,"
    " 'SHELL_SERVICE_ARRAY_INDEX', jobs.array_index::text,"
    " 'SHELL_SERVICE_ARRAY_SIZE', jobs.array_size::text) END"
    # Which attempt this is, 1 first (as Slurm's SLURM_RESTART_COUNT, AWS Batch's
    # attempts): a retried script may resume, or clean up after the last.
    " || jsonb_build_object('SHELL_SERVICE_ATTEMPT', jobs.attempt::text) AS env, jobs.stdin,"
    " jobs.timeout, jobs.cpus, jobs.memory_mb, jobs.queued_at, jobs.started_at,"
    " jobs.submitter_id,"
    " (SELECT username FROM users WHERE users.id = jobs.submitter_id) AS username,"
    " jobs.executor, jobs.cancel_requested_at, jobs.queue, jobs.requeue_on_host_loss,"
    " jobs.attempt"
)


_CLAIM_TEMPLATE = (
    """
    WITH RECURSIVE running AS (
        SELECT queue, submitter_id, host, memory_mb FROM jobs WHERE status = 'RUNNING'
        UNION ALL
        -- Handed to Slurm, pending there: they count against their queue's limits.
        SELECT queue, submitter_id, host, memory_mb FROM jobs
        WHERE status = 'QUEUED' AND executor IS NOT NULL
    ),
    -- The queues this host serves, each with its limits (all hosts together)
    -- and what its running jobs leave of them.
    queue_load AS (
        SELECT l.queue, l.per_user, l.memory_budget_mb,
               l.max_running - count(r.queue) AS free,
               l.memory_budget_mb - coalesce(sum(r.memory_mb), 0) AS memory_free
        FROM unnest(%(queues)s::text[], %(queue_max_running)s::bigint[],
                    %(queue_per_user)s::bigint[], %(queue_memory_mb)s::bigint[])
             AS l(queue, max_running, per_user, memory_budget_mb)
        LEFT JOIN running r USING (queue)
        GROUP BY l.queue, l.max_running, l.per_user, l.memory_budget_mb
    ),
    user_load AS (
        SELECT queue, submitter_id, count(*) AS n FROM running GROUP BY queue, submitter_id
    ),
    -- This host's own capacity: its slots and memory, whatever the queue.
    host_load AS (
        SELECT %(max_running)s - count(*) AS free,
               %(memory_budget_mb)s - coalesce(sum(memory_mb), 0) AS memory_free
        FROM running WHERE host = %(host)s
    ),
    -- Who has jobs waiting in each queue: one index probe per queue and user (a
    -- skip scan of ix_jobs_queued_heads), however many jobs each has waiting.
    waiting AS (
        SELECT queue_load.queue,
               (SELECT q.submitter_id FROM jobs q
                WHERE {q_claimable} AND q.queue = queue_load.queue
                ORDER BY q.submitter_id LIMIT 1) AS submitter_id
        FROM queue_load
        UNION ALL
        SELECT waiting.queue,
               (SELECT q.submitter_id FROM jobs q
                WHERE {q_claimable} AND q.queue = waiting.queue
                  AND q.submitter_id > waiting.submitter_id
                ORDER BY q.submitter_id LIMIT 1)
        FROM waiting WHERE waiting.submitter_id IS NOT NULL
    ),
    -- The fair order puts every job of a lower user_slot (running jobs + its place
    -- in its user's line) first. The batch-th lowest first slot among the waiting
    -- users bounds the slots this claim can reach: at least a batch of jobs come
    -- before any job past it. (Filtered out by a full queue or memory, the claim
    -- takes fewer; never others than the fair order would.)
    cutoff AS (
        SELECT coalesce(
                   (SELECT coalesce(u.n, 0) + 1 AS first_slot FROM waiting
                    JOIN queue_load USING (queue)
                    LEFT JOIN user_load u USING (queue, submitter_id)
                    WHERE waiting.submitter_id IS NOT NULL AND queue_load.free > 0
                      AND coalesce(u.n, 0) < queue_load.per_user
                    ORDER BY first_slot OFFSET %(batch)s - 1 LIMIT 1),
                   %(unlimited)s) AS slot
    ),
    -- Each user's next jobs in each queue, read in order from the same index: no
    -- more than the user may still start there (per_user less those running), than
    -- the queue or the host has free slots, than one claim takes, or than reach the
    -- cutoff. Only these can be chosen, so nothing else is ranked: the claim costs
    -- the same with a hundred jobs waiting or a million.
    ranked AS (
        SELECT head.id, waiting.queue, head.priority, head.queued_at, head.memory_mb,
               coalesce(u.n, 0)
                 + row_number() OVER (PARTITION BY waiting.queue, waiting.submitter_id
                                      ORDER BY head.priority DESC, head.queued_at, head.id)
                 AS user_slot
        FROM waiting
        JOIN queue_load USING (queue)
        CROSS JOIN host_load
        CROSS JOIN cutoff
        LEFT JOIN user_load u USING (queue, submitter_id)
        CROSS JOIN LATERAL (
            SELECT q.id, q.priority, q.queued_at, q.memory_mb FROM jobs q
            WHERE {q_claimable} AND q.queue = waiting.queue
              AND q.submitter_id = waiting.submitter_id
              -- A job bigger than this host's or its queue's whole budget can never
              -- start here: it must not hold back the jobs behind it.
              AND q.memory_mb <= %(memory_budget_mb)s
              AND q.memory_mb <= queue_load.memory_budget_mb
            ORDER BY q.priority DESC, q.queued_at, q.id
            LIMIT greatest(least(queue_load.per_user - coalesce(u.n, 0), queue_load.free,
                                 host_load.free, %(batch)s, cutoff.slot - coalesce(u.n, 0)),
                           0)
        ) AS head
        WHERE waiting.submitter_id IS NOT NULL
    ),
    -- Fairness, within each queue: a user's first waiting job outranks anyone's
    -- second, so the user with the fewest running jobs goes first; then priority,
    -- then age. What fits the queue's free slots and memory goes on.
    in_queue AS (
        SELECT ranked.*,
               row_number() OVER w AS queue_position, sum(ranked.memory_mb) OVER w AS queue_memory
        FROM ranked
        WINDOW w AS (PARTITION BY queue ORDER BY user_slot, priority DESC, queued_at, id)
    ),
    ordered AS (
        SELECT id, row_number() OVER w AS position, sum(in_queue.memory_mb) OVER w AS memory_needed
        FROM in_queue JOIN queue_load USING (queue)
        WHERE queue_position <= queue_load.free AND queue_memory <= queue_load.memory_free
        WINDOW w AS (ORDER BY user_slot, priority DESC, queued_at, id)
    ),
    -- Then the host's slots and memory, across the queues it serves.
    chosen AS (
        SELECT ordered.id FROM ordered, host_load
        WHERE position <= host_load.free AND memory_needed <= host_load.memory_free
        ORDER BY position
        LIMIT %(batch)s
    ),
    locked AS (
        SELECT id, status FROM jobs
        WHERE id IN (SELECT id FROM chosen) AND {claimable_row}
        FOR UPDATE SKIP LOCKED
    ),
    claimed AS (
        UPDATE jobs SET {claimed_state}, modified = %(now)s,
                        executor = %(executor)s, host = %(host)s
        FROM locked WHERE jobs.id = locked.id
        RETURNING {executor_job_columns}
    ),
    events AS (
        INSERT INTO job_events (job_id, from_status, to_status, detail, created_at, modified)
        SELECT id, locked.status, %(to_status)s, %(detail)s, %(now)s, %(now)s
        FROM claimed JOIN locked USING (id)
    )
    SELECT * FROM claimed
    """.replace("{q_claimable}", _claimable_row("q."))
    .replace("{claimable_row}", _claimable_row(""))
    .replace("{executor_job_columns}", EXECUTOR_JOB_COLUMNS)
)

# A local executor's claim starts the jobs: RUNNING from now, the database's clock
# as the row is claimed: a job released by another connection's finish (its
# dependency's end, timed before that statement ran) starts after that end, though
# this claim's parameters were made before it.
_CLAIM_SQL = Statement(
    _CLAIM_TEMPLATE.replace(
        "{claimed_state}",
        "status = 'RUNNING', started_at = greatest(%(now)s, clock_timestamp() AT TIME ZONE 'UTC')",
    )
)
# A Slurm executor's claim holds the jobs it is about to submit: they stay QUEUED
# (pending in Slurm) with no start until Slurm starts them.
_CLAIM_TO_HOLD = Statement(
    _CLAIM_TEMPLATE.replace(
        "{claimed_state}", "status = 'QUEUED', started_at = NULL, status_message = %(held)s"
    )
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
    started_at : datetime.datetime or None
        When it started (its deadline is ``started_at + timeout``): its claim, on
        a local executor; None for a job a Slurm executor holds that Slurm has
        not started.
    submitter_id : int
        Its owner's user id.
    username : str
        Its owner's username (their Unix account is derived from it).
    executor : str or None
        The executor that holds it, "host:pid" (None: none was recorded).
    cancel_requested_at : datetime.datetime or None
        When a user asked to cancel it (None: not asked).
    queue : str
        Its queue's name.
    requeue_on_host_loss : bool
        Whether it goes back to QUEUED when its host (or Slurm node) is lost.
    attempt : int
        Which attempt of the job this is (1 first; a retry makes the next).
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
    started_at: datetime.datetime | None
    submitter_id: int
    username: str
    executor: str | None
    cancel_requested_at: datetime.datetime | None
    queue: str
    requeue_on_host_loss: bool = False
    attempt: int = 1


def claim_jobs(
    sql: PlainSQL,
    executor: str,
    *,
    host: str,
    queues: "list[Queue]",
    max_running: int,
    memory_budget_mb: int,
    batch: int,
    hold: bool = False,
) -> list[ClaimedJob] | None:
    """Move up to ``batch`` QUEUED jobs (``may_become(RUNNING)``) of ``queues`` to
    RUNNING on ``host``, as the queues' limits, the host's capacity and fairness
    allow, each with its event, in one statement. With ``hold``, the jobs stay
    QUEUED, held by ``executor`` (a Slurm executor submits them; no other claim
    takes them again): each queue's limits count held jobs as running ones.

    Parameters
    ----------
    sql : PlainSQL
    executor : str
        The claiming executor, "host:pid" (stored in ``jobs.executor``).
    host : str
        The claiming executor's host (``queues.host_name``; stored in ``jobs.host``).
    queues : list of shell_service.queues.Queue
        The queues this host serves, with their limits (``max_running``,
        ``max_running_per_user``, ``memory_budget_mb``; counted over all hosts).
    max_running : int
        Most jobs RUNNING at once on ``host``, counting those running already.
    memory_budget_mb : int
        Most memory (MiB) the jobs RUNNING on ``host`` may have asked for together.
    batch : int
        Most jobs this call claims.
    hold : bool
        Hold the jobs QUEUED (status message "submitting to Slurm") instead of
        starting them.

    Returns
    -------
    list of ClaimedJob or None
        The jobs claimed (may be empty); None when another claim is under way
        (a try-lock: try again shortly).
    """
    if not queues:
        return []
    params = claim_parameters(
        executor,
        host=host,
        queues=queues,
        max_running=max_running,
        memory_budget_mb=memory_budget_mb,
        batch=batch,
        hold=hold,
    )
    statement = _CLAIM_TO_HOLD if hold else _CLAIM_SQL
    rows = sql.rows_if_unlocked(statement, params, lock=_CLAIM_LOCK_KEY)
    return None if rows is None else [ClaimedJob(**row) for row in rows]


def claim_parameters(
    executor: str,
    *,
    host: str,
    queues: "list[Queue]",
    max_running: int,
    memory_budget_mb: int,
    batch: int,
    hold: bool = False,
) -> dict:
    """The claim statement's parameters for ``claim_jobs``' arguments (also what the
    bench and the tests run the statement with, to time or EXPLAIN it)."""
    return {
        "queues": [queue.name for queue in queues],
        "queue_max_running": [_limit(queue.max_running) for queue in queues],
        "queue_per_user": [_limit(queue.max_running_per_user) for queue in queues],
        "queue_memory_mb": [_limit(queue.memory_budget_mb) for queue in queues],
        "host": host,
        "max_running": max_running,
        "memory_budget_mb": memory_budget_mb,
        "batch": batch,
        "unlimited": UNLIMITED,
        "executor": executor,
        "detail": f"held for Slurm by {executor}" if hold else f"by {executor}",
        "to_status": JobStatus.QUEUED.value if hold else JobStatus.RUNNING.value,
        "held": HELD_MESSAGE,
        "now": utcnow(),
    }


def _limit(value: int | None) -> int:
    return UNLIMITED if value is None else value
