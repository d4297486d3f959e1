"""executors publish their capacity and isolation

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 08:30:00

Each executor writes what it offers (memory budget, isolation layers) into its
registry row, at start and with each heartbeat: the app workers show it in
/api/sysinfo and no longer probe the host themselves. NULL for a row written
before this migration (the next heartbeat fills it).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("workers", sa.Column("published", JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("workers", "published")
