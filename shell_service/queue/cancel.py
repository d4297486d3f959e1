"""A user's cancel: a job that never ran ends CANCELLED at once; a RUNNING one gets
its cancel recorded, and its executor ends it (``finish_job`` records it then).
Each is one plain statement with its event and NOTIFY."""

from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL, Statement

from ..job_states import FINISHED, JobStatus, may_become
from .channels import CANCEL_CHANNEL, ENDED_CHANNEL

#: The states a user's cancel ends at once: those that may become CANCELLED,
#: except RUNNING (its processes may exist: its executor ends them, then
#: ``finish_job`` records it CANCELLED with its output).
_CANCEL_AT_ONCE = sorted(set(may_become(JobStatus.CANCELLED)) - {JobStatus.RUNNING.value})

# One statement: the job cancelled at once, or (RUNNING) its cancel requested;
# the event; and the NOTIFY that tells the waiters (ended) or its executor.
_CANCEL_JOB = Statement(
    """
    WITH old AS (
        SELECT id, status, cancel_requested_at,
               -- Its executor must end it: it runs, or Slurm has it (held QUEUED).
               status = 'RUNNING' OR (status = 'QUEUED' AND executor IS NOT NULL) AS held
        FROM jobs WHERE id = %(id)s::text FOR UPDATE
    ),
    cancelled AS (
        UPDATE jobs SET status = 'CANCELLED', status_message = 'cancelled by a user',
                        waiting_for = NULL, eligible_at = NULL,
                        finished_at = %(now)s::timestamp, modified = %(now)s::timestamp
        FROM old
        WHERE jobs.id = old.id AND old.status = ANY(%(at_once)s::text[]) AND NOT old.held
        RETURNING jobs.id, old.status
    ),
    requested AS (
        UPDATE jobs SET cancel_requested_at = %(now)s::timestamp, modified = %(now)s::timestamp
        FROM old
        WHERE jobs.id = old.id AND old.held AND old.cancel_requested_at IS NULL
        RETURNING jobs.id, old.status
    ),
    events AS (
        INSERT INTO job_events (job_id, from_status, to_status, actor_id, detail,
                                created_at, modified)
        SELECT id, status, 'CANCELLED', %(actor_id)s::int, 'cancelled',
               %(now)s::timestamp, %(now)s::timestamp
        FROM cancelled
        UNION ALL
        SELECT id, status, status, %(actor_id)s::int, 'cancel requested',
               %(now)s::timestamp, %(now)s::timestamp
        FROM requested
    ),
    told AS (
        SELECT pg_notify(CASE WHEN held THEN %(cancel_channel)s ELSE %(ended_channel)s END, id)
        FROM old WHERE status = ANY(%(at_once)s::text[]) OR held
    )
    SELECT old.status, (SELECT count(*) FROM told) FROM old
    """
)


# An array job that runs (waiting for its tasks): its cancel is recorded, its
# waiting tasks end CANCELLED at once and its running (or Slurm-held) ones are
# asked to end; the waiting-jobs service ends the array once none is left
# (``queue/waiting.py``: CANCELLED, unless every task completed). No task is
# made after the cancel.
_CANCEL_ARRAY = Statement(
    """
    WITH array_job AS (
        SELECT id, cancel_requested_at FROM jobs
        WHERE id = %(id)s::text AND status = 'QUEUED' AND waiting_for = 'tasks'
        FOR UPDATE
    ),
    requested AS (
        UPDATE jobs SET cancel_requested_at = %(now)s::timestamp, modified = %(now)s::timestamp
        FROM array_job WHERE jobs.id = array_job.id AND array_job.cancel_requested_at IS NULL
        RETURNING jobs.id
    ),
    tasks AS (
        SELECT t.id, t.status, t.cancel_requested_at, t.array_id,
               t.status = 'RUNNING' OR t.executor IS NOT NULL AS held
        FROM jobs t JOIN array_job ON t.array_id = array_job.id
        WHERE t.status IN ('QUEUED', 'RUNNING')
        FOR UPDATE OF t
    ),
    cancelled AS (
        UPDATE jobs SET status = 'CANCELLED',
                        status_message = 'cancelled with array ' || tasks.array_id,
                        waiting_for = NULL, finished_at = %(now)s::timestamp,
                        modified = %(now)s::timestamp
        FROM tasks WHERE jobs.id = tasks.id AND NOT tasks.held
        RETURNING jobs.id, tasks.status
    ),
    asked AS (
        UPDATE jobs SET cancel_requested_at = %(now)s::timestamp, modified = %(now)s::timestamp
        FROM tasks WHERE jobs.id = tasks.id AND tasks.held AND tasks.cancel_requested_at IS NULL
        RETURNING jobs.id, tasks.status
    ),
    events AS (
        INSERT INTO job_events (job_id, from_status, to_status, actor_id, detail,
                                created_at, modified)
        SELECT id, 'QUEUED', 'QUEUED', %(actor_id)s::int, 'cancel requested',
               %(now)s::timestamp, %(now)s::timestamp FROM requested
        UNION ALL
        SELECT id, status, 'CANCELLED', %(actor_id)s::int, 'cancelled with its array',
               %(now)s::timestamp, %(now)s::timestamp FROM cancelled
        UNION ALL
        SELECT id, status, status, %(actor_id)s::int, 'cancel requested (its array)',
               %(now)s::timestamp, %(now)s::timestamp FROM asked
    ),
    told AS (
        SELECT pg_notify(%(ended_channel)s, id) FROM cancelled
        UNION ALL SELECT pg_notify(%(cancel_channel)s, id) FROM asked
        -- The waiting-jobs service ends the array now if no task was left running.
        UNION ALL SELECT pg_notify(%(ended_channel)s, id) FROM requested
    )
    SELECT (SELECT count(*) FROM array_job), (SELECT count(*) FROM told)
    """
)


def cancel_job(sql: PlainSQL, job_id: str, actor_id: int) -> str | None:
    """Cancel a job, in one statement (two for an array); the state it had.

    A READY or QUEUED job (``_CANCEL_AT_ONCE``) becomes CANCELLED at once (it
    never ran: no return code, no output) and ``ENDED_CHANNEL`` is sent. For a
    RUNNING job, and a QUEUED one an executor holds (handed to Slurm), the cancel
    is recorded (``cancel_requested_at`` and an event, the first time) and its
    executor is told on ``CANCEL_CHANNEL``: it ends the job's processes (or
    ``scancel``s it) and then records it CANCELLED with its output
    (``finish_job``). A final state thus always comes with its final record.

    An array job whose tasks run (``_CANCEL_ARRAY``) has its cancel recorded;
    its waiting tasks are cancelled at once, its running ones asked to end, and
    it ends CANCELLED once none is left (the waiting-jobs service). The array's
    row lock orders the cancel and the making of its tasks; a second statement
    takes the tasks made just before. One that waits for its dependencies has
    no task yet: it is cancelled at once.

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
    if sql.tuples(_CANCEL_ARRAY, params)[0][0]:
        # A pass making its tasks held the array's lock when this statement began:
        # the tasks it made are not in that statement's snapshot. Once the cancel
        # is committed no task is made (``waiting.make_tasks`` locks the array and
        # reads ``cancel_requested_at``), so a second statement sees every task.
        sql.tuples(_CANCEL_ARRAY, params)
        return JobStatus.QUEUED.value
    row = sql.row(_CANCEL_JOB, params)
    if row is None or row["status"] not in (*_CANCEL_AT_ONCE, JobStatus.RUNNING):
        return None
    return row["status"]


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
