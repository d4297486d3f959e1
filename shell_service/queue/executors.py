"""The executors' own statements: their registry (heartbeats), the jobs they
watch, adopting the jobs of one that is gone, and retention (a lost host's jobs:
``hosts.py``). Each is one plain statement."""

import datetime

import orjson

from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL, Statement

from ..job_states import FINISHED
from .claim import EXECUTOR_JOB_COLUMNS, ClaimedJob

# The ones in ``watched`` only when a cancel was asked for (the executor may
# have missed its NOTIFY): their scripts and input are not read every heartbeat.
_RUNNING_ON_HOST = Statement(
    f"SELECT {EXECUTOR_JOB_COLUMNS} FROM jobs "
    "WHERE status = 'RUNNING' AND host = %(host)s"
    " AND (NOT (id = ANY(%(watched)s::text[])) OR cancel_requested_at IS NOT NULL)"
    " ORDER BY id"
)


def running_jobs_on_host(
    sql: PlainSQL, host: str, watched: list[str] | tuple[str, ...] = ()
) -> list[ClaimedJob]:
    """RUNNING jobs on ``host`` (``jobs.host``, whichever of its executors started
    them), but those of ``watched`` whose cancel was not asked for.

    Parameters
    ----------
    sql : PlainSQL
    host : str
        The host's name.
    watched : sequence of str
        Ids of the jobs the caller watches already.

    Returns
    -------
    list of ClaimedJob
        By id.
    """
    rows = sql.rows(_RUNNING_ON_HOST, {"host": host, "watched": list(watched)})
    return [ClaimedJob(**row) for row in rows]


_ADOPT_JOB = Statement(
    """
    WITH adopted AS (
        UPDATE jobs SET executor = %(new_executor)s, modified = %(now)s
        WHERE id = %(id)s AND status = 'RUNNING'
          AND executor IS NOT DISTINCT FROM %(old_executor)s
        RETURNING id
    ),
    events AS (
        INSERT INTO job_events (job_id, from_status, to_status, detail, created_at, modified)
        SELECT id, 'RUNNING', 'RUNNING', %(detail)s, %(now)s, %(now)s FROM adopted
    )
    SELECT count(*) FROM adopted
    """
)


def adopt_job(sql: PlainSQL, job_id: str, old_executor: str | None, new_executor: str) -> bool:
    """Take over a RUNNING job whose executor is gone, with an event ("adopted by
    <new> from <old>"), in one statement.

    Parameters
    ----------
    sql : PlainSQL
    job_id : str
    old_executor : str or None
        The executor it had, "host:pid" (None: none recorded): the update
        matches only if it is still that one.
    new_executor : str
        The caller, "host:pid".

    Returns
    -------
    bool
        True if it is now ``new_executor``'s; False, nothing changed, if it is no
        longer RUNNING or another executor took it first.
    """
    params = {
        "id": job_id,
        "old_executor": old_executor,
        "new_executor": new_executor,
        "now": utcnow(),
        "detail": f"adopted by {new_executor} from {old_executor}",
    }
    return sql.value(_ADOPT_JOB, params) == 1


# Only one executor at a time sweeps old jobs (a transaction-level try-lock).
_RETENTION_LOCK_KEY = 0x5E11_0B6

# The oldest finished jobs, deleted with their events; the directories of the
# ones that ran are left to their hosts' executors (``dirs_to_remove``).
_DELETE_FINISHED_BEFORE = Statement(
    """
    WITH oldest AS (
        SELECT id FROM jobs
        WHERE finished_at < %(cutoff)s AND status = ANY(%(finished)s::text[])
        ORDER BY finished_at LIMIT %(batch)s
    ),
    gone AS (DELETE FROM jobs WHERE id IN (SELECT id FROM oldest) RETURNING id, executor),
    dirs AS (
        INSERT INTO job_dirs_to_remove (job_id, host)
        SELECT id, split_part(executor, ':', 1) FROM gone WHERE executor <> ''
        -- A retried job's earlier attempts may have left directories on other hosts.
        UNION
        SELECT a.job_id, a.host FROM job_attempts a JOIN gone ON gone.id = a.job_id
        WHERE a.host IS NOT NULL
        ON CONFLICT DO NOTHING
    )
    SELECT id FROM gone
    """
)


def delete_finished_before(
    sql: PlainSQL, cutoff: datetime.datetime, batch: int = 500
) -> list[str] | None:
    """Delete up to ``batch`` jobs that finished before ``cutoff``, in one short
    statement (call it again for the next batch: the table is never locked for
    long). The directories of the jobs that ran are left to their hosts'
    executors (``dirs_to_remove``).

    Parameters
    ----------
    sql : PlainSQL
    cutoff : datetime.datetime
        Naive UTC.
    batch : int
        Most jobs deleted by this call.

    Returns
    -------
    list of str or None
        The ids deleted (empty: none is left); None, nothing deleted, when
        another executor holds the sweep.
    """
    params = {"cutoff": cutoff, "finished": [s.value for s in FINISHED], "batch": batch}
    rows = sql.rows_if_unlocked(_DELETE_FINISHED_BEFORE, params, _RETENTION_LOCK_KEY)
    return None if rows is None else [row["id"] for row in rows]


#: Seconds between an executor's heartbeats; one silent for three is not alive.
HEARTBEAT_INTERVAL = 5.0


# The executor's row written, and those silent for an hour forgotten (never
# its own: one statement must not change a row twice).
_HEARTBEAT = Statement(
    """
    WITH beat AS (
        INSERT INTO executors (id, host, last_seen, running, published, created_at, modified)
        VALUES (%(id)s, %(host)s, %(now)s, %(running)s, %(published)s::jsonb, %(now)s, %(now)s)
        ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen, host = excluded.host,
            running = excluded.running, published = excluded.published,
            modified = excluded.modified
        RETURNING id
    ),
    forgotten AS (DELETE FROM executors WHERE last_seen < %(forget_before)s AND id <> %(id)s)
    SELECT count(*) FROM beat
    """
)


def heartbeat(
    sql: PlainSQL, executor: str, running: int, published: dict | None, host: str | None = None
) -> None:
    """Record that an executor is alive, and forget executors silent for an hour,
    in one statement.

    Parameters
    ----------
    sql : PlainSQL
    executor : str
        The executor, "host:pid".
    running : int
        Jobs it watches now.
    published : dict or None
        What it offers (JSON: ``memory_budget_mb``, ``isolation``; what
        /api/sysinfo shows of it).
    host : str, optional
        Its host (``hosts.name``); default: the name's part before ":pid".
    """
    now = utcnow()
    params = {
        "id": executor,
        "host": host if host is not None else executor.rpartition(":")[0],
        "now": now,
        "running": running,
        "published": None if published is None else orjson.dumps(published).decode(),
        "forget_before": now - datetime.timedelta(hours=1),
    }
    sql.value(_HEARTBEAT, params)


_LIVE_EXECUTORS = Statement(
    "SELECT id, last_seen, running, published FROM executors"
    " WHERE last_seen > %(since)s ORDER BY id"
)
_LAST_PUBLISHED = Statement(
    "SELECT published FROM executors WHERE published IS NOT NULL ORDER BY last_seen DESC LIMIT 1"
)


def live_executors(sql: PlainSQL, within: datetime.timedelta) -> list[dict]:
    """The executors heard from within ``within``, by id.

    Parameters
    ----------
    sql : PlainSQL
    within : datetime.timedelta

    Returns
    -------
    list of dict
        Keys ``id`` ("host:pid"), ``last_seen`` (naive UTC), ``running`` (jobs it
        watches) and ``published`` (what it offers, as ``heartbeat`` wrote it; None
        before its first).
    """
    return sql.rows(_LIVE_EXECUTORS, {"since": utcnow() - within})


def last_published(sql: PlainSQL) -> dict | None:
    """What the executor heard from last published (``heartbeat``), alive or not.

    Parameters
    ----------
    sql : PlainSQL

    Returns
    -------
    dict or None
        Its ``published`` dict; None if no executor has run for an hour.
    """
    rows = sql.tuples(_LAST_PUBLISHED)
    return rows[0][0] if rows else None


_DIRS_TO_REMOVE = Statement(
    "SELECT job_id FROM job_dirs_to_remove WHERE host = %(host)s ORDER BY created_at LIMIT 1000"
)
# A job made again under a deleted one's id has a directory of its own by now:
# only the ids with no job are handed out; the others are forgotten.
_DIRS_REMOVED = Statement(
    "WITH done AS (DELETE FROM job_dirs_to_remove"
    " WHERE host = %(host)s AND job_id = ANY(%(ids)s) RETURNING job_id)"
    " SELECT job_id FROM done WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = done.job_id)"
)


def dirs_to_remove(sql: PlainSQL, host: str) -> list[str]:
    """Take the ids of deleted jobs whose directories on ``host`` are to be removed.

    The ids are taken off the list: the caller removes the directories. Up to
    1,000, oldest first; an id a job holds again (made after the delete) is taken
    off and not returned.

    Parameters
    ----------
    sql : PlainSQL
    host : str

    Returns
    -------
    list of str
        Job ids.
    """
    ids = [row[0] for row in sql.tuples(_DIRS_TO_REMOVE, {"host": host})]
    if not ids:
        return []
    return [row[0] for row in sql.tuples(_DIRS_REMOVED, {"host": host, "ids": ids})]
