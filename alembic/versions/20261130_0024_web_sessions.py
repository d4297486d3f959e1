"""web_sessions: which tokens are the dashboard's sign-ins

A web session is a token row (``tokens``: its hash, its user, its expiry) with a
``web_sessions`` row beside it, so expiry, revocation and a disabled user stop a
session exactly as they stop an API token, and the auth NOTIFY trigger on
``tokens`` drops every worker's cached lookup. Only a token with this row is
accepted from the dashboard's cookie; deleting the token deletes the row.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-30 18:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column(
            "token_id",
            sa.Integer(),
            sa.ForeignKey("tokens.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("modified", sa.DateTime(), server_default=sa.func.now(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("web_sessions")
