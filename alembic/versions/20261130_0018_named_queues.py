"""named queues: the queue a job names, the host that ran it

Every existing job goes in the queue "default" (the one queue of the default
config). The claim's index gets the queue first: the claim reads each queue's
waiting users. Adding a column with a constant default rewrites nothing
(PostgreSQL 11+); rebuilding the index takes a SHARE lock on jobs for as long as
reading the QUEUED rows takes.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 10:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

QUEUED = sa.text("status = 'QUEUED'")


def upgrade() -> None:
    op.add_column(
        "jobs", sa.Column("queue", sa.String(32), nullable=False, server_default="default")
    )
    op.add_column("jobs", sa.Column("host", sa.String(255), nullable=True))
    op.drop_index("ix_jobs_queued_heads", table_name="jobs", postgresql_where=QUEUED)
    op.create_index(
        "ix_jobs_queued_heads",
        "jobs",
        ["queue", "submitter_id", sa.text("priority DESC"), "queued_at", "id"],
        postgresql_where=QUEUED,
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_queued_heads", table_name="jobs", postgresql_where=QUEUED)
    op.create_index(
        "ix_jobs_queued_heads",
        "jobs",
        ["submitter_id", sa.text("priority DESC"), "queued_at", "id"],
        postgresql_where=QUEUED,
    )
    op.drop_column("jobs", "host")
    op.drop_column("jobs", "queue")
