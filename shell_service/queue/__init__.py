"""Every database operation on jobs and job events, in one place.

The queue is the jobs table: submitting sets QUEUED and sends a NOTIFY on
``QUEUED_CHANNEL``; executors LISTEN, then claim with ``claim_jobs``. Each
state change writes a JobEvent in the same statement, and matches only jobs
whose state may move to the new one (``job_states.TRANSITIONS``).

Every operation is a named plain statement, one round trip each (see
``baselayer.app.plain_sql``); the ORM models only describe the tables (for the
migrations and the tests).

- ``claim``: QUEUED -> RUNNING (``claim_jobs``), and ``ClaimedJob``, a RUNNING
  job as its executor sees it (claimed or adopted alike)
- ``transitions``: create, submit, finish
- ``cancel``: a user's cancel (at once, or asked of the executor)
- ``hosts``: lost hosts: their jobs ended or queued again, jobs taken from an
  executor, a lost job's output once its host is back
- ``definitions``: job definitions and their versions
- ``schedules``: schedules, their due ticks and fires (exactly once per tick)
- ``accounts``: the ``unix_accounts`` rows (each user's Unix identity)
- ``jobs``: one job for the API (read, edit while READY, delete, events, attempts)
- ``listing``: the job list (``GET /api/jobs``): filters, cursor, capped count
- ``executors``: the executors' registry (heartbeats, what each publishes), the
  jobs of a host, adoption, deleted jobs' directories, retention
- ``counts``: jobs per state, and per queue
- ``slurm``: a Slurm executor's jobs: their Slurm job id, pending reason, start
- ``channels``: the NOTIFY channels
- ``webhooks``: webhooks, their deliveries and attempts, the deliverer's cursor
  (import it as ``queue.webhooks``)
- ``waiting``: the QUEUED jobs that wait (dependencies, retry back-offs, array
  jobs and their tasks): the waiting-jobs service's statements and the API's
  reads of them (import it as ``queue.waiting``)

Import from here (``from shell_service import queue``): the submodules are a
layout, not an interface.
"""

from .accounts import AccountRow, account_name_owner, account_row, insert_account_row
from .cancel import cancel_job, cancel_jobs_of
from .channels import (
    CANCEL_CHANNEL,
    DELETED_CHANNEL,
    ENDED_CHANNEL,
    QUEUED_CHANNEL,
    WEBHOOK_CHANNEL,
)
from .claim import _CLAIM_LOCK_KEY, HELD_MESSAGE, ClaimedJob, claim_jobs
from .counts import (
    _RECOUNT_LOCK_KEY,
    count_active,
    queue_counts,
    recount_if_stale,
    running_load,
    stored_counts,
)
from .definitions import (
    VERSION_FIELDS,
    definition_version,
    definition_versions,
    definitions_named,
    delete_definition,
    insert_definition,
    insert_version,
    list_definitions,
    recent_runs,
)
from .executors import (
    HEARTBEAT_INTERVAL,
    adopt_job,
    delete_finished_before,
    dirs_to_remove,
    heartbeat,
    last_published,
    live_executors,
    running_jobs_on_host,
)
from .hosts import (
    attach_lost_output,
    jobs_lost_without_output,
    jobs_of_lost_hosts,
    jobs_still_mine,
    known_jobs,
    requeue_lost_job,
)
from .jobs import (
    EDITABLE_COLUMNS,
    attempt_output,
    delete_job,
    job_attempts,
    job_events,
    job_row,
    job_status,
    update_ready_job,
)
from .listing import COUNT_CAP, BadCursor, decode_cursor, encode_cursor, list_page
from .schedules import (
    SCHEDULE_FIELDS,
    TickOutcome,
    definition_schedule_counts,
    definition_schedules,
    delete_schedule,
    due_schedules,
    fire_ticks,
    insert_schedule,
    list_schedules,
    next_due_after,
    prune_fires,
    recent_fires,
    schedule_row,
    schedules_of,
    update_schedule,
)
from .slurm import (
    SlurmJob,
    adopt_slurm_job,
    record_pending_reason,
    record_start,
    record_submission,
    slurm_jobs_on_host,
)
from .transitions import (
    NEW_JOB_FIELDS,
    RUN_FIELDS,
    Dependency,
    JobOutput,
    NewJob,
    finish_job,
    insert_jobs,
    submit_job,
    waiting_fields,
)

__all__ = [
    "attempt_output",
    "SCHEDULE_FIELDS",
    "TickOutcome",
    "delete_schedule",
    "due_schedules",
    "fire_ticks",
    "insert_schedule",
    "list_schedules",
    "next_due_after",
    "prune_fires",
    "recent_fires",
    "schedule_row",
    "update_schedule",
    "RUN_FIELDS",
    "waiting_fields",
    "Dependency",
    "schedules_of",
    "VERSION_FIELDS",
    "definition_version",
    "definition_versions",
    "definitions_named",
    "delete_definition",
    "insert_definition",
    "insert_version",
    "list_definitions",
    "recent_runs",
    "definition_schedule_counts",
    "definition_schedules",
    "CANCEL_CHANNEL",
    "COUNT_CAP",
    "DELETED_CHANNEL",
    "EDITABLE_COLUMNS",
    "ENDED_CHANNEL",
    "HEARTBEAT_INTERVAL",
    "NEW_JOB_FIELDS",
    "QUEUED_CHANNEL",
    "WEBHOOK_CHANNEL",
    "_CLAIM_LOCK_KEY",
    "_RECOUNT_LOCK_KEY",
    "BadCursor",
    "ClaimedJob",
    "HELD_MESSAGE",
    "SlurmJob",
    "adopt_slurm_job",
    "record_pending_reason",
    "record_start",
    "record_submission",
    "slurm_jobs_on_host",
    "JobOutput",
    "NewJob",
    "adopt_job",
    "attach_lost_output",
    "cancel_job",
    "cancel_jobs_of",
    "AccountRow",
    "account_name_owner",
    "account_row",
    "insert_account_row",
    "claim_jobs",
    "queue_counts",
    "count_active",
    "decode_cursor",
    "delete_finished_before",
    "delete_job",
    "dirs_to_remove",
    "encode_cursor",
    "finish_job",
    "heartbeat",
    "insert_jobs",
    "job_attempts",
    "job_events",
    "job_row",
    "job_status",
    "jobs_lost_without_output",
    "jobs_of_lost_hosts",
    "jobs_still_mine",
    "known_jobs",
    "requeue_lost_job",
    "last_published",
    "list_page",
    "live_executors",
    "recount_if_stale",
    "running_jobs_on_host",
    "running_load",
    "stored_counts",
    "submit_job",
    "update_ready_job",
]
