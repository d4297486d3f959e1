"""web sessions end with the token they were made from

A web session was made from an API token pasted once, and then lived its 12 hours
whatever happened to that token. ``web_sessions.source_token_id`` records it:
deleting (revoking) the source token deletes the session's row (ON DELETE
CASCADE), and deleting a ``web_sessions`` row deletes its own token row (the
trigger ``web_session_ends_its_token``), whose auth NOTIFY drops every worker's
cached lookup. The session's expiry is capped at the source token's when made
(``web_sessions.create_session``). Sessions made before this revision have no
known source: they are ended (their browsers sign in again).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-01 03:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM tokens WHERE id IN (SELECT token_id FROM web_sessions)")
    op.add_column(
        "web_sessions",
        sa.Column(
            "source_token_id",
            sa.Integer(),
            sa.ForeignKey(
                "tokens.id", ondelete="CASCADE", name="web_sessions_source_token_id_fkey"
            ),
            nullable=False,
        ),
    )
    op.create_index("ix_web_sessions_source_token_id", "web_sessions", ["source_token_id"])
    op.execute(
        """
        CREATE FUNCTION web_session_ends_its_token() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM tokens WHERE id = OLD.token_id;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER web_session_ends_its_token AFTER DELETE ON web_sessions "
        "FOR EACH ROW EXECUTE FUNCTION web_session_ends_its_token()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER web_session_ends_its_token ON web_sessions")
    op.execute("DROP FUNCTION web_session_ends_its_token()")
    op.drop_index("ix_web_sessions_source_token_id", table_name="web_sessions")
    op.drop_column("web_sessions", "source_token_id")
