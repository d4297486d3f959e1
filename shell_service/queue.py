"""Every database operation of the job queue, in one place.

The queue is the jobs table: submitting sets QUEUED and sends a NOTIFY on
``NOTIFY_CHANNEL``; app workers LISTEN, then claim with ``claim_jobs``. Each
state change writes a JobEvent in the same transaction.
"""

from dataclasses import dataclass

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from baselayer.app.models import utcnow

from .job_states import FINISHED, JobStatus
from .models import Job, JobEvent

NOTIFY_CHANNEL = "shell_service_jobs"

# Serializes claims across all workers (and hosts sharing the database) so the
# capacity count a claim reads cannot be raced by another claim. A claim is one
# short transaction, so waiting on this lock is brief.
_CLAIM_LOCK_KEY = 0x5E11_0B5

_CLAIM_SQL = text(
    """
    WITH running AS (
        SELECT submitter_id, count(*) AS n
        FROM jobs WHERE status = 'RUNNING' GROUP BY submitter_id
    ),
    ranked AS (
        SELECT q.id, q.priority, q.queued_at,
               coalesce(r.n, 0)
                 + row_number() OVER (PARTITION BY q.submitter_id
                                      ORDER BY q.priority DESC, q.queued_at) AS user_slot
        FROM jobs q LEFT JOIN running r USING (submitter_id)
        WHERE q.status = 'QUEUED'
    ),
    chosen AS (
        -- Fairness: a user's first waiting job outranks anyone's second, so the
        -- user with the fewest running jobs goes first; then priority, then age.
        SELECT id FROM ranked
        WHERE user_slot <= :per_user
        ORDER BY user_slot, priority DESC, queued_at
        LIMIT greatest(:max_running - (SELECT coalesce(sum(n), 0) FROM running), 0)
    ),
    locked AS (
        SELECT id FROM jobs
        WHERE id IN (SELECT id FROM chosen) AND status = 'QUEUED'
        FOR UPDATE SKIP LOCKED
    )
    UPDATE jobs SET status = 'RUNNING', started_at = :now, modified = :now, worker = :worker
    WHERE id IN (SELECT id FROM locked)
    RETURNING id, code, shell, submitter_id
    """
)


@dataclass(frozen=True)
class ClaimedJob:
    """What an executor needs to start a job."""

    id: str
    code: str
    shell: str
    submitter_id: int


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


def notify(session: Session) -> None:
    """Wake every worker's claimer once this transaction commits."""
    session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})


def create_job(session: Session, job: Job, actor_id: int) -> Job:
    session.add(job)
    add_event(session, job.id, None, JobStatus.READY, actor_id, "created")
    return job


def submit_job(session: Session, job: Job, actor_id: int) -> bool:
    """READY -> QUEUED. False if the job is in any other state (checked under a row lock)."""
    now = utcnow()
    updated = session.execute(
        update(Job)
        .where(Job.id == job.id, Job.status == JobStatus.READY)
        .values(status=JobStatus.QUEUED, queued_at=now, modified=now)
        .returning(Job.id)
    ).first()
    if updated is None:
        return False
    add_event(session, job.id, JobStatus.READY, JobStatus.QUEUED, actor_id, "submitted")
    notify(session)
    return True


def claim_jobs(session: Session, worker: str, max_running: int, per_user: int) -> list[ClaimedJob]:
    """Move as many QUEUED jobs to RUNNING as capacity and fairness allow; commits."""
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CLAIM_LOCK_KEY})
    rows = session.execute(
        _CLAIM_SQL,
        {
            "max_running": max_running,
            "per_user": per_user,
            "worker": worker,
            "now": utcnow(),
        },
    ).all()
    for row in rows:
        add_event(
            session,
            row.id,
            JobStatus.QUEUED,
            JobStatus.RUNNING,
            None,
            f"claimed by {worker}",
        )
    session.commit()
    return [ClaimedJob(row.id, row.code, row.shell, row.submitter_id) for row in rows]


def set_pid(session: Session, job_id: str, pid: int) -> None:
    session.execute(update(Job).where(Job.id == job_id).values(pid=pid))
    session.commit()


def finish_job(
    session: Session,
    job_id: str,
    status: JobStatus,
    *,
    return_code: int | None = None,
    stdout: str | None = None,
    stderr: str | None = None,
    message: str | None = None,
) -> bool:
    """RUNNING -> a final state, with the job's output; commits and wakes claimers."""
    assert status in FINISHED
    now = utcnow()
    updated = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING)
        .values(
            status=status,
            return_code=return_code,
            stdout=stdout,
            stderr=stderr,
            status_message=message,
            finished_at=now,
            modified=now,
        )
        .returning(Job.id)
    ).first()
    if updated is not None:
        detail = message or (f"exit code {return_code}" if return_code is not None else None)
        add_event(session, job_id, JobStatus.RUNNING, status, None, detail)
        notify(session)
    session.commit()
    return updated is not None


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    counts = {status.value: 0 for status in JobStatus}
    counts.update({status: n for status, n in rows})
    return counts
