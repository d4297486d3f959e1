"""disabled users and expiring tokens

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 22:44:00.640031
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tokens", sa.Column("expires_at", sa.DateTime(), nullable=True))
    op.add_column(
        "users", sa.Column("disabled", sa.Boolean(), server_default="false", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("users", "disabled")
    op.drop_column("tokens", "expires_at")
