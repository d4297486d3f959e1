"""workflows: jobs that wait (dependencies, retry back-off, array tasks), their
attempts, and job arrays

A QUEUED job with ``waiting_for`` set is pending, not claimable, as Slurm's
PENDING with a Reason: ``dependencies`` (``job_dependencies`` rows not yet
satisfied), ``backoff`` (a retry waiting until ``eligible_at``) or ``tasks`` (an
array job: it never runs itself; its tasks do, and it ends when they all have).
The claim's index (``ix_jobs_queued_heads``) leaves them out, so a million
waiting jobs cost the claim nothing.

An array job keeps the task indexes it was asked for (``array_indexes``) and
how many tasks are made so far (``array_made``): its tasks are jobs made as they
become due (``queue/waiting.py``), as Slurm splits a pending array's record, so
an array of 100,000 is one row at submit. A task has ``array_id`` (its array
job) and ``array_index``; its id is ``<array id>:<index>``, which no name a user
gives can be (``ck_jobs_id_name`` allows it).

``retry`` is the job's retry strategy (JSON, as asked); ``attempt`` the number
of the attempt under way or last made; each ended attempt that was retried is a
``job_attempts`` row (the job's own columns hold the last attempt).

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30 18:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

OLD_HEADS = sa.text("status = 'QUEUED' AND executor IS NULL")
NEW_HEADS = sa.text("status = 'QUEUED' AND executor IS NULL AND waiting_for IS NULL")
HEADS_COLUMNS = ["queue", "submitter_id", sa.text("priority DESC"), "queued_at", "id"]


def _times() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("modified", sa.DateTime(), server_default=sa.func.now(), nullable=False),
    ]


#: A job's id (migration 0021's check), or an array task's: <array id>:<index>.
OLD_ID_CHECK = "id ~ '^[A-Za-z0-9_.-]{1,128}$' AND id !~ '^[.]+$'"
NEW_ID_CHECK = f"({OLD_ID_CHECK}) OR id ~ '^[A-Za-z0-9_.-]{{1,118}}:[0-9]{{1,9}}$'"


def upgrade() -> None:
    op.drop_constraint("ck_jobs_id_name", "jobs", type_="check")
    op.execute(f"ALTER TABLE jobs ADD CONSTRAINT ck_jobs_id_name CHECK ({NEW_ID_CHECK}) NOT VALID")
    op.add_column("jobs", sa.Column("waiting_for", sa.String(16), nullable=True))
    op.add_column("jobs", sa.Column("eligible_at", sa.DateTime(), nullable=True))
    op.add_column("jobs", sa.Column("retry", JSONB(), nullable=True))
    op.add_column("jobs", sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("jobs", sa.Column("array_spec", sa.Text(), nullable=True))
    op.add_column("jobs", sa.Column("array_size", sa.Integer(), nullable=True))
    op.add_column("jobs", sa.Column("array_max_running", sa.Integer(), nullable=True))
    op.add_column("jobs", sa.Column("array_indexes", ARRAY(sa.Integer()), nullable=True))
    op.add_column("jobs", sa.Column("array_made", sa.Integer(), nullable=True))
    op.add_column("jobs", sa.Column("array_id", sa.String(128), nullable=True))
    op.add_column("jobs", sa.Column("array_index", sa.Integer(), nullable=True))
    op.create_check_constraint(
        "ck_jobs_waiting_for",
        "jobs",
        "waiting_for IN ('dependencies', 'backoff', 'tasks')",
    )
    op.create_index(
        "ix_jobs_queued_heads_waiting", "jobs", HEADS_COLUMNS, postgresql_where=NEW_HEADS
    )
    op.drop_index("ix_jobs_queued_heads", table_name="jobs", postgresql_where=OLD_HEADS)
    op.execute("ALTER INDEX ix_jobs_queued_heads_waiting RENAME TO ix_jobs_queued_heads")
    op.create_index(
        "ix_jobs_waiting",
        "jobs",
        ["eligible_at"],
        postgresql_where=sa.text("status = 'QUEUED' AND waiting_for IS NOT NULL"),
    )
    op.create_index(
        "ix_jobs_array_created",
        "jobs",
        ["array_id", sa.text("created_at DESC"), sa.text("id DESC")],
        postgresql_where=sa.text("array_id IS NOT NULL"),
    )
    op.create_index(
        "ix_jobs_array_active",
        "jobs",
        ["array_id"],
        postgresql_where=sa.text("array_id IS NOT NULL AND status IN ('QUEUED', 'RUNNING')"),
    )
    op.create_table(
        "job_dependencies",
        sa.Column(
            "job_id",
            sa.String(128),
            sa.ForeignKey("jobs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("depends_on", sa.String(128), primary_key=True),
        # The job it names, as it was then (jobs.number): a job deleted and its
        # name taken again is another job.
        sa.Column("depends_on_number", sa.BigInteger(), nullable=False),
        sa.Column("condition", sa.String(16), nullable=False),
        sa.Column("satisfied", sa.Boolean(), nullable=True),
        *_times(),
        sa.CheckConstraint(
            "condition IN ('afterok', 'afternotok', 'afterany')",
            name="ck_job_dependencies_condition",
        ),
    )
    op.create_index(
        "ix_job_dependencies_pending",
        "job_dependencies",
        ["depends_on_number"],
        postgresql_where=sa.text("satisfied IS NULL"),
    )
    op.create_table(
        "job_attempts",
        sa.Column(
            "job_id",
            sa.String(128),
            sa.ForeignKey("jobs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("number", sa.Integer(), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=True),
        sa.Column("return_code", sa.Integer(), nullable=True),
        sa.Column("host", sa.String(255), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("stdout", sa.Text(), nullable=True),
        sa.Column("stderr", sa.Text(), nullable=True),
        sa.Column("stdout_truncated", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("stderr_truncated", sa.Boolean(), nullable=False, server_default="false"),
        *_times(),
    )


def downgrade() -> None:
    op.drop_constraint("ck_jobs_id_name", "jobs", type_="check")
    op.execute(f"ALTER TABLE jobs ADD CONSTRAINT ck_jobs_id_name CHECK ({OLD_ID_CHECK}) NOT VALID")
    op.drop_table("job_attempts")
    op.drop_table("job_dependencies")
    op.drop_index("ix_jobs_array_active", table_name="jobs")
    op.drop_index("ix_jobs_array_created", table_name="jobs")
    op.drop_index("ix_jobs_waiting", table_name="jobs")
    op.create_index("ix_jobs_queued_heads_old", "jobs", HEADS_COLUMNS, postgresql_where=OLD_HEADS)
    op.drop_index("ix_jobs_queued_heads", table_name="jobs")
    op.execute("ALTER INDEX ix_jobs_queued_heads_old RENAME TO ix_jobs_queued_heads")
    op.drop_constraint("ck_jobs_waiting_for", "jobs")
    for column in (
        "array_index", "array_id", "array_made", "array_indexes", "array_max_running",
        "array_size", "array_spec", "attempt", "retry", "eligible_at", "waiting_for",
    ):  # fmt: skip
        op.drop_column("jobs", column)
