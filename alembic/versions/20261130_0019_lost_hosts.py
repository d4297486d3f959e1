"""hosts that are lost: the executors' host, and jobs that ask to be queued again

``executors.host`` names each executor's host (its id is "host:pid"), so a host
is alive while any of its executors heartbeats. ``jobs.requeue_on_host_loss``:
the job goes back to QUEUED instead of ending SERVER_ERROR when its host is
lost. RUNNING jobs claimed before 0018 recorded no host: it is their executor's.
Adding columns with constant defaults rewrites nothing; the backfill touches
only RUNNING rows.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 11:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("executors", sa.Column("host", sa.String(255), nullable=True))
    op.execute("UPDATE executors SET host = regexp_replace(id, ':[0-9]+$', '')")
    op.add_column(
        "jobs",
        sa.Column("requeue_on_host_loss", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.execute(
        "UPDATE jobs SET host = regexp_replace(executor, ':[0-9]+$', '')"
        " WHERE status = 'RUNNING' AND host IS NULL AND executor IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_column("jobs", "requeue_on_host_loss")
    op.drop_column("executors", "host")
