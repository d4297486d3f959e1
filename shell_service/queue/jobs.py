"""Reading one job, and changing or deleting a READY one, for the API."""

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL, Statement, statement

from ..job_states import JobStatus
from ..models import Job, JobEvent
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


def get_job(session: Session, job_id: str) -> Job | None:
    """The job as an ORM object, for the handlers that serialize or edit it.

    Parameters
    ----------
    session : Session
    job_id : str

    Returns
    -------
    Job or None
        None if there is no such job (or ``job_id`` holds a NUL).
    """
    return session.get(Job, job_id) if "\x00" not in job_id else None


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


def job_events(session: Session, job_id: str) -> list[JobEvent]:
    """Every event of the job, oldest first.

    Parameters
    ----------
    session : Session
    job_id : str

    Returns
    -------
    list of JobEvent
        Empty if there is no such job.
    """
    return list(
        session.scalars(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id))
    )


def add_event(session: Session, job_id: str, from_status, to_status, actor_id=None, detail=None):
    """Add a JobEvent to ``session``; the caller commits.

    Parameters
    ----------
    session : Session
    job_id : str
    from_status : JobStatus or None
        The state before (None for a job's first event).
    to_status : JobStatus
    actor_id : int, optional
        The user who caused it (None: the service).
    detail : str, optional
        Free text shown with the event.
    """
    session.add(
        JobEvent(
            job_id=job_id,
            from_status=from_status,
            to_status=to_status,
            actor_id=actor_id,
            detail=detail,
        )
    )


def update_ready_job(session: Session, job_id: str, changes: dict, actor_id: int) -> str | None:
    """Apply ``changes`` to a READY job, with an event; commits or rolls back.

    The session's Job object of that id (one per session) is then fresh from the
    database.

    Parameters
    ----------
    session : Session
    job_id : str
    changes : dict
        Column name -> new value (validated already).
    actor_id : int
        The user making the change.

    Returns
    -------
    str or None
        None if done; else the state that forbids it (a ``JobStatus`` value), or
        ``"gone"`` when the job was deleted meanwhile (nothing changed).
    """
    job = session.scalar(select(Job).where(Job.id == job_id).with_for_update())
    if job is None:
        session.rollback()
        return "gone"
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
    session.refresh(job)
    return None


# The directory of a job that ran is left to the executor of its host (``executor``
# is "host:pid"); the app workers never remove job files.
_LEAVE_DIR_TO_EXECUTOR = text(
    "WITH dir AS ("
    "  INSERT INTO job_dirs_to_remove (job_id, host)"
    "  SELECT id, split_part(executor, ':', 1) FROM jobs"
    "  WHERE id = :job_id AND executor IS NOT NULL"
    "  ON CONFLICT DO NOTHING RETURNING host"
    ") SELECT pg_notify(:channel, host) FROM dir"
)


def delete_job(session: Session, job_id: str) -> str | None:
    """Delete a job that is not QUEUED or RUNNING; commits or rolls back.

    Its directory, if it ran, is handed to its host's executor to remove
    (``dirs_to_remove``, a NOTIFY on ``DELETED_CHANNEL``) in the same transaction.

    Parameters
    ----------
    session : Session
    job_id : str

    Returns
    -------
    str or None
        None if the job was deleted (or there was none); else its state (a
        ``JobStatus`` value).
    """
    status = session.scalar(select(Job.status).where(Job.id == job_id).with_for_update())
    if status in (JobStatus.QUEUED, JobStatus.RUNNING):
        session.rollback()
        return status
    session.execute(_LEAVE_DIR_TO_EXECUTOR, {"job_id": job_id, "channel": DELETED_CHANNEL})
    session.execute(delete(Job).where(Job.id == job_id))
    session.commit()
    return None
