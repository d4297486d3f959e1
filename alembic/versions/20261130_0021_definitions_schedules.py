"""job definitions (versioned), schedules and their fires; a job's definition and schedule

A definition is a name per owner (``definitions``) with numbered versions that
never change (``definition_versions``). A schedule fires a definition on a cron
expression; ``schedules.next_fire_at`` is the next tick it owes, and each tick
it fired or skipped is a ``schedule_fires`` row whose key (schedule, tick) makes
a second fire of the same tick impossible. A job run from a definition records
it (its id, name and version: the name and version stay when the definition is
deleted), its parameter values (secrets masked), the secret values apart
(``secret_env``, never shown), and the schedule and tick that fired it.
Adding nullable columns rewrites nothing. A CHECK keeps any id that is not a
job's name (".", "..") out of the jobs table.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 15:30:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def _times() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("modified", sa.DateTime(), server_default=sa.func.now(), nullable=False),
    ]


#: A job's id is a name (``job_paths.JOB_NAME_PATTERN``), never dots only: it names
#: its directory. NOT VALID: new and changed rows are checked, old ones not scanned.
JOB_ID_CHECK = "id ~ '^[A-Za-z0-9_.-]{1,128}$' AND id !~ '^[.]+$'"


def upgrade() -> None:
    op.execute(f"ALTER TABLE jobs ADD CONSTRAINT ck_jobs_id_name CHECK ({JOB_ID_CHECK}) NOT VALID")
    op.create_table(
        "definitions",
        sa.Column("id", sa.Integer(), sa.Identity(), primary_key=True),
        sa.Column(
            "owner_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        *_times(),
        sa.UniqueConstraint("owner_id", "name", name="uq_definitions_owner_name"),
    )
    op.create_index("ix_definitions_name", "definitions", ["name"])
    op.create_table(
        "definition_versions",
        sa.Column(
            "definition_id",
            sa.Integer(),
            sa.ForeignKey("definitions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("shell", sa.String(64), nullable=True),
        sa.Column("args", JSONB(), nullable=False, server_default="[]"),
        sa.Column("env", JSONB(), nullable=False, server_default="{}"),
        sa.Column("stdin", sa.Text(), nullable=True),
        sa.Column("options", JSONB(), nullable=False, server_default="{}"),
        sa.Column("parameters", JSONB(), nullable=False, server_default="[]"),
        sa.Column(
            "author_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        *_times(),
    )
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), sa.Identity(), primary_key=True),
        sa.Column(
            "owner_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "definition_id",
            sa.Integer(),
            sa.ForeignKey("definitions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("parameters", JSONB(), nullable=False, server_default="{}"),
        sa.Column("secret_parameters", JSONB(), nullable=False, server_default="{}"),
        sa.Column("overrides", JSONB(), nullable=False, server_default="{}"),
        sa.Column("cron", sa.String(255), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default="true"),
        sa.Column("overlap", sa.String(8), nullable=False, server_default="skip"),
        sa.Column("catch_up", sa.String(8), nullable=False, server_default="none"),
        sa.Column("next_fire_at", sa.DateTime(), nullable=False),
        sa.Column("last_job_id", sa.String(128), nullable=True),
        *_times(),
        sa.CheckConstraint("overlap IN ('skip', 'queue', 'allow')", name="ck_schedules_overlap"),
        sa.CheckConstraint("catch_up IN ('none', 'latest')", name="ck_schedules_catch_up"),
    )
    op.create_index(
        "ix_schedules_due", "schedules", ["next_fire_at"], postgresql_where=sa.text("enabled")
    )
    op.create_index("ix_schedules_owner_id", "schedules", ["owner_id"])
    op.create_index("ix_schedules_definition_id", "schedules", ["definition_id"])
    op.create_table(
        "schedule_fires",
        sa.Column(
            "schedule_id",
            sa.Integer(),
            sa.ForeignKey("schedules.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tick", sa.DateTime(), primary_key=True),
        sa.Column("job_id", sa.String(128), nullable=True),
        sa.Column("skipped", sa.Text(), nullable=True),
        *_times(),
    )
    op.create_index("ix_schedule_fires_created", "schedule_fires", ["created_at"])
    op.add_column(
        "jobs",
        sa.Column(
            "definition_id",
            sa.Integer(),
            sa.ForeignKey("definitions.id", ondelete="SET NULL"),
            nullable=True,
        ),
    )
    op.add_column("jobs", sa.Column("definition_name", sa.String(64), nullable=True))
    op.add_column("jobs", sa.Column("definition_version", sa.Integer(), nullable=True))
    op.add_column("jobs", sa.Column("parameters", JSONB(), nullable=True))
    op.add_column("jobs", sa.Column("secret_env", JSONB(), nullable=True))
    # No foreign key: a job keeps the id of the schedule that fired it after the
    # schedule is deleted (?schedule= still lists it; identity ids are never reused).
    op.add_column("jobs", sa.Column("schedule_id", sa.Integer(), nullable=True))
    op.add_column("jobs", sa.Column("scheduled_for", sa.DateTime(), nullable=True))
    # A definition's runs (by the name they recorded) and a schedule's, newest first
    # (GET /api/jobs?definition=...&schedule=...).
    op.create_index(
        "ix_jobs_definition_created",
        "jobs",
        ["definition_name", sa.text("created_at DESC"), sa.text("id DESC")],
        postgresql_where=sa.text("definition_name IS NOT NULL"),
    )
    # Deleting a definition sets its jobs' definition_id to null: found by this.
    op.create_index(
        "ix_jobs_definition_id",
        "jobs",
        ["definition_id"],
        postgresql_where=sa.text("definition_id IS NOT NULL"),
    )
    op.create_index(
        "ix_jobs_schedule_created",
        "jobs",
        ["schedule_id", sa.text("created_at DESC"), sa.text("id DESC")],
        postgresql_where=sa.text("schedule_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_constraint("ck_jobs_id_name", "jobs", type_="check")
    op.drop_index("ix_jobs_schedule_created", table_name="jobs")
    op.drop_index("ix_jobs_definition_id", table_name="jobs")
    op.drop_index("ix_jobs_definition_created", table_name="jobs")
    for column in (
        "scheduled_for",
        "schedule_id",
        "secret_env",
        "parameters",
        "definition_version",
        "definition_name",
        "definition_id",
    ):
        op.drop_column("jobs", column)
    op.drop_table("schedule_fires")
    op.drop_table("schedules")
    op.drop_table("definition_versions")
    op.drop_table("definitions")
