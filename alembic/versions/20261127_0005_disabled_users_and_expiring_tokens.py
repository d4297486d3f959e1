"""disabled users and expiring tokens

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 22:44:00.640031

``users.disabled`` and ``tokens.expires_at`` belong to baselayer's tables: a
database made since baselayer has its own migrations got them from
``baselayer_0001``, and this revision changes nothing there. On one made
earlier, below this revision, it adds them (``IF NOT EXISTS``). Its downgrade
leaves them: they are baselayer's, dropped with its tables.
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE tokens ADD COLUMN IF NOT EXISTS expires_at TIMESTAMP WITHOUT TIME ZONE")
    op.execute("ALTER TABLE users ADD COLUMN IF NOT EXISTS disabled BOOLEAN DEFAULT false NOT NULL")


def downgrade() -> None:
    pass
