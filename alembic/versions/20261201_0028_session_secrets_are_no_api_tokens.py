"""a web session's secret is no API token

A web session is a ``tokens`` row (``shell_service/web_sessions.py``), so its
secret, the dashboard's HttpOnly cookie, also answered as ``Authorization: token
...`` on the API: a stolen cookie became a token usable from anywhere, without
the dashboard's XSRF check. ``tokens.api_access`` says which secrets the API
takes (``baselayer.app.auth``; the column is baselayer's ``baselayer_0002``):
every token made as one, never a session's; this marks the sessions made before.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-01 06:00:00
"""

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = "baselayer_0002"


def upgrade() -> None:
    op.execute(
        "UPDATE tokens SET api_access = false WHERE id IN (SELECT token_id FROM web_sessions)"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE tokens SET api_access = true WHERE id IN (SELECT token_id FROM web_sessions)"
    )
