"""One job for the API: reading it and its events, changing or deleting a READY
(or ended) one. Each is one plain statement."""

import orjson

from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL, Statement, statement

from ..job_states import JobStatus
from .channels import DELETED_CHANNEL


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


def job_status(sql: PlainSQL, job_id: str) -> str | None:
    """The job's state.

    Parameters
    ----------
    sql : PlainSQL
    job_id : str

    Returns
    -------
    str or None
        A ``JobStatus`` value; None if there is no such job (or it was deleted).
    """
    return sql.value(_JOB_STATUS, {"id": job_id})


_JOB_STATUS = Statement("SELECT status FROM jobs WHERE id = %(id)s")

_JOB_EVENTS = Statement(
    "SELECT id, job_id, from_status, to_status, actor_id, detail, created_at"
    " FROM job_events WHERE job_id = %(job_id)s ORDER BY id"
)


def job_events(sql: PlainSQL, job_id: str) -> list[dict]:
    """Every event of a job, oldest first.

    Parameters
    ----------
    sql : PlainSQL
    job_id : str
        Without a NUL (the caller found the job).

    Returns
    -------
    list of dict
        ``id`` (int), ``job_id``, ``from_status`` (None for the first event),
        ``to_status``, ``actor_id`` (the user who caused it; None: the service),
        ``detail`` (str or None), ``created_at`` (naive UTC); empty if there is
        no such job.
    """
    return sql.rows(_JOB_EVENTS, {"job_id": job_id})


_JOB_ATTEMPTS = Statement(
    "SELECT number, status, status_message, return_code, host, started_at, finished_at,"
    " stdout_truncated, stderr_truncated"
    " FROM job_attempts WHERE job_id = %(job_id)s ORDER BY number"
)


def job_attempts(sql: PlainSQL, job_id: str) -> list[dict]:
    """The ended attempts of a job that was retried (``job_attempts``), first
    first, without their output; the job's own columns hold its current one.

    Parameters
    ----------
    sql : PlainSQL
    job_id : str

    Returns
    -------
    list of dict
        ``number``, ``status``, ``status_message``, ``return_code``, ``host``,
        ``started_at``, ``finished_at`` (naive UTC), ``stdout_truncated``,
        ``stderr_truncated``; empty if none was retried.
    """
    return sql.rows(_JOB_ATTEMPTS, {"job_id": job_id})


_ATTEMPT_OUTPUT = Statement(
    "SELECT stdout, stderr FROM job_attempts WHERE job_id = %(job_id)s AND number = %(number)s"
)


def attempt_output(sql: PlainSQL, job_id: str, number: int) -> dict | None:
    """An ended attempt's output as stored at its end (``jobs.max_output_bytes``
    per stream at most).

    Parameters
    ----------
    sql : PlainSQL
    job_id : str
    number : int
        The attempt (1 first).

    Returns
    -------
    dict or None
        ``stdout`` and ``stderr`` (str or None); None when the job has no such
        ended attempt.
    """
    return sql.row(_ATTEMPT_OUTPUT, {"job_id": job_id, "number": number})


#: The columns a READY job's change may set (``schemas.JobUpdate``'s fields).
EDITABLE_COLUMNS = (
    "code", "shell", "args", "env", "stdin", "timeout", "priority", "cpus", "memory_mb", "queue",
    "requeue_on_host_loss", "retry",
)  # fmt: skip
_JSON_COLUMNS = ("args", "env", "retry")


def _update_ready_sql(names: tuple[str, ...], columns: tuple[str, ...]) -> Statement:
    """The statement that sets ``names`` on a READY job and returns ``columns`` of
    it (both trusted), with the event; cached per shape by ``statement``."""
    assignments = ", ".join(
        f"{name} = %({name})s::jsonb" if name in _JSON_COLUMNS else f"{name} = %({name})s"
        for name in names
    )
    returned = ", ".join(f"jobs.{name}" for name in dict.fromkeys(("id", *columns)))
    return statement(
        f"""
        WITH old AS (SELECT id, status FROM jobs WHERE id = %(id)s FOR UPDATE),
        changed AS (
            UPDATE jobs SET {assignments}, modified = %(now)s
            FROM old WHERE jobs.id = old.id AND old.status = 'READY'
            RETURNING {returned}
        ),
        events AS (
            INSERT INTO job_events (job_id, from_status, to_status, actor_id, detail,
                                    created_at, modified)
            SELECT id, 'READY', 'READY', %(actor_id)s, %(detail)s, %(now)s, %(now)s
            FROM changed
        )
        SELECT old.status AS status_before, changed.id IS NOT NULL AS changed, changed.*
        FROM old LEFT JOIN changed ON true
        """
    )


def update_ready_job(
    sql: PlainSQL, job_id: str, changes: dict, actor_id: int, columns: tuple[str, ...]
) -> tuple[str | None, dict | None]:
    """Apply ``changes`` to a READY job, with an event ("changed: <names>"), in one
    statement (the job's row locked).

    Parameters
    ----------
    sql : PlainSQL
    job_id : str
        Without a NUL (the caller found the job).
    changes : dict
        Column -> new value, the columns among ``EDITABLE_COLUMNS`` (validated
        by ``schemas.JobUpdate``); not empty.
    actor_id : int
        The user who changes it (recorded in the event).
    columns : tuple of str
        The ``jobs`` columns of the changed job to return (trusted).

    Returns
    -------
    tuple of (str or None, dict or None)
        The state the job had (None: there is no such job, it was deleted
        meanwhile) and, when it was READY, its ``columns`` as now stored; the
        job is None, nothing changed, when its state was not READY.

    Raises
    ------
    ValueError
        ``changes`` is empty or names a column outside ``EDITABLE_COLUMNS``.
    """
    names = tuple(sorted(changes))
    if not names or not set(names) <= set(EDITABLE_COLUMNS):
        raise ValueError(f"not changes of a READY job: {', '.join(names) or 'none'}")
    params = {
        # A null retry is SQL's NULL (no strategy), not JSON's null.
        name: orjson.dumps(changes[name]).decode()
        if name in _JSON_COLUMNS and changes[name] is not None
        else changes[name]
        for name in names
    }
    params.update(id=job_id, now=utcnow(), actor_id=actor_id, detail=f"changed: {', '.join(names)}")
    row = sql.row(_update_ready_sql(names, columns), params)
    if row is None:
        return None, None
    status = row.pop("status_before")
    if not row.pop("changed"):
        return status, None
    return status, {name: row[name] for name in columns}


# The directory of a job that ran is left to the executor of its host (``executor``
# is "host:pid"): the app workers never remove job files. An array job goes with
# its tasks (all ended once it has; a task left behind would take an id a later
# array of this id needs).
_DELETE_JOB = Statement(
    """
    WITH old AS (
        SELECT id, status, array_spec FROM jobs WHERE id = %(id)s FOR UPDATE
    ),
    doomed AS (
        SELECT jobs.id, jobs.executor FROM jobs, old
        WHERE NOT (old.status = ANY(%(busy)s::text[]))
          AND (jobs.id = old.id
               OR (old.array_spec IS NOT NULL AND jobs.array_id = old.id
                   AND NOT (jobs.status = ANY(%(busy)s::text[]))))
        FOR UPDATE OF jobs
    ),
    gone AS (
        DELETE FROM jobs USING doomed WHERE jobs.id = doomed.id
        RETURNING doomed.id, doomed.executor
    ),
    dir AS (
        INSERT INTO job_dirs_to_remove (job_id, host)
        SELECT id, split_part(executor, ':', 1) FROM gone WHERE executor IS NOT NULL
        -- A retried job's earlier attempts may have left directories on other hosts.
        UNION
        SELECT a.job_id, a.host FROM job_attempts a JOIN gone ON gone.id = a.job_id
        WHERE a.host IS NOT NULL
        ON CONFLICT DO NOTHING RETURNING host
    ),
    told AS (SELECT pg_notify(%(channel)s, host) FROM dir)
    SELECT old.status, (SELECT count(*) FROM gone), (SELECT count(*) FROM told) FROM old
    """
)

#: A job in these states is not deleted (cancel it first).
_BUSY = [JobStatus.QUEUED.value, JobStatus.RUNNING.value]


def delete_job(sql: PlainSQL, job_id: str) -> str | None:
    """Delete a job that is not QUEUED or RUNNING, with its events, and hand its
    directory (if it ran) to its host's executor (``dirs_to_remove``, NOTIFY
    ``DELETED_CHANNEL``), in one statement. An array job's tasks go with it.

    Parameters
    ----------
    sql : PlainSQL
    job_id : str
        Without a NUL (the caller found the job).

    Returns
    -------
    str or None
        None if the job was deleted (or was not there); else its state, QUEUED
        or RUNNING, and nothing changed.
    """
    row = sql.row(_DELETE_JOB, {"id": job_id, "busy": _BUSY, "channel": DELETED_CHANNEL})
    if row is None or row["status"] not in _BUSY:
        return None
    return row["status"]
