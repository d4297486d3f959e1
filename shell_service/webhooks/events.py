"""The job events a webhook may ask for, and which one a job's move is."""

from ..job_states import JobStatus

#: A job's move to RUNNING.
STARTED = "started"
#: Any final state (every one below).
FINISHED = "finished"
#: The final states' own events, by state.
END_EVENTS = {
    JobStatus.COMPLETE: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.TIMED_OUT: "timed_out",
    JobStatus.CANCELLED: "cancelled",
    JobStatus.SERVER_ERROR: "server_error",
}
#: Every event a webhook may ask for.
EVENTS = (STARTED, FINISHED, *END_EVENTS.values())
#: Not asked for: ``POST /api/webhooks/{id}/test`` sends it.
PING = "ping"


def event_for(to_status: str, wanted: list[str]) -> str | None:
    """The event a job's move to ``to_status`` is for a webhook that wants ``wanted``.

    Parameters
    ----------
    to_status : str
        The job event's new state.
    wanted : list of str
        The webhook's events.

    Returns
    -------
    str or None
        ``started`` for RUNNING; for a final state its own event if wanted, else
        ``finished`` if wanted; None when the webhook wants neither (one event of
        a job is one delivery, however many of its names the webhook asked for).
    """
    if to_status == JobStatus.RUNNING:
        return STARTED if STARTED in wanted else None
    own = END_EVENTS.get(JobStatus(to_status)) if to_status in END_EVENTS else None
    if own is None:
        return None
    if own in wanted:
        return own
    return FINISHED if FINISHED in wanted else None
