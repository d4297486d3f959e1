"""executors, not workers

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 09:40:00

"Worker" is the app's Tornado process; the registry and the job's column are
the executor's: ``workers`` becomes ``executors`` (its primary key and index
too) and ``jobs.worker`` becomes ``jobs.executor``. Renames only: every row
and value stays. Each rename takes a brief ACCESS EXCLUSIVE lock.
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.rename_table("workers", "executors")
    op.execute("ALTER TABLE executors RENAME CONSTRAINT workers_pkey TO executors_pkey")
    op.execute("ALTER INDEX ix_workers_last_seen RENAME TO ix_executors_last_seen")
    op.alter_column("jobs", "worker", new_column_name="executor")


def downgrade() -> None:
    op.alter_column("jobs", "executor", new_column_name="worker")
    op.execute("ALTER INDEX ix_executors_last_seen RENAME TO ix_workers_last_seen")
    op.execute("ALTER TABLE executors RENAME CONSTRAINT executors_pkey TO workers_pkey")
    op.rename_table("executors", "workers")
