"""the claim reads each user's next jobs from an index

The claim used to rank every QUEUED job (``ix_jobs_queued``: priority, then
age); it now reads each waiting user's first jobs in order
(``queue/claim.py``), which needs the submitter first. Building the index takes
a SHARE lock on jobs (inserts and updates wait, reads do not) for as long as
it takes to read the QUEUED rows: a second or so per million.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

QUEUED = sa.text("status = 'QUEUED'")


def upgrade() -> None:
    op.create_index(
        "ix_jobs_queued_heads",
        "jobs",
        ["submitter_id", sa.text("priority DESC"), "queued_at", "id"],
        postgresql_where=QUEUED,
    )
    op.drop_index("ix_jobs_queued", table_name="jobs", postgresql_where=QUEUED)


def downgrade() -> None:
    op.create_index(
        "ix_jobs_queued",
        "jobs",
        [sa.text("priority DESC"), "queued_at"],
        postgresql_where=QUEUED,
    )
    op.drop_index("ix_jobs_queued_heads", table_name="jobs", postgresql_where=QUEUED)
