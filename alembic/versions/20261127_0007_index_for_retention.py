"""index for retention

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 22:51:27.869820
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_jobs_finished_at",
        "jobs",
        ["finished_at"],
        unique=False,
        postgresql_where=sa.text("finished_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_jobs_finished_at",
        table_name="jobs",
        postgresql_where=sa.text("finished_at IS NOT NULL"),
    )
