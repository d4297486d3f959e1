"""status checks

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 08:00:00

Every status column holds a JobStatus: jobs.status, job_events.from_status and
to_status, job_counts.status. The conditions are made from
``shell_service.job_states.status_check``; a new state needs a migration that
drops and re-adds these constraints (tests/api/test_job_states.py fails until
it exists). Each constraint is added NOT VALID and then validated, so the check
of the stored rows does not hold an exclusive lock on a large jobs table; no row
is changed (a row that fails stops the migration instead).
"""

from alembic import op

from shell_service.job_states import status_check

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

#: (table, column, constraint name)
STATUS_COLUMNS = (
    ("jobs", "status", "ck_jobs_status"),
    ("job_events", "from_status", "ck_job_events_from_status"),
    ("job_events", "to_status", "ck_job_events_to_status"),
    ("job_counts", "status", "ck_job_counts_status"),
)


def upgrade() -> None:
    for table, column, name in STATUS_COLUMNS:
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({status_check(column)}) NOT VALID"
        )
        op.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")


def downgrade() -> None:
    for table, _column, name in reversed(STATUS_COLUMNS):
        op.drop_constraint(name, table, type_="check")
