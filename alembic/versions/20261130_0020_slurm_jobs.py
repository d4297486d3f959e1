"""jobs handed to Slurm: their Slurm job id and node, and a claim that skips them

A job of a Slurm queue stays QUEUED while Slurm keeps it pending, held by the
executor that submitted it (``jobs.executor`` set). The claim's index now holds
only the QUEUED jobs nobody holds; the jobs handed to Slurm get a small index of
their own (queue capacity counts them as it counts RUNNING ones). Both indexes are
built while the upgrade holds a SHARE lock on jobs, as 0018's was.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 12:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

QUEUED = sa.text("status = 'QUEUED'")
UNHELD = sa.text("status = 'QUEUED' AND executor IS NULL")
HELD = sa.text("status = 'QUEUED' AND executor IS NOT NULL")
HEADS = ["queue", "submitter_id", sa.text("priority DESC"), "queued_at", "id"]


def upgrade() -> None:
    op.add_column("jobs", sa.Column("slurm_job_id", sa.BigInteger(), nullable=True))
    op.add_column("jobs", sa.Column("slurm_node", sa.String(255), nullable=True))
    op.drop_index("ix_jobs_queued_heads", table_name="jobs", postgresql_where=QUEUED)
    op.create_index("ix_jobs_queued_heads", "jobs", HEADS, postgresql_where=UNHELD)
    op.create_index("ix_jobs_held", "jobs", ["queue", "submitter_id"], postgresql_where=HELD)


def downgrade() -> None:
    op.drop_index("ix_jobs_held", table_name="jobs", postgresql_where=HELD)
    op.drop_index("ix_jobs_queued_heads", table_name="jobs", postgresql_where=UNHELD)
    op.create_index("ix_jobs_queued_heads", "jobs", HEADS, postgresql_where=QUEUED)
    op.drop_column("jobs", "slurm_node")
    op.drop_column("jobs", "slurm_job_id")
