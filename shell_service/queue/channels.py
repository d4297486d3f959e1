"""The NOTIFY channels of the queue."""

#: Jobs were queued: the claimers look for work.
QUEUED_CHANNEL = "shell_service_jobs"
#: A job ended (its id is the payload): requests waiting for it answer.
ENDED_CHANNEL = "shell_service_ended"
#: A user asked to cancel a RUNNING job (its id): its executor ends it.
CANCEL_CHANNEL = "shell_service_cancel"
#: A deleted job left a directory (the payload is the host that holds it): that
#: host's executor removes it (``dirs_to_remove``).
DELETED_CHANNEL = "shell_service_deleted"
#: A webhook's test ping was queued: the webhook deliverer sends it now (it also
#: wakes on ENDED_CHANNEL; jobs' starts are found by its poll).
WEBHOOK_CHANNEL = "shell_service_webhooks"
