"""Job states and the moves between them: the one place they are defined.

    READY --execute--> QUEUED --claim--> RUNNING --finish--> COMPLETE | FAILED
                                                            | TIMED_OUT | SERVER_ERROR
    READY | QUEUED --cancel--> CANCELLED      RUNNING --finish, after a cancel--> CANCELLED
    QUEUED (waiting) --a dependency cannot hold--> CANCELLED
    QUEUED (an array job) --its tasks ended--> COMPLETE | FAILED | CANCELLED
    RUNNING --its host lost, with requeue_on_host_loss--> QUEUED
    RUNNING --an attempt's end its retry strategy retries--> QUEUED (its next attempt)
    QUEUED (handed to Slurm) --Slurm refused or lost it before it started--> SERVER_ERROR

``TRANSITIONS`` is the whole table; the statements in ``shell_service.queue``
that change a job's state match only rows whose state may move to the new one
(``may_become``), so an illegal move changes nothing. The database refuses any
state not in ``JobStatus`` (CHECK constraints of migration 0013, made from
``status_check``).

Where each rule comes from:

* Slurm's job states (``squeue --help``: PENDING, RUNNING, then one of
  COMPLETED, FAILED, TIMEOUT, CANCELLED, NODE_FAIL...) give the spine: a job
  waits, runs, and ends exactly once; an ended state is final (Slurm's
  ``scontrol requeue`` makes the same job run again, the API's rerun instead
  makes a new job, so no ended state has a way out here).
* READY is this API's own: a stored job that nobody has executed yet; only
  ``execute`` (READY -> QUEUED) or a cancel moves it. Edits keep it READY.
* The API's cancel: a job that never ran (READY, QUEUED) is CANCELLED at once,
  as Slurm cancels a pending job. A RUNNING one is not moved by the cancel: the
  request is recorded and its executor ends the processes, then records the end
  (``finish_job``), which is CANCELLED unless it completed first. So only
  RUNNING may go to the states that need a return code and output.
* A job whose host is lost (``hosts.lost_after`` without a heartbeat of its
  executor) ends SERVER_ERROR, or, when it asked for ``requeue_on_host_loss``,
  goes back to QUEUED to start again elsewhere: Slurm's NODE_FAIL, and its
  requeue of a batch job whose node failed. A retry (``retries.py``, AWS
  Batch's attempts) moves it back too: an attempt that ended as its strategy
  asks is recorded apart (``job_attempts``) and the same job is QUEUED again as
  its next attempt (``finish_job``). Nothing else moves a job back.
* A job of a Slurm queue stays QUEUED once its executor has handed it to Slurm
  (``jobs.executor`` set: no other claim takes it), while Slurm keeps it PENDING;
  it becomes RUNNING when Slurm starts it. One Slurm refused (sbatch's error) or
  lost before it started never ran: QUEUED -> SERVER_ERROR, with Slurm's reason.
* A QUEUED job may wait, not claimable, with its reason in ``jobs.waiting_for``
  (Slurm keeps such a job PENDING with a Reason; there is no state of its own):
  for its dependencies, a retry's back-off, or, an array job, its tasks. The
  waiting-jobs service (``queue/waiting.py``) releases it (it stays QUEUED) or
  ends it: QUEUED -> CANCELLED when a dependency can no longer hold, and an
  array job QUEUED -> COMPLETE | FAILED | CANCELLED when its tasks have ended
  (it never runs itself, so it never has a return code or output).
* Rerun never moves a state (it inserts a new job); delete removes a job that is
  neither QUEUED nor RUNNING.
"""

from enum import StrEnum


class JobStatus(StrEnum):
    """A job's state (stored as its name in every status column)."""

    READY = "READY"  # stored, not submitted
    QUEUED = "QUEUED"  # submitted, waiting for capacity
    RUNNING = "RUNNING"  # claimed by an executor; its process exists (or is being started)
    COMPLETE = "COMPLETE"  # exit code 0
    FAILED = "FAILED"  # non-zero exit, or killed by a signal
    TIMED_OUT = "TIMED_OUT"  # ran past its timeout and was killed
    CANCELLED = "CANCELLED"  # a user cancelled it
    SERVER_ERROR = "SERVER_ERROR"  # the service, not the script, failed it


FINISHED = frozenset(
    {
        JobStatus.COMPLETE,
        JobStatus.FAILED,
        JobStatus.TIMED_OUT,
        JobStatus.CANCELLED,
        JobStatus.SERVER_ERROR,
    }
)

#: Every state a job is created in (``queue.insert_jobs``: READY, or QUEUED at once).
INITIAL = frozenset({JobStatus.READY, JobStatus.QUEUED})

#: state -> the states it may move to. A state's own name is not listed: events
#: that keep the state (an edit, a cancel request, an adoption) move nothing.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.READY: frozenset({JobStatus.QUEUED, JobStatus.CANCELLED}),
    # COMPLETE and FAILED: an array job, by its tasks (queue/waiting.py).
    JobStatus.QUEUED: frozenset(
        {
            JobStatus.RUNNING,
            JobStatus.CANCELLED,
            JobStatus.SERVER_ERROR,
            JobStatus.COMPLETE,
            JobStatus.FAILED,
        }
    ),
    JobStatus.RUNNING: FINISHED | {JobStatus.QUEUED},
    **{status: frozenset() for status in FINISHED},
}


def may_become(status: JobStatus) -> list[str]:
    """The states that may move to ``status``, sorted (a statement parameter:
    ``WHERE status = ANY(%(from)s)``).

    Parameters
    ----------
    status : JobStatus
        The state a statement moves jobs to.

    Returns
    -------
    list of str
        Every state whose ``TRANSITIONS`` entry holds ``status``; empty if none.
    """
    return sorted(source.value for source, targets in TRANSITIONS.items() if status in targets)


def status_check(column: str) -> str:
    """A CHECK constraint's condition: ``column`` holds a ``JobStatus``. (NULL
    passes a CHECK: a nullable column, like a first event's ``from_status``,
    stays nullable.)

    Parameters
    ----------
    column : str
        The column's name (trusted: the migrations pass it).

    Returns
    -------
    str
        SQL, e.g. ``status IN ('READY', 'QUEUED', ...)``.
    """
    values = ", ".join(f"'{status.value}'" for status in JobStatus)
    return f"{column} IN ({values})"
