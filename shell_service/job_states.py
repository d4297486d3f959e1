"""Job states and the transitions between them: the one place they are defined."""

from enum import StrEnum


class JobStatus(StrEnum):
    READY = "READY"  # stored, not submitted
    QUEUED = "QUEUED"  # submitted, waiting for capacity
    RUNNING = "RUNNING"  # claimed by a worker; its process exists (or is being started)
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

TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.READY: frozenset({JobStatus.QUEUED, JobStatus.CANCELLED}),
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.SERVER_ERROR}),
    JobStatus.RUNNING: FINISHED,
}


def can_transition(current: str, new: str) -> bool:
    return JobStatus(new) in TRANSITIONS.get(JobStatus(current), frozenset())
