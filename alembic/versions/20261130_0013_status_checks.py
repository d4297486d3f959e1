"""status checks

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 08:00:00

Every status column holds a JobStatus: jobs.status, job_events.from_status and
to_status, job_counts.status. The states are written here, as they were at this
revision (a migration is history: it must not change when job_states.py does);
a new state needs a migration that drops and re-adds these constraints
(tests/api/test_job_states.py compares them with JobStatus and fails until it
exists). Each constraint is added NOT VALID and then validated, in the
migration's one transaction: the stored rows are checked (one that fails stops
the migration; none is changed) under the lock ADD CONSTRAINT takes.
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

STATES = (
    "READY",
    "QUEUED",
    "RUNNING",
    "COMPLETE",
    "FAILED",
    "TIMED_OUT",
    "CANCELLED",
    "SERVER_ERROR",
)


def status_check(column: str) -> str:
    """``column`` holds one of STATES (NULL passes a CHECK: nullable stays nullable)."""
    return f"{column} IN ({', '.join(repr(state) for state in STATES)})"


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
