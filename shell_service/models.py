"""The application's tables: jobs and their events, the executors' registry, Unix
accounts, definitions and schedules (each as its migrations make it: a test checks)."""

import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from baselayer.app.models import Base, User

from .job_states import JobStatus, status_check


class Job(Base):
    """A user's script, its state, and once it ends its output.

    The jobs table is also the queue: QUEUED rows are claimed by executors.
    """

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    # A serial number (the order jobs were created in).
    number: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True, nullable=False)
    code: Mapped[str] = mapped_column(Text, nullable=False)
    shell: Mapped[str] = mapped_column(String(64), nullable=False, default="sh")
    args: Mapped[list] = mapped_column(JSONB, nullable=False, default=list, server_default="[]")
    env: Mapped[dict] = mapped_column(JSONB, nullable=False, default=dict, server_default="{}")
    stdin: Mapped[str | None] = mapped_column(Text)
    timeout: Mapped[int] = mapped_column(
        Integer, nullable=False, default=3600, server_default="3600"
    )
    cpus: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    memory_mb: Mapped[int] = mapped_column(
        Integer, nullable=False, default=1024, server_default="1024"
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=JobStatus.READY)
    status_message: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    # The named queue it waits and runs in (shell_service/queues.py); rows made
    # before queues existed are in "default".
    queue: Mapped[str] = mapped_column(String(32), nullable=False, server_default="default")
    # The host (hosts.name) whose executor claimed it; None until it starts.
    host: Mapped[str | None] = mapped_column(String(255))
    # Its host lost (no heartbeat for hosts.lost_after): back to QUEUED, not SERVER_ERROR.
    requeue_on_host_loss: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default="false"
    )
    submitter_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    return_code: Mapped[int | None] = mapped_column(Integer)
    stdout: Mapped[str | None] = mapped_column(Text)
    stderr: Mapped[str | None] = mapped_column(Text)
    stdout_truncated: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default="false"
    )
    stderr_truncated: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default="false"
    )
    queued_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    started_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    # A user asked to cancel it while it ran: its executor ends it, then records
    # it CANCELLED with its final output.
    cancel_requested_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    # The executor that runs it (set by its claim, changed by an adoption):
    # "host:pid", its name in the ``executors`` registry.
    executor: Mapped[str | None] = mapped_column(String(255))
    # A job of a Slurm queue: its Slurm job id once submitted, and the node Slurm
    # ran it on (executors/slurm/).
    slurm_job_id: Mapped[int | None] = mapped_column(BigInteger)
    slurm_node: Mapped[str | None] = mapped_column(String(255))
    # A run of a definition: which one (None once it is deleted), its name and
    # version as run, and the parameter values (a secret's masked; its value is
    # in ``secret_env``, merged into the job's environment only by the executor's
    # reads and never shown). A schedule's fire: the schedule and its tick (UTC).
    definition_id: Mapped[int | None] = mapped_column(
        ForeignKey("definitions.id", ondelete="SET NULL")
    )
    definition_name: Mapped[str | None] = mapped_column(String(64))
    definition_version: Mapped[int | None] = mapped_column(Integer)
    parameters: Mapped[dict | None] = mapped_column(JSONB)
    secret_env: Mapped[dict | None] = mapped_column(JSONB)
    # No foreign key: the jobs keep it when their schedule is deleted.
    schedule_id: Mapped[int | None] = mapped_column(Integer)
    scheduled_for: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    # Pending, not claimable (a QUEUED job, as Slurm's PENDING with a Reason):
    # "dependencies" (job_dependencies not yet satisfied), "backoff" (a retry
    # waiting until eligible_at) or "tasks" (an array job: its tasks run; it
    # ends when they all have). None: claimable (migration 0023).
    waiting_for: Mapped[str | None] = mapped_column(String(16))
    eligible_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    # Its retry strategy as asked (JSON); the attempt under way or last made.
    retry: Mapped[dict | None] = mapped_column(JSONB)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    # An array job: its spec as asked ("0-999%50"), its size, how many tasks may
    # run at once, every task index in order, and how many tasks are made so far
    # (tasks are made as they become due: queue/waiting.py).
    array_spec: Mapped[str | None] = mapped_column(Text)
    array_size: Mapped[int | None] = mapped_column(Integer)
    array_max_running: Mapped[int | None] = mapped_column(Integer)
    array_indexes: Mapped[list[int] | None] = mapped_column(ARRAY(Integer))
    array_made: Mapped[int | None] = mapped_column(Integer)
    # An array task: its array job and index (array_size is the array's too).
    array_id: Mapped[str | None] = mapped_column(String(128))
    array_index: Mapped[int | None] = mapped_column(Integer)

    submitter: Mapped[User] = relationship(lazy="raise")
    events: Mapped[list["JobEvent"]] = relationship(
        back_populates="job", order_by="JobEvent.id", passive_deletes=True, lazy="raise"
    )

    __table_args__ = (
        # The claim's reads: which users have jobs waiting in which queue (a skip
        # scan), and each one's next jobs in priority and age order (queue/claim.py).
        Index(
            "ix_jobs_queued_heads",
            queue,
            submitter_id,
            priority.desc(),
            queued_at,
            id,
            # Not the jobs an executor holds (handed to Slurm, pending there),
            # nor those waiting (dependencies, a back-off, an array's own row).
            postgresql_where=text("status = 'QUEUED' AND executor IS NULL AND waiting_for IS NULL"),
        ),
        # The jobs handed to Slurm and pending there, per queue and user: the
        # claim counts them against the queue's limits as it counts RUNNING ones.
        Index(
            "ix_jobs_held",
            queue,
            submitter_id,
            postgresql_where=text("status = 'QUEUED' AND executor IS NOT NULL"),
        ),
        # Running jobs per user, for capacity and fairness.
        Index("ix_jobs_running", submitter_id, postgresql_where=text("status = 'RUNNING'")),
        # History pages, newest first, with the id as tie-breaker (the cursor's
        # order): a user's, everyone's (admins), and both by state.
        Index("ix_jobs_submitter_created", submitter_id, text("created_at DESC"), text("id DESC")),
        Index("ix_jobs_created", text("created_at DESC"), text("id DESC")),
        Index(
            "ix_jobs_submitter_status_created",
            submitter_id,
            status,
            text("created_at DESC"),
            text("id DESC"),
        ),
        Index("ix_jobs_status_created", status, text("created_at DESC"), text("id DESC")),
        # Retention: the oldest finished jobs first.
        Index(
            "ix_jobs_finished_at",
            finished_at,
            postgresql_where=text("finished_at IS NOT NULL"),
        ),
        # A definition's runs (by name) and a schedule's fires, newest first.
        Index(
            "ix_jobs_definition_created",
            definition_name,
            text("created_at DESC"),
            text("id DESC"),
            postgresql_where=text("definition_name IS NOT NULL"),
        ),
        # A definition's latest runs, everyone's and one user's (queue.recent_runs);
        # the first also finds a deleted definition's jobs (migration 0026).
        Index(
            "ix_jobs_definition_runs",
            definition_id,
            text("created_at DESC"),
            text("id DESC"),
            postgresql_where=text("definition_id IS NOT NULL"),
        ),
        Index(
            "ix_jobs_definition_submitter_runs",
            definition_id,
            submitter_id,
            text("created_at DESC"),
            text("id DESC"),
            postgresql_where=text("definition_id IS NOT NULL"),
        ),
        Index(
            "ix_jobs_schedule_created",
            schedule_id,
            text("created_at DESC"),
            text("id DESC"),
            postgresql_where=text("schedule_id IS NOT NULL"),
        ),
        # The waiting jobs the waiting-jobs service looks at (queue/waiting.py).
        Index(
            "ix_jobs_waiting",
            eligible_at,
            postgresql_where=text("status = 'QUEUED' AND waiting_for IS NOT NULL"),
        ),
        # An array's tasks, newest first (GET /api/jobs?array=), and its counts.
        Index(
            "ix_jobs_array_created",
            array_id,
            text("created_at DESC"),
            text("id DESC"),
            postgresql_where=text("array_id IS NOT NULL"),
        ),
        # An array's unended tasks: how many run or wait (its %N, its end).
        Index(
            "ix_jobs_array_active",
            array_id,
            postgresql_where=text("array_id IS NOT NULL AND status IN ('QUEUED', 'RUNNING')"),
        ),
        CheckConstraint(
            "waiting_for IN ('dependencies', 'backoff', 'tasks')", name="ck_jobs_waiting_for"
        ),
        # The jobs not ended, counted per submitter, state and queue from this
        # index alone (the overview, GET /api/stats; migration 0025).
        Index(
            "ix_jobs_active",
            submitter_id,
            status,
            queue,
            postgresql_where=text("status IN ('READY', 'QUEUED', 'RUNNING')"),
        ),
        # id_prefix filters: LIKE 'prefix%' needs pattern ops under a non-C collation.
        Index("ix_jobs_id_pattern", text("id varchar_pattern_ops")),
        # Every status column holds a JobStatus (migration 0013).
        CheckConstraint(status_check("status"), name="ck_jobs_status"),
        # Its id names its directory: a name, never "." or ".." (migration 0021),
        # or an array task's <array id>:<index> (migration 0023).
        CheckConstraint(
            "(id ~ '^[A-Za-z0-9_.-]{1,128}$' AND id !~ '^[.]+$')"
            " OR id ~ '^[A-Za-z0-9_.-]{1,118}:[0-9]{1,9}$'",
            name="ck_jobs_id_name",
        ),
    )


class JobEvent(Base):
    """One transition of a job: the job's history and the audit trail."""

    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(
        ForeignKey("jobs.id", ondelete="CASCADE"), index=True, nullable=False
    )
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16), nullable=False)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    detail: Mapped[str | None] = mapped_column(Text)

    job: Mapped[Job] = relationship(back_populates="events", lazy="raise")

    __table_args__ = (
        CheckConstraint(status_check("from_status"), name="ck_job_events_from_status"),
        CheckConstraint(status_check("to_status"), name="ck_job_events_to_status"),
    )


class JobDependency(Base):
    """One dependency of a job (Slurm's ``--dependency``): it waits until job
    ``depends_on`` (the one numbered ``depends_on_number``) has ended as
    ``condition`` asks (``afterok``: COMPLETE; ``afternotok``: any other end;
    ``afterany``: any end). ``satisfied`` is None until that job ends, then
    whether the condition held (queue/waiting.py). No foreign key: a job that
    is deleted leaves the dependency unsatisfiable, not gone."""

    __tablename__ = "job_dependencies"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    depends_on: Mapped[str] = mapped_column(String(128), primary_key=True)
    # The job it names, as it was then: a job deleted and its name taken again by
    # another (another user's, maybe) is not it.
    depends_on_number: Mapped[int] = mapped_column(BigInteger, nullable=False)
    condition: Mapped[str] = mapped_column(String(16), nullable=False)
    satisfied: Mapped[bool | None] = mapped_column(Boolean)

    __table_args__ = (
        Index(
            "ix_job_dependencies_pending",
            depends_on_number,
            postgresql_where=text("satisfied IS NULL"),
        ),
        CheckConstraint(
            "condition IN ('afterok', 'afternotok', 'afterany')",
            name="ck_job_dependencies_condition",
        ),
    )


class JobAttempt(Base):
    """An ended attempt of a job that was retried (AWS Batch's attempts): its
    number (1 first), how it ended and its output. The job's own columns hold
    its last attempt."""

    __tablename__ = "job_attempts"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    status_message: Mapped[str | None] = mapped_column(Text)
    return_code: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    stdout: Mapped[str | None] = mapped_column(Text)
    stderr: Mapped[str | None] = mapped_column(Text)
    stdout_truncated: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default="false"
    )
    stderr_truncated: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default="false"
    )


class ExecutorRecord(Base):
    """An executor's registry row (its heartbeat): which executors are alive, how
    busy, and what each offers (``published``: its memory budget and isolation
    layers, written at its start and with each heartbeat; ``queue.heartbeat``)."""

    __tablename__ = "executors"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # "host:pid"
    # Its host (hosts.name): a host is alive while any of its executors heartbeats.
    host: Mapped[str | None] = mapped_column(String(255))
    last_seen: Mapped[datetime.datetime] = mapped_column(DateTime, nullable=False, index=True)
    running: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    published: Mapped[dict | None] = mapped_column(JSONB)


#: The directories of deleted jobs, each for its host's executor to remove
#: (``queue.delete_job`` writes, ``queue.dirs_to_remove`` reads; migration 0015).
job_dirs_to_remove = Table(
    "job_dirs_to_remove",
    Base.metadata,
    Column("job_id", String(128), primary_key=True),
    Column("host", String(255), primary_key=True),
    Column("created_at", DateTime, server_default=func.now(), nullable=False),
)


class JobCount(Base):
    """Jobs in one state as of the last recount (``modified``), shared by every app
    worker (``queue.recount_if_stale``)."""

    __tablename__ = "job_counts"

    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, nullable=False)

    __table_args__ = (CheckConstraint(status_check("status"), name="ck_job_counts_status"),)


#: The outcomes the stats count (a job's final states; migration 0025).
_OUTCOMES_CHECK = "outcome IN ('COMPLETE', 'FAILED', 'TIMED_OUT', 'CANCELLED', 'SERVER_ERROR')"

#: Jobs ended per hour (of ``finished_at``), submitter (0: everyone's together,
#: queue ''), queue, outcome and queue-wait bucket (``stats.py``: -1, never started), as of
#: ``job_stats_cursor.rolled_until`` (``queue/stats.py``; migration 0025).
job_stats_hourly = Table(
    "job_stats_hourly",
    Base.metadata,
    Column("submitter_id", Integer, primary_key=True),
    Column("hour", DateTime, primary_key=True),
    Column("queue", String(32), primary_key=True),
    Column("outcome", String(16), primary_key=True),
    Column("bucket", SmallInteger, primary_key=True),
    Column("jobs", BigInteger, nullable=False),
    CheckConstraint(_OUTCOMES_CHECK, name="ck_job_stats_hourly_outcome"),
)

#: The same, every hour together.
job_stats_totals = Table(
    "job_stats_totals",
    Base.metadata,
    Column("submitter_id", Integer, primary_key=True),
    Column("queue", String(32), primary_key=True),
    Column("outcome", String(16), primary_key=True),
    Column("jobs", BigInteger, nullable=False),
    CheckConstraint(_OUTCOMES_CHECK, name="ck_job_stats_totals_outcome"),
)

#: The rollups hold exactly the jobs that ended before ``rolled_until`` (one row).
job_stats_cursor = Table(
    "job_stats_cursor",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("rolled_until", DateTime, nullable=False),
    CheckConstraint("id = 1", name="ck_job_stats_cursor_one_row"),
)


class UnixAccount(Base):
    """The Unix identity an API user's jobs run as (``executors/accounts.py``): made
    once per user, the same on every host. ``uid`` is ``jobs.accounts.uid_base`` +
    ``user_id`` (its group has the same number); ``name`` is derived from the username.
    ``key`` is random, written into the account's passwd comment (GECOS): a passwd
    entry made for an earlier database's user of the same id does not carry it, so that
    user's home is never handed to this one."""

    __tablename__ = "unix_accounts"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    uid: Mapped[int] = mapped_column(BigInteger, unique=True, nullable=False)
    key: Mapped[str] = mapped_column(String(16), nullable=False)


class Definition(Base):
    """A job definition: a name (unique per owner) whose versions hold a script,
    its default options and its typed parameters (``shell_service/definitions.py``).
    ``shared``: every user may read and run it; otherwise only its owner (and admins)."""

    __tablename__ = "definitions"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    owner_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    shared: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default="false"
    )
    latest_version: Mapped[int] = mapped_column(Integer, nullable=False)

    __table_args__ = (UniqueConstraint("owner_id", "name", name="uq_definitions_owner_name"),)


class DefinitionVersion(Base):
    """One version of a definition, never changed once written. ``options``: the
    job options it gives by default (queue, timeout, cpus, memory_mb, priority,
    requeue_on_host_loss); ``parameters``: their specs, as validated by
    ``definitions.check_parameters``."""

    __tablename__ = "definition_versions"

    definition_id: Mapped[int] = mapped_column(
        ForeignKey("definitions.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    description: Mapped[str | None] = mapped_column(Text)
    code: Mapped[str] = mapped_column(Text, nullable=False)
    shell: Mapped[str | None] = mapped_column(String(64))
    args: Mapped[list] = mapped_column(JSONB, nullable=False, default=list, server_default="[]")
    env: Mapped[dict] = mapped_column(JSONB, nullable=False, default=dict, server_default="{}")
    stdin: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict] = mapped_column(JSONB, nullable=False, default=dict, server_default="{}")
    parameters: Mapped[list] = mapped_column(
        JSONB, nullable=False, default=list, server_default="[]"
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Schedule(Base):
    """A definition fired on a cron expression in a time zone (``shell_service/schedules.py``).

    ``next_fire_at`` (naive UTC) is the next tick it owes; the scheduler moves it
    on in the same statement that records the tick in ``schedule_fires``.
    ``version`` None: the definition's latest at each fire. ``secret_parameters``
    holds the secret parameters' values, never shown.
    """

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    owner_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    definition_id: Mapped[int] = mapped_column(
        ForeignKey("definitions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    version: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    parameters: Mapped[dict] = mapped_column(
        JSONB, nullable=False, default=dict, server_default="{}"
    )
    secret_parameters: Mapped[dict] = mapped_column(
        JSONB, nullable=False, default=dict, server_default="{}"
    )
    overrides: Mapped[dict] = mapped_column(
        JSONB, nullable=False, default=dict, server_default="{}"
    )
    cron: Mapped[str] = mapped_column(String(255), nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, server_default="UTC")
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    overlap: Mapped[str] = mapped_column(String(8), nullable=False, server_default="skip")
    catch_up: Mapped[str] = mapped_column(String(8), nullable=False, server_default="none")
    next_fire_at: Mapped[datetime.datetime] = mapped_column(DateTime, nullable=False)
    last_job_id: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (
        Index("ix_schedules_due", next_fire_at, postgresql_where=text("enabled")),
        CheckConstraint("overlap IN ('skip', 'queue', 'allow')", name="ck_schedules_overlap"),
        CheckConstraint("catch_up IN ('none', 'latest')", name="ck_schedules_catch_up"),
    )


class ScheduleFire(Base):
    """One tick of a schedule, fired (``job_id``) or skipped (``skipped``: why).
    The key (schedule, tick) is what makes a tick fire at most once."""

    __tablename__ = "schedule_fires"

    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), primary_key=True
    )
    tick: Mapped[datetime.datetime] = mapped_column(DateTime, primary_key=True)
    job_id: Mapped[str | None] = mapped_column(String(128))
    skipped: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_schedule_fires_created", "created_at"),)


class Webhook(Base):
    """A user's HTTP callback on job events (``shell_service/webhooks/``).

    ``events``: the event names it wants (``webhooks.payload.EVENTS``). Filters,
    each None for any: ``definition_id`` (with its name as resolved at the
    time; no foreign key, so a deleted definition's filter matches nothing
    rather than every job), ``schedule_id``, ``queue``, ``array_id``.
    ``secret`` is kept as given (the HMAC needs it); no API answer reads it.
    """

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    owner_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    url: Mapped[str] = mapped_column(Text, nullable=False)
    events: Mapped[list] = mapped_column(JSONB, nullable=False)
    definition_id: Mapped[int | None] = mapped_column(Integer)
    definition_name: Mapped[str | None] = mapped_column(String(64))
    schedule_id: Mapped[int | None] = mapped_column(Integer)
    queue: Mapped[str | None] = mapped_column(String(64))
    array_id: Mapped[str | None] = mapped_column(String(128))
    secret: Mapped[str] = mapped_column(Text, nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    description: Mapped[str | None] = mapped_column(Text)


class WebhookDelivery(Base):
    """One event sent (or being sent) to one webhook: unique per (webhook, job
    event), so the event is delivered in one series of attempts whatever number
    of deliverers read it. ``job_event_id`` None: a test ping. ``body``: the
    exact bytes sent (made at the first attempt), so every retry carries the same
    payload and signature. ``status``: pending (``next_attempt_at`` is when),
    delivered, failed (a 4xx, a redirect, or the retries ran out)."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    webhook_id: Mapped[int] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False
    )
    job_event_id: Mapped[int | None] = mapped_column(BigInteger)
    job_id: Mapped[str | None] = mapped_column(String(128))
    event: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    next_attempt_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    # A deliverer sending it now holds it until then (a crashed one's is retried).
    locked_until: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    body: Mapped[str | None] = mapped_column(Text)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        UniqueConstraint("webhook_id", "job_event_id", name="uq_webhook_deliveries_event"),
        CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')", name="ck_webhook_deliveries_status"
        ),
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_webhook_deliveries_webhook", "webhook_id", text("id DESC")),
        Index("ix_webhook_deliveries_created", "created_at"),
    )


class WebhookAttempt(Base):
    """One POST of a delivery: when, how long (ms), the HTTP status or the error,
    and when the next one is due (None: none)."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False, index=True
    )
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    started_at: Mapped[datetime.datetime] = mapped_column(DateTime, nullable=False)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    next_retry_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)


class WebhookCursor(Base):
    """The deliverer's place in ``job_events`` (one row): every event up to
    ``last_event_id`` has had its deliveries made."""

    __tablename__ = "webhook_cursor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger, nullable=False)

    __table_args__ = (CheckConstraint("id = 1", name="ck_webhook_cursor_one_row"),)


class WebSession(Base):
    """A dashboard sign-in: the token it is (``tokens``, with its expiry), the API
    token it was made from, and the browser that signed in. Only such a token is
    accepted from the UI's cookie. Deleting the source token deletes this row, and
    a trigger (migration 0027) deletes the session's own token with it."""

    __tablename__ = "web_sessions"

    token_id: Mapped[int] = mapped_column(
        ForeignKey("tokens.id", ondelete="CASCADE"), primary_key=True
    )
    source_token_id: Mapped[int] = mapped_column(
        ForeignKey("tokens.id", ondelete="CASCADE"), index=True, nullable=False
    )
    user_agent: Mapped[str | None] = mapped_column(Text)
