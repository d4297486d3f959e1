"""Hosts that are lost (no heartbeat of any of their executors for
``hosts.lost_after``): their RUNNING jobs, ended or queued again by the other
hosts' executors; the jobs an executor no longer holds; and the output a lost
job wrote, stored once its host is back. Each is one plain statement."""

import datetime

from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL, Statement

from ..job_states import JobStatus, may_become
from .channels import QUEUED_CHANNEL

# A host is alive while any executor of it heartbeats; a RUNNING job with no
# host recorded (none claimed it through the claim: a test's, or a bug's) is lost
# too, under the host "?".
_JOBS_OF_LOST_HOSTS = Statement(
    """
    SELECT id, coalesce(host, '?') AS host, requeue_on_host_loss FROM jobs
    WHERE status = 'RUNNING' AND started_at < %(before)s
      AND host IS DISTINCT FROM %(host)s
      -- Slurm runs these, whatever happens to the host that submitted them.
      AND slurm_job_id IS NULL
      AND NOT EXISTS (SELECT 1 FROM executors
                      WHERE executors.host = jobs.host AND last_seen > %(before)s)
    ORDER BY id
    """
)


def jobs_of_lost_hosts(
    sql: PlainSQL, host: str, lost_after: datetime.timedelta
) -> list[tuple[str, str, bool]]:
    """RUNNING jobs of other hosts than ``host`` none of whose executors has sent a
    heartbeat for ``lost_after``: nobody there will end them (a host's own jobs
    are its own executor's to judge: ``running_jobs_on_host``).

    Parameters
    ----------
    sql : PlainSQL
    host : str
        The caller's host.
    lost_after : datetime.timedelta
        How long a host may be silent (``hosts.lost_after``); jobs started more
        recently are left.

    Returns
    -------
    list of (str, str, bool)
        Each job's id, its host ("?" when none was recorded) and whether it asked
        for ``requeue_on_host_loss``.
    """
    params = {"before": utcnow() - lost_after, "host": host}
    return [tuple(row) for row in sql.tuples(_JOBS_OF_LOST_HOSTS, params)]


# RUNNING -> QUEUED (``may_become(QUEUED)``), as a new submission: its start,
# executor and host forgotten, its cancel request kept out (a job a user asked
# to cancel is not started again: the caller ends it instead).
_REQUEUE_LOST_JOB = Statement(
    """
    WITH old AS (
        SELECT id, status FROM jobs
        WHERE id = %(id)s AND status = ANY(%(from)s::text[]) AND cancel_requested_at IS NULL
        FOR UPDATE
    ),
    requeued AS (
        UPDATE jobs SET status = 'QUEUED', queued_at = %(now)s, started_at = NULL,
                        executor = NULL, host = NULL, modified = %(now)s
        FROM old WHERE jobs.id = old.id
        RETURNING jobs.id, old.status
    ),
    events AS (
        INSERT INTO job_events (job_id, from_status, to_status, detail, created_at, modified)
        SELECT id, status, 'QUEUED', %(detail)s, %(now)s, %(now)s FROM requeued
    )
    SELECT requeued.id FROM requeued
    CROSS JOIN LATERAL (SELECT pg_notify(%(channel)s, '')) AS woken
    """
)


def requeue_lost_job(sql: PlainSQL, job_id: str, host: str) -> bool:
    """Put a RUNNING job of a lost host back in its queue (RUNNING -> QUEUED), with
    an event ("host <host> lost; queued again"), and wake the claimers.

    Parameters
    ----------
    sql : PlainSQL
    job_id : str
    host : str
        The lost host (for the event).

    Returns
    -------
    bool
        True if it is QUEUED now; False, nothing changed, if it is not RUNNING or a
        cancel of it was asked for.
    """
    params = {
        "id": job_id,
        "from": [s for s in may_become(JobStatus.QUEUED) if s == JobStatus.RUNNING],
        "now": utcnow(),
        "detail": f"host {host} lost; queued again",
        "channel": QUEUED_CHANNEL,
    }
    return sql.value(_REQUEUE_LOST_JOB, params) is not None


#: The states a host's loss ends a job in, and what its status message then says
#: (``registry.lost_host_message``; after a cancel, "cancelled by a user; host ...").
LOST_ENDS = ["SERVER_ERROR", "CANCELLED"]
LOST_MESSAGE_PATTERN = "%host % lost (no heartbeat from its executor%"

# Only a job its host's loss ended (SERVER_ERROR, nothing recorded of its output),
# on the host that ran it: a requeued job, or one that ran again, is left alone.
_ATTACH_LOST_OUTPUT = Statement(
    """
    WITH attached AS (
        UPDATE jobs SET stdout = %(stdout)s, stderr = %(stderr)s,
                        stdout_truncated = %(stdout_truncated)s,
                        stderr_truncated = %(stderr_truncated)s,
                        return_code = %(return_code)s, modified = %(now)s
        WHERE id = %(id)s AND host = %(host)s AND status = ANY(%(ended)s::text[])
          AND status_message LIKE %(lost)s AND stdout IS NULL AND stderr IS NULL
        RETURNING id, status
    ),
    events AS (
        INSERT INTO job_events (job_id, from_status, to_status, detail, created_at, modified)
        SELECT id, status, status, %(detail)s, %(now)s, %(now)s FROM attached
    )
    SELECT count(*) FROM attached
    """
)


def attach_lost_output(sql: PlainSQL, job_id: str, host: str, output) -> bool:
    """Store the output a job of ``host`` wrote (and its exit code, if it ended by
    itself) while its host was judged lost, now that the host is back and its
    processes have ended; its state stays what the loss made it (an ended state is
    final), the event says what really happened.

    Parameters
    ----------
    sql : PlainSQL
    job_id : str
    host : str
        The host that ran it (``jobs.host``).
    output : JobOutput
        What its files hold (``job_end.how_it_ended``).

    Returns
    -------
    bool
        True if stored; False, nothing changed, unless the loss of ``host`` ended
        the job (``LOST_ENDS``) with no output recorded.
    """
    params = {
        "id": job_id,
        "host": host,
        "stdout": output.stdout,
        "stderr": output.stderr,
        "stdout_truncated": output.stdout_truncated,
        "stderr_truncated": output.stderr_truncated,
        "return_code": output.return_code,
        "now": utcnow(),
        "detail": f"output recovered from host {host} after its loss"
        + (
            f" (the job had ended with exit code {output.return_code})"
            if output.return_code is not None
            else ""
        ),
        "ended": LOST_ENDS,
        "lost": LOST_MESSAGE_PATTERN,
    }
    return sql.value(_ATTACH_LOST_OUTPUT, params) == 1


# The jobs a lost host's loss ended, on that host, with nothing of their output.
_LOST_WITHOUT_OUTPUT = Statement(
    """
    SELECT id FROM jobs
    WHERE host = %(host)s AND status = ANY(%(ended)s::text[]) AND status_message LIKE %(lost)s
      AND stdout IS NULL AND stderr IS NULL
    ORDER BY id
    """
)


def jobs_lost_without_output(sql: PlainSQL, host: str) -> list[str]:
    """The jobs of ``host`` that ended because the host was lost (SERVER_ERROR, or
    CANCELLED when a cancel had been asked for) with no output recorded: the
    ones ``attach_lost_output`` may complete now that the host is back.

    Parameters
    ----------
    sql : PlainSQL
    host : str

    Returns
    -------
    list of str
        Job ids.
    """
    params = {"host": host, "ended": LOST_ENDS, "lost": LOST_MESSAGE_PATTERN}
    return [job_id for (job_id,) in sql.tuples(_LOST_WITHOUT_OUTPUT, params)]


_KNOWN_JOBS = Statement("SELECT id FROM jobs WHERE id = ANY(%(ids)s::text[])")


def known_jobs(sql: PlainSQL, job_ids: list[str]) -> set[str]:
    """Which of ``job_ids`` are jobs (in any state): a directory named for none is
    an earlier stack's, or a deleted job's, left behind.

    Parameters
    ----------
    sql : PlainSQL
    job_ids : list of str

    Returns
    -------
    set of str
    """
    return {job_id for (job_id,) in sql.tuples(_KNOWN_JOBS, {"ids": job_ids})}


_STILL_MINE = Statement(
    "SELECT id FROM jobs WHERE id = ANY(%(ids)s::text[])"
    " AND status = 'RUNNING' AND executor = %(executor)s"
)


def jobs_still_mine(sql: PlainSQL, executor: str, job_ids: list[str]) -> set[str]:
    """Which of ``job_ids`` are still RUNNING under ``executor``: the others were
    taken from it (its host was judged lost: ended or queued again elsewhere).

    Parameters
    ----------
    sql : PlainSQL
    executor : str
        "host:pid".
    job_ids : list of str

    Returns
    -------
    set of str
    """
    return {job_id for (job_id,) in sql.tuples(_STILL_MINE, {"ids": job_ids, "executor": executor})}
