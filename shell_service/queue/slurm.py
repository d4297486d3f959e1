"""The statements of a Slurm executor (``executors/slurm/``): the jobs it tracks,
their Slurm job id, pending reason and start. Its claim is ``claim_jobs(hold=True)``
and its ends are ``finish_job``, as for every executor. Each is one plain statement.

A job of a Slurm queue is QUEUED while Slurm keeps it pending, held by the
executor that submitted it (``jobs.executor``), and RUNNING from when Slurm starts
it (``job_states``).
"""

import datetime
from dataclasses import dataclass

from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL, Statement

from ..job_states import JobStatus, may_become
from .claim import EXECUTOR_JOB_COLUMNS, ClaimedJob

# A job a Slurm executor holds: RUNNING, or QUEUED with its executor set.
_HELD = "(jobs.status = 'RUNNING' OR (jobs.status = 'QUEUED' AND jobs.executor IS NOT NULL))"


@dataclass(frozen=True)
class SlurmJob:
    """A job a Slurm executor holds, as it tracks it.

    Attributes
    ----------
    job : ClaimedJob
        What it runs (its script, options, user).
    status : str
        QUEUED (held; pending in Slurm, or not yet submitted) or RUNNING.
    slurm_job_id : int or None
        Its Slurm job id; None until sbatch has answered (or after a crash between
        sbatch and recording it: found again by its name).
    """

    job: ClaimedJob
    status: str
    slurm_job_id: int | None


_SLURM_JOBS_ON_HOST = Statement(
    f"SELECT {EXECUTOR_JOB_COLUMNS}, jobs.status AS held_status, jobs.slurm_job_id"
    f" FROM jobs WHERE jobs.host = %(host)s AND {_HELD} ORDER BY jobs.id"
)


def slurm_jobs_on_host(sql: PlainSQL, host: str) -> list[SlurmJob]:
    """The jobs the Slurm executors of ``host`` hold (``jobs.host``: the host name
    a Slurm executor claims under, "<host>/slurm"), whichever of them claimed them.

    Parameters
    ----------
    sql : PlainSQL
    host : str

    Returns
    -------
    list of SlurmJob
        By job id.
    """
    tracked = []
    for row in sql.rows(_SLURM_JOBS_ON_HOST, {"host": host}):
        status, slurm_job_id = row.pop("held_status"), row.pop("slurm_job_id")
        tracked.append(SlurmJob(ClaimedJob(**row), status, slurm_job_id))
    return tracked


_ADOPT_SLURM_JOB = Statement(
    f"""
    WITH adopted AS (
        UPDATE jobs SET executor = %(new_executor)s, modified = %(now)s
        WHERE id = %(id)s AND {_HELD}
          AND executor IS NOT DISTINCT FROM %(old_executor)s
        RETURNING id, status
    ),
    events AS (
        INSERT INTO job_events (job_id, from_status, to_status, detail, created_at, modified)
        SELECT id, status, status, %(detail)s, %(now)s, %(now)s FROM adopted
    )
    SELECT count(*) FROM adopted
    """
)


def adopt_slurm_job(sql: PlainSQL, job_id: str, old_executor: str | None, executor: str) -> bool:
    """Take over a held job from ``old_executor`` (gone: restarted, or crashed), with
    an event.

    Parameters
    ----------
    sql : PlainSQL
    job_id : str
    old_executor : str or None
        The executor it is recorded under: it changes only if still so.
    executor : str
        The adopter, "host:pid".

    Returns
    -------
    bool
        Whether it is ``executor``'s now.
    """
    params = {
        "id": job_id,
        "old_executor": old_executor,
        "new_executor": executor,
        "now": utcnow(),
        "detail": f"adopted by {executor}",
    }
    return sql.value(_ADOPT_SLURM_JOB, params) == 1


_SUBMITTED = Statement(
    """
    WITH submitted AS (
        UPDATE jobs SET slurm_job_id = %(slurm_job_id)s, status_message = %(message)s,
                        modified = %(now)s
        WHERE id = %(id)s AND status = 'QUEUED' AND executor = %(executor)s
        RETURNING id
    ),
    events AS (
        INSERT INTO job_events (job_id, from_status, to_status, detail, created_at, modified)
        SELECT id, 'QUEUED', 'QUEUED', %(detail)s, %(now)s, %(now)s FROM submitted
    )
    SELECT count(*) FROM submitted
    """
)


def record_submission(
    sql: PlainSQL, job_id: str, executor: str, slurm_job_id: int, detail: str | None = None
) -> bool:
    """Record the Slurm job id sbatch gave a held QUEUED job, with an event.

    Parameters
    ----------
    sql : PlainSQL
    job_id : str
    executor : str
        The executor that holds it.
    slurm_job_id : int
    detail : str, optional
        The event's detail (default "submitted to Slurm as job N").

    Returns
    -------
    bool
        False, changing nothing, if it is not QUEUED and held by ``executor``
        (cancelled meanwhile, say).
    """
    params = {
        "id": job_id,
        "executor": executor,
        "slurm_job_id": slurm_job_id,
        "message": "pending in Slurm",
        "detail": detail or f"submitted to Slurm as job {slurm_job_id}",
        "now": utcnow(),
    }
    return sql.value(_SUBMITTED, params) == 1


_PENDING = Statement(
    """
    UPDATE jobs SET status_message = %(message)s, modified = %(now)s
    WHERE id = %(id)s AND status = 'QUEUED' AND executor = %(executor)s
      AND status_message IS DISTINCT FROM %(message)s
    RETURNING id
    """
)


def record_pending_reason(sql: PlainSQL, job_id: str, executor: str, message: str) -> None:
    """Show why Slurm keeps a held job pending (``status_message``; no event: the
    reason changes often). Changes nothing if the job is not held QUEUED by
    ``executor``, or says so already.

    Parameters
    ----------
    sql : PlainSQL
    job_id : str
    executor : str
    message : str
        "pending in Slurm: Resources", say.
    """
    sql.value(_PENDING, {"id": job_id, "executor": executor, "message": message, "now": utcnow()})


_STARTED = Statement(
    """
    WITH started AS (
        UPDATE jobs SET status = 'RUNNING', started_at = %(started_at)s, slurm_node = %(node)s,
                        status_message = NULL, modified = %(now)s
        WHERE id = %(id)s AND status = ANY(%(from)s::text[]) AND executor = %(executor)s
        RETURNING id, started_at
    ),
    events AS (
        INSERT INTO job_events (job_id, from_status, to_status, detail, created_at, modified)
        SELECT id, 'QUEUED', 'RUNNING', %(detail)s, %(now)s, %(now)s FROM started
    )
    SELECT started_at FROM started
    """
)


def record_start(
    sql: PlainSQL,
    job_id: str,
    executor: str,
    node: str | None,
    started_at: datetime.datetime,
    slurm_job_id: int | None,
) -> bool:
    """QUEUED -> RUNNING: Slurm started a held job, on ``node``; with its event.

    Parameters
    ----------
    sql : PlainSQL
    job_id : str
    executor : str
        The executor that holds it.
    node : str or None
        Where Slurm runs it (None: Slurm did not say).
    started_at : datetime.datetime
        When it started (naive UTC): when the executor saw it running.
    slurm_job_id : int or None
        For the event (None: an adopted job whose id was never recorded).

    Returns
    -------
    bool
        False, changing nothing, if it is not QUEUED and held by ``executor``.
    """
    params = {
        "id": job_id,
        "executor": executor,
        "node": node,
        "started_at": started_at,
        "from": [s for s in may_become(JobStatus.RUNNING)],
        "detail": f"running on {node or 'a node'} (Slurm job {slurm_job_id or '?'})",
        "now": utcnow(),
    }
    return sql.value(_STARTED, params) is not None
