"""The job events a webhook may ask for. Which one a job's move is, is decided in
``queue.webhooks.make_deliveries``: ``started`` for a move to RUNNING (not from
RUNNING), and for a final state its own event if the webhook wants it, else
``finished`` if it wants that; one job event is one delivery per webhook."""

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
