"""job pid lives in the job directory

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 22:35:11.246553
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_column("jobs", "pid")


def downgrade() -> None:
    op.add_column("jobs", sa.Column("pid", sa.INTEGER(), autoincrement=False, nullable=True))
