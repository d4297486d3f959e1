"""The executors' own statements: their registry (heartbeats), the jobs they
watch, adopting the jobs of one that is gone, and retention."""

import datetime

from sqlalchemy import and_, delete, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL, Statement

from ..job_states import FINISHED, JobStatus
from ..models import ExecutorRecord, Job
from .jobs import add_event

_RUNNING_ON_HOST = Statement(
    "SELECT id, number, executor, started_at, timeout, cancel_requested_at, queue FROM jobs "
    "WHERE status = 'RUNNING' AND executor LIKE %(pattern)s"
)


def host_pattern(host: str) -> str:
    r"""A LIKE pattern matching the ``executor`` values ("host:pid") of ``host``'s executors.

    Parameters
    ----------
    host : str
        A host name; LIKE's wildcards (``%``, ``_``) and backslashes in it are
        escaped (the statements use ``ESCAPE '\'``).

    Returns
    -------
    str
        ``"<escaped host>:%"``.
    """
    return host.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ":%"


def running_jobs_on_host(sql: PlainSQL, host: str) -> list[dict]:
    """RUNNING jobs started by any executor on ``host`` (``executor`` is "host:pid").

    Parameters
    ----------
    sql : PlainSQL
    host : str

    Returns
    -------
    list of dict
        One per job, keys ``id``, ``number``, ``executor``, ``started_at`` (naive
        UTC), ``timeout`` (seconds) and ``cancel_requested_at`` (None if no
        cancel was asked for).
    """
    return sql.rows(_RUNNING_ON_HOST, {"pattern": host_pattern(host)})


def jobs_of_silent_executors(
    session: Session, host: str, silent_for: datetime.timedelta
) -> list[str]:
    """RUNNING jobs whose executor is silent, on other hosts than ``host``.

    An executor is silent when it sent no heartbeat for ``silent_for`` (its host is
    gone, or renamed: nobody there will ever end its jobs); a job with no executor
    recorded counts too. Jobs started less than ``silent_for`` ago are left out.

    Parameters
    ----------
    session : Session
    host : str
        This executor's host (its own jobs are found by ``running_jobs_on_host``).
    silent_for : datetime.timedelta

    Returns
    -------
    list of str
        The jobs' ids.
    """
    heard_from = select(ExecutorRecord.id).where(ExecutorRecord.last_seen > utcnow() - silent_for)
    return list(
        session.scalars(
            select(Job.id).where(
                Job.status == JobStatus.RUNNING,
                Job.started_at < utcnow() - silent_for,
                # A NULL executor (none ever recorded) is silent too: NOT LIKE
                # on NULL is NULL, which would drop the row, so it is its own case.
                or_(
                    Job.executor.is_(None),
                    and_(
                        Job.executor.not_like(host_pattern(host), escape="\\"),
                        Job.executor.not_in(heard_from),
                    ),
                ),
            )
        )
    )


def adopt_job(session: Session, job_id: str, old_executor: str | None, new_executor: str) -> bool:
    """Take over a RUNNING job whose executor is gone, with an event; commits.

    Parameters
    ----------
    session : Session
    job_id : str
    old_executor : str or None
        The executor recorded now ("host:pid"; None if none was): the update
        matches only if it is still that one.
    new_executor : str
        The adopting executor, "host:pid".

    Returns
    -------
    bool
        True if adopted; False if another executor took it first (or it ended).
    """
    row = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING, Job.executor == old_executor)
        .values(executor=new_executor)
        .returning(Job.id)
    ).first()
    if row is not None:
        add_event(
            session,
            job_id,
            JobStatus.RUNNING,
            JobStatus.RUNNING,
            None,
            f"adopted by {new_executor} from {old_executor}",
        )
    session.commit()
    return row is not None


# Only one executor at a time sweeps old jobs (a transaction-level try-lock).
_RETENTION_LOCK_KEY = 0x5E11_0B6


# A deleted job's directory, for the executor of its host (``dirs_to_remove``).
_LEAVE_DIRS = text(
    "INSERT INTO job_dirs_to_remove (job_id, host) VALUES (:job_id, :host) ON CONFLICT DO NOTHING"
)


def delete_finished_before(
    session: Session, cutoff: datetime.datetime, batch: int = 500
) -> list[str] | None:
    """Delete up to ``batch`` jobs that finished before ``cutoff``; commits.

    Each batch is its own short transaction (under a transaction-level try-lock),
    so the table is never locked for long. The directories of the jobs that ran
    are left to their hosts' executors (``dirs_to_remove``).

    Parameters
    ----------
    session : Session
    cutoff : datetime.datetime
        Naive UTC; jobs in a finished state with ``finished_at`` before it go.
    batch : int, optional
        Most jobs deleted by this call.

    Returns
    -------
    list of str or None
        The deleted jobs' ids (empty when none is left); None when another
        executor holds the sweep.
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
    gone = session.execute(delete(Job).where(Job.id.in_(oldest)).returning(Job.id, Job.executor))
    rows = gone.all()
    dirs = [
        {"job_id": job_id, "host": executor.partition(":")[0]}
        for job_id, executor in rows
        if executor
    ]
    if dirs:
        session.execute(_LEAVE_DIRS, dirs)
    session.commit()
    return [job_id for job_id, _ in rows]


#: Seconds between an executor's heartbeats; one silent for three is not alive.
HEARTBEAT_INTERVAL = 5.0


def heartbeat(session: Session, executor: str, running: int, published: dict) -> None:
    """Record that an executor is alive and what it offers; commits.

    Also forgets the executors silent for an hour.

    Parameters
    ----------
    session : Session
    executor : str
        The executor, "host:pid".
    running : int
        Jobs it watches now.
    published : dict
        What it offers, stored as JSON (keys ``memory_budget_mb``, ``isolation``:
        what /api/sysinfo shows of it).
    """
    now = utcnow()
    values = {"last_seen": now, "running": running, "published": published, "modified": now}
    session.execute(
        insert(ExecutorRecord)
        .values(id=executor, created_at=now, **values)
        .on_conflict_do_update(index_elements=[ExecutorRecord.id], set_=values)
    )
    session.execute(
        delete(ExecutorRecord).where(ExecutorRecord.last_seen < now - datetime.timedelta(hours=1))
    )
    session.commit()


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
