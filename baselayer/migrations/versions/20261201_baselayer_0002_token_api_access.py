"""tokens.api_access: which tokens the API takes

Revision ID: baselayer_0002
Revises: baselayer_0001
Create Date: 2026-12-01 06:00:00

An app may keep rows in ``tokens`` that are not API tokens (shell_service's web
sessions: a browser's cookie); ``baselayer.app.auth`` takes only the rows with
``api_access`` (every existing row, and every token made as one).
"""

import sqlalchemy as sa
from alembic import op

revision = "baselayer_0002"
down_revision = "baselayer_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "tokens",
        sa.Column("api_access", sa.Boolean(), nullable=False, server_default=sa.true()),
    )


def downgrade() -> None:
    op.drop_column("tokens", "api_access")
