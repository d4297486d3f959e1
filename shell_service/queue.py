"""Every database operation of the job queue, in one place.

The queue is the jobs table: submitting sets QUEUED and sends a NOTIFY on
``NOTIFY_CHANNEL``; executors LISTEN, then claim with ``claim_jobs``. Each
state change writes a JobEvent in the same transaction.

The hot paths (create, submit, claim, finish) are plain SQL, one round trip
each (see ``baselayer.app.plain_sql``); the rest use the ORM.
"""

import datetime
from dataclasses import dataclass, field

import orjson
from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL, Statement, statement

from .job_states import FINISHED, JobStatus, may_become
from .models import Job, JobEvent, Worker

NOTIFY_CHANNEL = "shell_service_jobs"
#: A job ended (its id is the payload): requests waiting for it answer.
ENDED_CHANNEL = "shell_service_ended"
#: A user asked to cancel a RUNNING job (its id): its executor ends it.
CANCEL_CHANNEL = "shell_service_cancel"

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
                        worker = %(worker)s
        FROM locked WHERE jobs.id = locked.id
        RETURNING jobs.id, number, code, shell, args, env, stdin, timeout, cpus, memory_mb,
                  queued_at, started_at, submitter_id,
                  (SELECT username FROM users WHERE users.id = jobs.submitter_id) AS username
    ),
    events AS (
        INSERT INTO job_events (job_id, from_status, to_status, detail, created_at, modified)
        SELECT id, locked.status, 'RUNNING', %(detail)s, %(now)s, %(now)s
        FROM claimed JOIN locked USING (id)
    )
    SELECT * FROM claimed
    """.replace("{claimable}", _CLAIMABLE)
)


@dataclass(frozen=True)
class ClaimedJob:
    """What an executor needs to start (or adopt) a job."""

    id: str
    number: int
    code: str
    shell: str
    args: list
    env: dict
    stdin: str | None
    timeout: int
    cpus: int
    memory_mb: int
    queued_at: datetime.datetime | None
    started_at: datetime.datetime
    submitter_id: int
    username: str


def add_event(session: Session, job_id: str, from_status, to_status, actor_id=None, detail=None):
    session.add(
        JobEvent(
            job_id=job_id,
            from_status=from_status,
            to_status=to_status,
            actor_id=actor_id,
            detail=detail,
        )
    )


_INSERT_JOBS = Statement(
    """
    WITH new AS (
        SELECT * FROM unnest(
            %(id)s::text[], %(code)s::text[], %(shell)s::text[], %(args)s::text[],
            %(env)s::text[], %(stdin)s::text[], %(timeout)s::int[], %(priority)s::int[],
            %(cpus)s::int[], %(memory_mb)s::int[], %(submitter_id)s::int[],
            %(submit)s::boolean[], %(actor_id)s::int[], %(detail)s::text[],
            %(created_at)s::timestamp[]
        ) AS new(id, code, shell, args, env, stdin, timeout, priority, cpus, memory_mb,
                 submitter_id, submit, actor_id, detail, created_at)
    ),
    job AS (
        INSERT INTO jobs (id, code, shell, args, env, stdin, timeout, priority, cpus,
                          memory_mb, status, queued_at, submitter_id, created_at, modified)
        SELECT id, code, shell, args::jsonb, env::jsonb, stdin, timeout, priority, cpus,
               memory_mb, CASE WHEN submit THEN 'QUEUED' ELSE 'READY' END,
               CASE WHEN submit THEN created_at END,
               submitter_id, created_at, created_at
        FROM new
        ON CONFLICT (id) DO NOTHING
        RETURNING id
    ),
    events AS (
        INSERT INTO job_events (job_id, from_status, to_status, actor_id, detail,
                                created_at, modified)
        SELECT new.id, e.from_status, e.to_status, new.actor_id,
               CASE WHEN e.n = 1 THEN new.detail ELSE 'submitted' END,
               new.created_at, new.created_at
        FROM job JOIN new USING (id),
             (VALUES (1, NULL, 'READY'), (2, 'READY', 'QUEUED')) AS e(n, from_status, to_status)
        WHERE e.n = 1 OR new.submit
        ORDER BY new.created_at, new.id, e.n
    )
    SELECT job.id FROM job
    LEFT JOIN LATERAL (SELECT pg_notify(%(channel)s, '') WHERE %(any_submit)s) AS woken ON true
    """
)

#: The fields a new job is made from (``insert_jobs``).
NEW_JOB_FIELDS = (
    "id", "code", "shell", "args", "env", "stdin", "timeout", "priority", "cpus", "memory_mb",
    "submitter_id",
)  # fmt: skip


@dataclass
class NewJob:
    """A job to store: its ``NEW_JOB_FIELDS``, who made it, and whether it is queued at once."""

    fields: dict
    actor_id: int
    submit: bool = False
    detail: str = "created"
    created_at: datetime.datetime = field(default_factory=utcnow)


def insert_jobs(sql: PlainSQL, jobs: list[NewJob]) -> set[str]:
    """Store new jobs, READY or (``submit``) QUEUED with the claimers woken, in one
    statement; the ids stored (a taken id is not). Ids must differ within a call."""
    params = {name: [job.fields[name] for job in jobs] for name in NEW_JOB_FIELDS}
    params.update(
        # As JSON text (an array of json values cannot be a statement parameter).
        args=[orjson.dumps(job.fields["args"]).decode() for job in jobs],
        env=[orjson.dumps(job.fields["env"]).decode() for job in jobs],
        submit=[job.submit for job in jobs],
        actor_id=[job.actor_id for job in jobs],
        detail=[job.detail for job in jobs],
        created_at=[job.created_at for job in jobs],
        any_submit=any(job.submit for job in jobs),
        channel=NOTIFY_CHANNEL,
    )
    return {row[0] for row in sql.tuples(_INSERT_JOBS, params)}


_SUBMIT_JOB = Statement(
    """
    WITH old AS (
        SELECT id, status FROM jobs WHERE id = %(id)s AND status = ANY(%(from)s::text[]) FOR UPDATE
    ),
    submitted AS (
        UPDATE jobs SET status = 'QUEUED', queued_at = %(now)s, modified = %(now)s
        FROM old WHERE jobs.id = old.id AND jobs.status = ANY(%(from)s::text[])
        RETURNING jobs.id, old.status
    ),
    events AS (
        INSERT INTO job_events (job_id, from_status, to_status, actor_id, detail,
                                created_at, modified)
        SELECT id, status, 'QUEUED', %(actor_id)s, 'submitted', %(now)s, %(now)s
        FROM submitted
    )
    SELECT submitted.id FROM submitted
    CROSS JOIN LATERAL (SELECT pg_notify(%(channel)s, '')) AS woken
    """
)


def submit_job(sql: PlainSQL, job_id: str, actor_id: int) -> bool:
    """Queue a job (READY -> QUEUED: ``may_become(QUEUED)``) and wake the claimers.

    Parameters
    ----------
    sql : PlainSQL
    job_id : str
    actor_id : int
        The user who executes it (recorded in the event).

    Returns
    -------
    bool
        True if it was queued; False if there is no such job or its state may
        not move to QUEUED (checked under a row lock; nothing is changed).
    """
    params = {
        "id": job_id,
        "now": utcnow(),
        "actor_id": actor_id,
        "channel": NOTIFY_CHANNEL,
        "from": may_become(JobStatus.QUEUED),
    }
    return sql.value(_SUBMIT_JOB, params) is not None


def claim_jobs(
    sql: PlainSQL,
    worker: str,
    *,
    max_running: int,
    per_user: int,
    memory_budget_mb: int,
    batch: int,
) -> list[ClaimedJob] | None:
    """Move up to ``batch`` QUEUED jobs to RUNNING, as capacity and fairness allow;
    None when another claim is under way (try again shortly)."""
    rows = sql.rows_if_unlocked(
        _CLAIM_SQL,
        {
            "max_running": max_running,
            "per_user": per_user,
            "memory_budget_mb": memory_budget_mb,
            "batch": batch,
            "worker": worker,
            "detail": f"by {worker}",
            "now": utcnow(),
        },
        lock=_CLAIM_LOCK_KEY,
    )
    return None if rows is None else [ClaimedJob(**row) for row in rows]


@dataclass(frozen=True)
class JobOutput:
    return_code: int | None = None
    stdout: str | None = None
    stderr: str | None = None
    stdout_truncated: bool = False
    stderr_truncated: bool = False


# A job whose cancel was asked for ends CANCELLED unless it completed first;
# either way with its final record, in the one statement that ends it.
_FINISH_JOB = Statement(
    """
    WITH target AS (
        SELECT id, status AS from_status,
               CASE WHEN cancel_requested_at IS NOT NULL AND %(status)s <> 'COMPLETE'
                    THEN 'CANCELLED' ELSE %(status)s END AS status
        FROM jobs WHERE id = %(id)s AND status = ANY(%(from)s::text[])
        FOR UPDATE
    ),
    ended AS (
        UPDATE jobs SET status = target.status,
                        status_message = CASE
                            WHEN target.status = 'CANCELLED' AND %(status)s <> 'CANCELLED'
                            THEN 'cancelled by a user' || coalesce('; ' || %(message)s, '')
                            ELSE %(message)s END,
                        finished_at = %(now)s, modified = %(now)s, return_code = %(return_code)s,
                        stdout = %(stdout)s, stderr = %(stderr)s,
                        stdout_truncated = %(stdout_truncated)s,
                        stderr_truncated = %(stderr_truncated)s
        FROM target WHERE jobs.id = target.id
        RETURNING jobs.id, target.from_status, jobs.status
    ),
    events AS (
        INSERT INTO job_events (job_id, from_status, to_status, detail, created_at, modified)
        SELECT id, from_status, status, %(detail)s, %(now)s, %(now)s FROM ended
    ),
    woken AS (SELECT pg_notify(%(ended_channel)s, id) FROM ended)
    SELECT (SELECT count(*) FROM ended), (SELECT count(*) FROM woken)
    """
)


def finish_job(
    sql: PlainSQL,
    job_id: str,
    status: JobStatus,
    output: JobOutput | None = None,
    message: str | None = None,
) -> bool:
    """RUNNING -> a final state, with the job's final record (return code, output,
    finished_at): one statement, so no reader ever sees the one without the other.
    Called only once every process of the job has ended (or its host is lost).

    A job whose cancel was asked for (``cancel_requested_at``) ends CANCELLED
    unless it completed first. Sends ``ENDED_CHANNEL`` (waiters answer).

    Parameters
    ----------
    sql : PlainSQL
    job_id : str
    status : JobStatus
        How it ended: one of ``FINISHED``.
    output : JobOutput, optional
        Its return code and output (none: all null).
    message : str, optional
        Why (``status_message``, and the event's detail).

    Returns
    -------
    bool
        Whether this call ended the job. False, changing nothing, if its state
        may not move to ``status`` or to CANCELLED (``may_become`` of both: the
        cancel may turn the one into the other), e.g. it ended already.

    Raises
    ------
    ValueError
        ``status`` is not a final state.
    """
    if status not in FINISHED:
        raise ValueError(f"{status!r} is not a final state")
    allowed = set(may_become(JobStatus(status)))
    if status != JobStatus.COMPLETE:
        allowed &= set(may_become(JobStatus.CANCELLED))
    output = output or JobOutput()
    detail = message or (
        f"exit code {output.return_code}" if output.return_code is not None else None
    )
    params = {
        "id": job_id,
        "status": status.value,
        "message": message,
        "detail": detail,
        "now": utcnow(),
        "return_code": output.return_code,
        "stdout": output.stdout,
        "stderr": output.stderr,
        "stdout_truncated": output.stdout_truncated,
        "stderr_truncated": output.stderr_truncated,
        "ended_channel": ENDED_CHANNEL,
        "from": sorted(allowed),
    }
    return sql.value(_FINISH_JOB, params) == 1


def update_ready_job(session: Session, job_id: str, changes: dict, actor_id: int) -> str | None:
    """Apply ``changes`` to a READY job; None if done, else the state that forbids it."""
    job = session.scalar(select(Job).where(Job.id == job_id).with_for_update())
    if job.status != JobStatus.READY:
        session.rollback()
        return job.status
    for name, value in changes.items():
        setattr(job, name, value)
    job.modified = utcnow()
    add_event(
        session,
        job_id,
        JobStatus.READY,
        JobStatus.READY,
        actor_id,
        f"changed: {', '.join(sorted(changes))}",
    )
    session.commit()
    return None


def delete_job(session: Session, job_id: str) -> str | None:
    """Delete a job that is not QUEUED or RUNNING; None if done, else its state."""
    status = session.scalar(select(Job.status).where(Job.id == job_id).with_for_update())
    if status in (JobStatus.QUEUED, JobStatus.RUNNING):
        session.rollback()
        return status
    session.execute(delete(Job).where(Job.id == job_id))
    session.commit()
    return None


#: The states a user's cancel ends at once: those that may become CANCELLED,
#: except RUNNING (its processes may exist: its executor ends them, then
#: ``finish_job`` records it CANCELLED with its output).
_CANCEL_AT_ONCE = sorted(set(may_become(JobStatus.CANCELLED)) - {JobStatus.RUNNING.value})

# One statement: the job cancelled at once, or (RUNNING) its cancel requested;
# the event; and the NOTIFY that tells the waiters (ended) or its executor.
_CANCEL_JOB = Statement(
    """
    WITH old AS (
        SELECT id, status, cancel_requested_at FROM jobs WHERE id = %(id)s::text FOR UPDATE
    ),
    cancelled AS (
        UPDATE jobs SET status = 'CANCELLED', status_message = 'cancelled by a user',
                        finished_at = %(now)s::timestamp, modified = %(now)s::timestamp
        FROM old WHERE jobs.id = old.id AND old.status = ANY(%(at_once)s::text[])
        RETURNING jobs.id, old.status
    ),
    requested AS (
        UPDATE jobs SET cancel_requested_at = %(now)s::timestamp, modified = %(now)s::timestamp
        FROM old
        WHERE jobs.id = old.id AND old.status = 'RUNNING' AND old.cancel_requested_at IS NULL
        RETURNING jobs.id
    ),
    events AS (
        INSERT INTO job_events (job_id, from_status, to_status, actor_id, detail,
                                created_at, modified)
        SELECT id, status, 'CANCELLED', %(actor_id)s::int, 'cancelled',
               %(now)s::timestamp, %(now)s::timestamp
        FROM cancelled
        UNION ALL
        SELECT id, 'RUNNING', 'RUNNING', %(actor_id)s::int, 'cancel requested',
               %(now)s::timestamp, %(now)s::timestamp
        FROM requested
    ),
    told AS (
        SELECT pg_notify(CASE WHEN status = 'RUNNING' THEN %(cancel_channel)s
                              ELSE %(ended_channel)s END, id)
        FROM old WHERE status = ANY(%(at_once)s::text[]) OR status = 'RUNNING'
    )
    SELECT old.status, (SELECT count(*) FROM told) FROM old
    """
)


def cancel_job(sql: PlainSQL, job_id: str, actor_id: int) -> str | None:
    """Cancel a job, in one statement; the state it had.

    A READY or QUEUED job (``_CANCEL_AT_ONCE``) becomes CANCELLED at once (it
    never ran: no return code, no output) and ``ENDED_CHANNEL`` is sent. For a
    RUNNING job the cancel is recorded (``cancel_requested_at`` and an event, the
    first time) and its executor is told on ``CANCEL_CHANNEL``: it ends the job's
    processes and then records it CANCELLED with its output (``finish_job``). A
    final state thus always comes with its final record.

    Parameters
    ----------
    sql : PlainSQL
    job_id : str
    actor_id : int
        The user who cancels it (recorded in the event).

    Returns
    -------
    str or None
        The state it had (READY, QUEUED or RUNNING); None, changing nothing, if
        there is no such job or it has ended already.
    """
    params = {
        "id": job_id,
        "actor_id": actor_id,
        "now": utcnow(),
        "at_once": _CANCEL_AT_ONCE,
        "cancel_channel": CANCEL_CHANNEL,
        "ended_channel": ENDED_CHANNEL,
    }
    row = sql.row(_CANCEL_JOB, params)
    if row is None or row["status"] not in (*_CANCEL_AT_ONCE, JobStatus.RUNNING):
        return None
    return row["status"]


_RUNNING_ON_HOST = Statement(
    "SELECT id, number, worker, started_at, timeout, cancel_requested_at FROM jobs "
    "WHERE status = 'RUNNING' AND worker LIKE %(pattern)s"
)


def running_jobs_on_host(sql: PlainSQL, host: str) -> list[dict]:
    """RUNNING jobs started by any worker on this host (``worker`` is "host:pid"):
    their id, number, worker, started_at, timeout and cancel_requested_at."""
    pattern = host.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ":%"
    return sql.rows(_RUNNING_ON_HOST, {"pattern": pattern})


def jobs_of_silent_workers(
    session: Session, host: str, silent_for: datetime.timedelta
) -> list[str]:
    """RUNNING jobs of other hosts' workers that sent no heartbeat for ``silent_for``
    (their host is gone, or renamed: nobody there will ever end them)."""
    heard_from = select(Worker.id).where(Worker.last_seen > utcnow() - silent_for)
    return list(
        session.scalars(
            select(Job.id).where(
                Job.status == JobStatus.RUNNING,
                Job.started_at < utcnow() - silent_for,
                Job.worker.not_like(f"{host}:%"),
                or_(Job.worker.is_(None), Job.worker.not_in(heard_from)),
            )
        )
    )


def adopt_job(session: Session, job_id: str, old_worker: str | None, new_worker: str) -> bool:
    """Take over a job whose worker is gone; False if another worker took it first."""
    row = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING, Job.worker == old_worker)
        .values(worker=new_worker)
        .returning(Job.id)
    ).first()
    if row is not None:
        add_event(
            session,
            job_id,
            JobStatus.RUNNING,
            JobStatus.RUNNING,
            None,
            f"adopted by {new_worker} from {old_worker}",
        )
    session.commit()
    return row is not None


# Only one worker at a time sweeps old jobs (a session-level try-lock).
_RETENTION_LOCK_KEY = 0x5E11_0B6


def delete_finished_before(
    session: Session, cutoff: datetime.datetime, batch: int = 500
) -> list[str] | None:
    """Delete up to ``batch`` jobs that finished before ``cutoff``; their ids.

    None when another worker holds the sweep. Each batch is its own short
    transaction, so the table is never locked for long.
    """
    if not session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _RETENTION_LOCK_KEY}
    ):
        session.rollback()
        return None
    oldest = (
        select(Job.id)
        .where(Job.finished_at < cutoff, Job.status.in_([s.value for s in FINISHED]))
        .order_by(Job.finished_at)
        .limit(batch)
    )
    ids = list(session.scalars(delete(Job).where(Job.id.in_(oldest)).returning(Job.id)))
    session.commit()
    return ids


def heartbeat(session: Session, worker: str, running: int) -> None:
    """Record that ``worker`` is alive and watches ``running`` jobs; forget long-dead ones."""
    now = utcnow()
    session.execute(
        insert(Worker)
        .values(id=worker, last_seen=now, running=running, created_at=now, modified=now)
        .on_conflict_do_update(
            index_elements=[Worker.id], set_={"last_seen": now, "running": running, "modified": now}
        )
    )
    session.execute(delete(Worker).where(Worker.last_seen < now - datetime.timedelta(hours=1)))
    session.commit()


_LIVE_WORKERS = Statement(
    "SELECT id, last_seen, running FROM workers WHERE last_seen > %(since)s ORDER BY id"
)
_RUNNING_LOAD = Statement(
    "SELECT count(*), coalesce(sum(memory_mb), 0) FROM jobs WHERE status = 'RUNNING'"
)
_COUNT_ACTIVE = Statement(
    "SELECT status, count(*) FROM jobs WHERE status IN ('QUEUED', 'RUNNING') GROUP BY status"
)


def live_workers(sql: PlainSQL, within: datetime.timedelta) -> list[dict]:
    return sql.rows(_LIVE_WORKERS, {"since": utcnow() - within})


def running_load(sql: PlainSQL) -> tuple[int, int]:
    """Jobs running on the queue's hosts, and the memory they asked for (MiB)."""
    row = sql.tuples(_RUNNING_LOAD)[0]
    return row[0], int(row[1])


def count_active(sql: PlainSQL) -> dict[str, int]:
    """QUEUED and RUNNING jobs: exact and cheap (partial indexes)."""
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
    """Count the jobs per state (the whole table) if the stored counts are older
    than ``max_age`` and no one else is counting; whether this call counted.
    Blocking for as long as the count takes: call it in a thread."""
    now = utcnow()
    rows = sql.rows_if_unlocked(
        _RECOUNT_SQL, {"before": now - max_age, "now": now}, _RECOUNT_LOCK_KEY
    )
    return bool(rows)


def stored_counts(sql: PlainSQL) -> dict[str, int]:
    """Jobs in every state as of the last recount (zero for the states never seen)."""
    counts = {status.value: 0 for status in JobStatus}
    counts.update(dict(sql.tuples(_JOB_COUNTS)))
    return counts


# Reads of jobs for the API.


def job_row(sql: PlainSQL, job_id: str, columns: tuple[str, ...]) -> dict | None:
    """One job's ``columns`` and its owner, in one plain read (the hot paths use it).

    Parameters
    ----------
    sql : PlainSQL
    job_id : str
        Any text; an id holding a NUL (which PostgreSQL refuses) finds nothing.
    columns : tuple of str
        Names of ``jobs`` columns (trusted: written in the code, never from a request).

    Returns
    -------
    dict or None
        The columns by name, plus ``submitter_id``; None if there is no such job.
    """
    if "\x00" in job_id:
        return None
    names = ", ".join(dict.fromkeys((*columns, "submitter_id")))
    return sql.row(statement(f"SELECT {names} FROM jobs WHERE id = %(id)s"), {"id": job_id})


def get_job(session: Session, job_id: str) -> Job | None:
    """The job as an ORM object (for the handlers that serialize or edit it); None
    if there is none (or ``job_id`` holds a NUL)."""
    return session.get(Job, job_id) if "\x00" not in job_id else None


def job_status(sql: PlainSQL, job_id: str) -> str | None:
    """The job's state; None if there is no such job (or it was deleted)."""
    return sql.value(_JOB_STATUS, {"id": job_id})


_JOB_STATUS = Statement("SELECT status FROM jobs WHERE id = %(id)s")


def job_events(session: Session, job_id: str) -> list[JobEvent]:
    """Every event of the job, oldest first (empty if there is no such job)."""
    return list(
        session.scalars(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id))
    )


_UNENDED_OF_USER = Statement(
    "SELECT id FROM jobs WHERE submitter_id = %(user_id)s AND status = ANY(%(unended)s)"
)


def cancel_jobs_of(sql: PlainSQL, user_id: int, actor_id: int) -> list[str]:
    """Cancel every job of a user that has not ended (``cancel_job`` each: a RUNNING
    one is ended by its executor, which records it CANCELLED).

    Parameters
    ----------
    sql : PlainSQL
    user_id : int
        Whose jobs.
    actor_id : int
        Who cancels them (recorded in the events).

    Returns
    -------
    list of str
        The ids of the jobs this call cancelled or asked to cancel.
    """
    unended = [status.value for status in JobStatus if status not in FINISHED]
    rows = sql.tuples(_UNENDED_OF_USER, {"user_id": user_id, "unended": unended})
    return [job_id for (job_id,) in rows if cancel_job(sql, job_id, actor_id) is not None]
