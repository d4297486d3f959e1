"""unix accounts

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 09:00:00

Each API user's jobs run as that user's own Unix account (issue 11, section 3):
one row per user, made when its first job is about to run
(``shell_service/executors/accounts.py``). ``key`` is written into the account's
passwd comment, tying the host's entry to this row.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unix_accounts",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("now()"), nullable=False),
        sa.Column("modified", sa.DateTime(), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("uid"),
    )


def downgrade() -> None:
    op.drop_table("unix_accounts")
