"""Job states: the one place they are defined.

    READY --execute--> QUEUED --claim--> RUNNING --> COMPLETE | FAILED | TIMED_OUT
                                                     | CANCELLED | SERVER_ERROR
    READY | QUEUED --cancel--> CANCELLED

Each transition is one conditional UPDATE in ``shell_service.queue``.
"""

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
