"""The statements of the waiting-jobs service (``shell_service/waiting.py``): the
QUEUED jobs that wait (``jobs.waiting_for``) and what moves them on.

* ``dependencies``: each ``job_dependencies`` row is settled once its job has
  ended (``satisfied``: whether its condition held; a job that no longer exists
  settles it false). A waiting job with an unsatisfied one ends CANCELLED,
  naming it (Slurm's ``kill_invalid_depend``); one whose every dependency holds
  is released: claimable, or an array job's tasks begin.
* ``backoff``: a retry waiting until ``eligible_at`` is released then.
* ``tasks``: an array job. Its tasks are made as they become due, as Slurm
  splits a pending array: at most ``%N`` of them unended (its ``max_running``)
  and at most ``made_ahead`` of its user's tasks waiting to be claimed (over
  all their arrays not ended, cancelled ones included), so an array of 100,000
  is one row at submit and the claim sees a few of its tasks at a time,
  however many arrays the user has. Making an array's tasks locks its row, as
  its cancel does, so no task is made after the cancel has looked; a cancelled
  array's QUEUED tasks are cancelled by the pass too. The array
  job ends once every task is made and ended: COMPLETE when all completed,
  CANCELLED after a cancel, FAILED otherwise (its message counts the ends).

Each function is one statement, safe beside another waiting-jobs service on
the same database (row locks, and compare-and-set on ``array_made``); each
change writes its events and NOTIFYs (a job claimable: the claimers; a job
ended: its waiters, and the dependencies on it).
"""

import datetime

from baselayer.app.plain_sql import PlainSQL, Statement

from ..job_states import FINISHED
from .channels import ENDED_CHANNEL, QUEUED_CHANNEL

_FINISHED = sorted(status.value for status in FINISHED)

#: Whether a ``job_dependencies`` row ``d``'s condition holds for its job, ended
#: in ``{status}`` (an SQL expression): Slurm's afterany, afterok, afternotok.
#: One text for the two statements that settle dependencies (this module's
#: ``settle_dependencies`` and a job's end, ``transitions.DEPENDENTS_CTES``).
CONDITION_HOLDS = """CASE d.condition WHEN 'afterany' THEN true
                                         WHEN 'afterok' THEN {status} = 'COMPLETE'
                                         ELSE {status} <> 'COMPLETE' END"""

#: What a waiting job released becomes (an UPDATE's SET list): claimable, or, an
#: array job, waiting for its tasks; queued from ``%(now)s`` (its place in line).
RELEASED = """waiting_for = CASE WHEN jobs.array_spec IS NOT NULL THEN 'tasks' END,
                        status_message = NULL, eligible_at = NULL,
                        queued_at = %(now)s, modified = %(now)s"""

_SETTLE_DEPENDENCIES = Statement(
    """
    WITH ended AS (
        UPDATE job_dependencies d
        SET satisfied = {condition_holds},
            modified = %(now)s
        FROM jobs j
        WHERE d.satisfied IS NULL AND j.number = d.depends_on_number
          AND j.status = ANY(%(finished)s)
        RETURNING d.job_id
    ),
    -- Deleted (its id may name another job since: not this dependency's).
    gone AS (
        UPDATE job_dependencies d SET satisfied = false, modified = %(now)s
        WHERE d.satisfied IS NULL
          AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.number = d.depends_on_number)
        RETURNING d.job_id
    )
    SELECT (SELECT count(*) FROM ended) + (SELECT count(*) FROM gone)
    """.replace("{condition_holds}", CONDITION_HOLDS.format(status="j.status"))
)


def settle_dependencies(sql: PlainSQL, now: datetime.datetime) -> int:
    """Settle every pending dependency whose job has ended (or is gone).

    Parameters
    ----------
    sql : PlainSQL
    now : datetime.datetime
        Naive UTC.

    Returns
    -------
    int
        How many were settled.
    """
    return sql.value(_SETTLE_DEPENDENCIES, {"now": now, "finished": _FINISHED})


# The first unsatisfied dependency names the reason, with how its job ended.
_CANCEL_UNSATISFIABLE = Statement(
    """
    WITH doomed AS (
        SELECT j.id, j.status,
               (SELECT 'dependency ' || d.condition || ' on job ' || d.depends_on
                       || ' cannot be satisfied: '
                       || coalesce('it ended ' || o.status, 'it no longer exists')
                FROM job_dependencies d LEFT JOIN jobs o ON o.number = d.depends_on_number
                WHERE d.job_id = j.id AND d.satisfied = false
                ORDER BY d.depends_on LIMIT 1) AS reason
        FROM jobs j
        WHERE j.status = 'QUEUED' AND j.waiting_for = 'dependencies'
          AND EXISTS (SELECT 1 FROM job_dependencies d
                      WHERE d.job_id = j.id AND d.satisfied = false)
        FOR UPDATE OF j SKIP LOCKED
    ),
    cancelled AS (
        UPDATE jobs SET status = 'CANCELLED', status_message = doomed.reason,
                        waiting_for = NULL, finished_at = %(now)s, modified = %(now)s
        FROM doomed WHERE jobs.id = doomed.id
        RETURNING jobs.id, doomed.status, doomed.reason
    ),
    events AS (
        INSERT INTO job_events (job_id, from_status, to_status, detail, created_at, modified)
        SELECT id, status, 'CANCELLED', reason, %(now)s, %(now)s FROM cancelled
    ),
    woken AS (SELECT pg_notify(%(ended_channel)s, id) FROM cancelled)
    SELECT (SELECT count(*) FROM cancelled), (SELECT count(*) FROM woken)
    """
)


def cancel_unsatisfiable(sql: PlainSQL, now: datetime.datetime) -> int:
    """End CANCELLED every waiting job with a dependency that can no longer hold,
    its status message naming it ("dependency afterok on job A cannot be
    satisfied: it ended FAILED"). Their own dependents settle on the next
    ``settle_dependencies``: call both until nothing changes.

    Parameters
    ----------
    sql : PlainSQL
    now : datetime.datetime
        Naive UTC.

    Returns
    -------
    int
        How many jobs were cancelled.
    """
    params = {"now": now, "ended_channel": ENDED_CHANNEL}
    return sql.tuples(_CANCEL_UNSATISFIABLE, params)[0][0]


_RELEASE = Statement(
    """
    WITH due AS (
        SELECT j.id, j.waiting_for FROM jobs j
        WHERE j.status = 'QUEUED'
          AND ((j.waiting_for = 'dependencies'
                AND NOT EXISTS (SELECT 1 FROM job_dependencies d
                                WHERE d.job_id = j.id AND d.satisfied IS NOT TRUE))
               OR (j.waiting_for = 'backoff' AND j.eligible_at <= %(now)s))
        FOR UPDATE OF j SKIP LOCKED
    ),
    released AS (
        UPDATE jobs SET {released}
        FROM due WHERE jobs.id = due.id
        RETURNING jobs.id, due.waiting_for AS was, jobs.waiting_for AS now_waiting
    ),
    events AS (
        INSERT INTO job_events (job_id, from_status, to_status, detail, created_at, modified)
        SELECT id, 'QUEUED', 'QUEUED',
               CASE was WHEN 'dependencies' THEN 'dependencies satisfied'
                        ELSE 'back-off over' END,
               %(now)s, %(now)s
        FROM released
    ),
    woken AS (
        SELECT pg_notify(%(queued_channel)s, '')
        WHERE EXISTS (SELECT 1 FROM released WHERE now_waiting IS NULL)
    )
    SELECT (SELECT count(*) FROM released), (SELECT count(*) FROM woken)
    """.replace("{released}", RELEASED)
)


def release_due(sql: PlainSQL, now: datetime.datetime) -> int:
    """Release the waiting jobs whose dependencies all hold or whose back-off is
    over: claimable from now (``queued_at``: now, their place in their user's
    line), or, an array job, its tasks begin to be made. Wakes the claimers.

    Parameters
    ----------
    sql : PlainSQL
    now : datetime.datetime
        Naive UTC.

    Returns
    -------
    int
        How many were released.
    """
    params = {"now": now, "queued_channel": QUEUED_CHANNEL}
    return sql.tuples(_RELEASE, params)[0][0]


#: The columns a task copies from its array job (and ``NewJob``'s options).
TASK_COLUMNS = (
    "code", "shell", "args", "env", "stdin", "timeout", "priority", "cpus", "memory_mb",
    "queue", "requeue_on_host_loss", "submitter_id", "definition_id", "definition_name",
    "definition_version", "parameters", "secret_env", "schedule_id", "scheduled_for", "retry",
)  # fmt: skip

_MAKE_TASKS = Statement(
    """
    WITH running AS (
        SELECT a.id, a.submitter_id, a.created_at, a.array_made, a.array_size,
               a.array_max_running,
               a.cancel_requested_at IS NULL AND a.array_made < a.array_size AS growing,
               (SELECT count(*) FROM jobs t
                WHERE t.array_id = a.id AND t.status IN ('QUEUED', 'RUNNING')) AS unended,
               (SELECT count(*) FROM jobs t
                WHERE t.array_id = a.id AND t.status = 'QUEUED') AS queued
        FROM jobs a
        WHERE a.status = 'QUEUED' AND a.waiting_for = 'tasks'
    ),
    -- Each user's array tasks waiting to be claimed, over all their arrays that
    -- have not ended: those made in full and those cancelled count too, until
    -- their tasks end.
    users AS (
        SELECT submitter_id, sum(queued) AS user_queued FROM running GROUP BY submitter_id
    ),
    -- The arrays that grow, each locked until this statement ends: a cancel
    -- locks its array too, so the two never overlap on one array (an array
    -- locked now, by a cancel or another service's pass, waits for the next
    -- pass), and a cancel committed since this statement began is seen here.
    locked AS (
        SELECT a.id FROM jobs a
        WHERE a.id IN (SELECT id FROM running WHERE growing)
          AND a.status = 'QUEUED' AND a.waiting_for = 'tasks' AND a.cancel_requested_at IS NULL
        FOR UPDATE OF a SKIP LOCKED
    ),
    -- Each array's room (its size left, its %N).
    room AS (
        SELECT running.*, users.user_queued,
               greatest(least(array_size - array_made,
                              coalesce(array_max_running, %(unlimited)s) - unended), 0) AS room
        FROM running JOIN locked USING (id) JOIN users USING (submitter_id)
    ),
    -- A user's arrays share made_ahead, oldest array first.
    per_user AS (
        SELECT id, array_made, user_queued, created_at,
               greatest(least(room, %(made_ahead)s - user_queued
                                    - (sum(room) OVER (PARTITION BY submitter_id
                                                       ORDER BY created_at, id) - room)), 0) AS n
        FROM room WHERE room > 0
    ),
    -- One statement makes at most made_ahead tasks: the users with the fewest
    -- waiting first (the rest in the next pass, which this one's NOTIFY wakes).
    arrays AS (
        SELECT id, array_made,
               least(n, greatest(%(made_ahead)s
                                 - (sum(n) OVER (ORDER BY user_queued, created_at, id) - n), 0))
                 AS n
        FROM per_user WHERE n > 0
    ),
    grown AS (
        UPDATE jobs a SET array_made = a.array_made + arrays.n, modified = %(now)s
        FROM arrays
        WHERE a.id = arrays.id AND arrays.n > 0 AND a.array_made = arrays.array_made
          AND a.status = 'QUEUED' AND a.waiting_for = 'tasks' AND a.cancel_requested_at IS NULL
        RETURNING a.id, arrays.array_made AS made_before, a.array_made AS made_after
    ),
    task AS (
        INSERT INTO jobs (id, array_id, array_index, array_size, status, queued_at,
                          created_at, modified, {columns})
        SELECT a.id || ':' || i.idx, a.id, i.idx, a.array_size, 'QUEUED', %(now)s,
               %(now)s, %(now)s, {a_columns}
        FROM grown JOIN jobs a ON a.id = grown.id
        CROSS JOIN LATERAL unnest(a.array_indexes[grown.made_before + 1 : grown.made_after])
             WITH ORDINALITY AS i(idx, n)
        ORDER BY a.id, i.n
        -- No user may name a job <id>:<n> (job_paths.TASK_ID_PATTERN); a task
        -- left by an earlier array of this id (retention deletes an array job and
        -- its tasks apart) is one task less, counted by the array's end.
        ON CONFLICT (id) DO NOTHING
        RETURNING id, array_id, array_index, submitter_id
    ),
    events AS (
        INSERT INTO job_events (job_id, from_status, to_status, actor_id, detail,
                                created_at, modified)
        SELECT id, NULL, 'QUEUED', submitter_id,
               'task ' || array_index || ' of array ' || array_id, %(now)s, %(now)s
        FROM task
    ),
    woken AS (SELECT pg_notify(%(queued_channel)s, '') WHERE EXISTS (SELECT 1 FROM task))
    SELECT (SELECT count(*) FROM task), (SELECT count(*) FROM woken)
    """.replace("{columns}", ", ".join(TASK_COLUMNS)).replace(
        "{a_columns}", ", ".join(f"a.{column}" for column in TASK_COLUMNS)
    )
)


def make_tasks(sql: PlainSQL, now: datetime.datetime, made_ahead: int, unlimited: int) -> int:
    """Make the tasks that are due for the array jobs that run: as many as keep
    each array at most ``array_max_running`` unended and each user at most
    ``made_ahead`` tasks waiting to be claimed (over all their arrays, oldest
    array first), at most ``made_ahead`` in all (the users with the fewest
    waiting first), in index order, each QUEUED with an event; wake the
    claimers (and so the next pass, for the rest).

    Parameters
    ----------
    sql : PlainSQL
    now : datetime.datetime
        Naive UTC.
    made_ahead : int
        Most array tasks of one user QUEUED at once, and most made by one call
        (``arrays.tasks_ahead``).
    unlimited : int
        The bound of an array without ``%N``.

    Returns
    -------
    int
        How many tasks were made.
    """
    params = {
        "now": now,
        "made_ahead": made_ahead,
        "unlimited": unlimited,
        "queued_channel": QUEUED_CHANNEL,
    }
    return sql.tuples(_MAKE_TASKS, params)[0][0]


# The tasks of an array whose cancel is recorded that are still QUEUED and not
# held by an executor: none should be (the cancel takes them), but a task is
# never left to run after its array's cancel.
_CANCEL_TASKS_OF_CANCELLED_ARRAYS = Statement(
    """
    WITH tasks AS (
        SELECT t.id, t.array_id FROM jobs a JOIN jobs t ON t.array_id = a.id
        WHERE a.status = 'QUEUED' AND a.waiting_for = 'tasks'
          AND a.cancel_requested_at IS NOT NULL
          AND t.status = 'QUEUED' AND t.executor IS NULL
        FOR UPDATE OF t SKIP LOCKED
    ),
    cancelled AS (
        UPDATE jobs SET status = 'CANCELLED',
                        status_message = 'cancelled with array ' || tasks.array_id,
                        waiting_for = NULL, eligible_at = NULL, finished_at = %(now)s,
                        modified = %(now)s
        FROM tasks WHERE jobs.id = tasks.id AND jobs.status = 'QUEUED'
        RETURNING jobs.id
    ),
    events AS (
        INSERT INTO job_events (job_id, from_status, to_status, detail, created_at, modified)
        SELECT id, 'QUEUED', 'CANCELLED', 'cancelled with its array', %(now)s, %(now)s
        FROM cancelled
    ),
    woken AS (SELECT pg_notify(%(ended_channel)s, id) FROM cancelled)
    SELECT (SELECT count(*) FROM cancelled), (SELECT count(*) FROM woken)
    """
)


def cancel_tasks_of_cancelled_arrays(sql: PlainSQL, now: datetime.datetime) -> int:
    """End CANCELLED the QUEUED tasks (not held by an executor) of every array whose
    cancel is recorded and that has not ended, with their events and NOTIFYs.

    Parameters
    ----------
    sql : PlainSQL
    now : datetime.datetime
        Naive UTC.

    Returns
    -------
    int
        How many tasks were cancelled.
    """
    params = {"now": now, "ended_channel": ENDED_CHANNEL}
    return sql.tuples(_CANCEL_TASKS_OF_CANCELLED_ARRAYS, params)[0][0]


_END_ARRAYS = Statement(
    """
    WITH done AS (
        SELECT a.id, a.array_size, a.array_made, a.cancel_requested_at FROM jobs a
        WHERE a.status = 'QUEUED' AND a.waiting_for = 'tasks'
          AND (a.array_made >= a.array_size OR a.cancel_requested_at IS NOT NULL)
          AND NOT EXISTS (SELECT 1 FROM jobs t
                          WHERE t.array_id = a.id AND t.status IN ('QUEUED', 'RUNNING'))
        FOR UPDATE OF a SKIP LOCKED
    ),
    -- The tasks never made after a cancel count as CANCELLED (as Slurm's
    -- pending array tasks do).
    ends AS (
        SELECT done.id, t.status, count(*) AS n
        FROM done JOIN jobs t ON t.array_id = done.id
        GROUP BY done.id, t.status
        UNION ALL
        SELECT id, 'CANCELLED', array_size - array_made FROM done
        WHERE cancel_requested_at IS NOT NULL AND array_size > array_made
    ),
    ends_by_state AS (
        SELECT id, status, sum(n) AS n FROM ends GROUP BY id, status
    ),
    -- Its end is never stamped before its last task's (each process's clock is
    -- read before its statement runs).
    last_end AS (
        SELECT done.id, max(t.finished_at) AS at
        FROM done JOIN jobs t ON t.array_id = done.id GROUP BY done.id
    ),
    outcome AS (
        SELECT done.id,
               CASE WHEN coalesce(sum(ends.n) FILTER (WHERE ends.status = 'COMPLETE'), 0)
                         = done.array_size THEN 'COMPLETE'
                    WHEN done.cancel_requested_at IS NOT NULL THEN 'CANCELLED'
                    ELSE 'FAILED' END AS status,
               done.array_size
                 - coalesce(sum(ends.n) FILTER (WHERE ends.status = 'COMPLETE'), 0) AS not_ok,
               done.array_size,
               string_agg(ends.n || ' ' || ends.status, ', ' ORDER BY ends.status)
                 FILTER (WHERE ends.status <> 'COMPLETE') AS detail
        FROM done LEFT JOIN ends_by_state AS ends ON ends.id = done.id
        GROUP BY done.id, done.array_size, done.cancel_requested_at
    ),
    ended AS (
        UPDATE jobs SET status = outcome.status, waiting_for = NULL,
                        status_message = CASE WHEN outcome.status = 'COMPLETE' THEN NULL
                            ELSE outcome.not_ok || ' of ' || outcome.array_size
                                 || ' tasks did not complete'
                                 || coalesce(' (' || outcome.detail || ')', '')
                                 || CASE WHEN outcome.status = 'CANCELLED'
                                         THEN '; cancelled by a user' ELSE '' END
                            END,
                        finished_at = greatest(%(now)s, (SELECT at FROM last_end
                                                         WHERE last_end.id = outcome.id)),
                        modified = %(now)s
        FROM outcome WHERE jobs.id = outcome.id
        RETURNING jobs.id, jobs.status, jobs.status_message
    ),
    events AS (
        INSERT INTO job_events (job_id, from_status, to_status, detail, created_at, modified)
        SELECT id, 'QUEUED', status, coalesce(status_message, 'every task completed'),
               %(now)s, %(now)s
        FROM ended
    ),
    woken AS (SELECT pg_notify(%(ended_channel)s, id) FROM ended)
    SELECT (SELECT count(*) FROM ended), (SELECT count(*) FROM woken)
    """
)


def end_arrays(sql: PlainSQL, now: datetime.datetime) -> int:
    """End every array job whose tasks are all made and ended (or, after a cancel,
    whose made tasks have ended): COMPLETE when every task completed, else
    CANCELLED after a cancel, else FAILED; the message counts the tasks that
    did not complete, by state. Sends ``ENDED_CHANNEL`` for each.

    Parameters
    ----------
    sql : PlainSQL
    now : datetime.datetime
        Naive UTC.

    Returns
    -------
    int
        How many array jobs ended.
    """
    return sql.tuples(_END_ARRAYS, {"now": now, "ended_channel": ENDED_CHANNEL})[0][0]


_NEXT_ELIGIBLE = Statement(
    "SELECT min(eligible_at) FROM jobs WHERE status = 'QUEUED' AND waiting_for = 'backoff'"
)


def next_eligible(sql: PlainSQL) -> datetime.datetime | None:
    """When the earliest back-off ends (naive UTC); None if no job waits one."""
    return sql.value(_NEXT_ELIGIBLE)


# ---- what the API reads and checks ------------------------------------------

_OWNERS = Statement("SELECT id, submitter_id, number FROM jobs WHERE id = ANY(%(ids)s::text[])")


def job_owners(sql: PlainSQL, job_ids: list[str]) -> dict[str, tuple[int, int]]:
    """The owner and number of each of ``job_ids`` that exists (a new job's
    dependencies must name jobs its submitter may see, and name them as they
    are now: ``jobs.number``).

    Parameters
    ----------
    sql : PlainSQL
    job_ids : list of str

    Returns
    -------
    dict of str to (int, int)
        Job id -> (submitter id, number); a missing id is left out.
    """
    return {
        job_id: (owner, number) for job_id, owner, number in sql.tuples(_OWNERS, {"ids": job_ids})
    }


_DEPENDENCIES_OF = Statement(
    """
    SELECT d.depends_on AS job, d.condition, d.satisfied, o.status
    FROM job_dependencies d LEFT JOIN jobs o ON o.number = d.depends_on_number
    WHERE d.job_id = %(id)s ORDER BY d.depends_on
    """
)


def dependencies_of(sql: PlainSQL, job_id: str) -> list[dict]:
    """A job's dependencies, by job id.

    Parameters
    ----------
    sql : PlainSQL
    job_id : str

    Returns
    -------
    list of dict
        ``job``, ``condition``, ``satisfied`` (None until that job ends) and
        ``status`` (that job's state now; None once it is deleted, even if
        another job has its id since).
    """
    return sql.rows(_DEPENDENCIES_OF, {"id": job_id})


_ARRAY_COUNTS = Statement(
    """
    SELECT status, count(*) FROM jobs WHERE array_id = %(id)s GROUP BY status
    UNION ALL
    -- Not made yet: PENDING while the array runs; after it ended (a cancel),
    -- CANCELLED, as its end counted them.
    SELECT CASE WHEN status IN ('READY', 'QUEUED') THEN 'PENDING' ELSE 'CANCELLED' END,
           array_size - array_made
    FROM jobs WHERE id = %(id)s AND array_spec IS NOT NULL AND array_size > array_made
    """
)


def array_counts(sql: PlainSQL, array_id: str) -> dict[str, int]:
    """How many of an array job's tasks are in each state.

    Parameters
    ----------
    sql : PlainSQL
    array_id : str

    Returns
    -------
    dict of str to int
        State -> tasks, and ``PENDING`` -> tasks not made yet (once the array
        has ended, those count as CANCELLED); those with none left out.
    """
    counts: dict[str, int] = {}
    for state, n in sql.tuples(_ARRAY_COUNTS, {"id": array_id}):
        counts[state] = counts.get(state, 0) + n
    return counts


# ``id_prefix``'s index (ix_jobs_id_pattern) finds them.
_TASK_IDS_TAKEN = Statement(
    "SELECT id, submitter_id FROM jobs WHERE id LIKE %(prefix)s ORDER BY id LIMIT 1"
)


def task_id_taken(sql: PlainSQL, array_id: str) -> tuple[str, int] | None:
    """A job whose id is one of array ``array_id``'s task ids
    (``<array_id>:<index>``), if any: a task of an earlier array of that id,
    left when the array job was deleted apart from its tasks (retention).

    Parameters
    ----------
    sql : PlainSQL
    array_id : str
        A job's name (letters, digits, ``_ . -``: ``_`` is escaped for LIKE).

    Returns
    -------
    tuple of (str, int) or None
        One such job's id and its owner's id.
    """
    prefix = array_id.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + ":%"
    found = sql.tuples(_TASK_IDS_TAKEN, {"prefix": prefix})
    return (found[0][0], found[0][1]) if found else None
