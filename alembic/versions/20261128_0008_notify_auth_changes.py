"""notify on changes to who may do what (tokens, users, roles, ACLs)

App workers cache token lookups and drop the cache when this channel fires, so a
revoked or expired token, a disabled user or a changed role takes effect at
once, whichever program changed the rows (the API, a migration, psql).

The function and its triggers belong to baselayer's tables: a database made
since baselayer has its own migrations got them from ``baselayer_0001``, and
this revision changes nothing there. On one made earlier, below this revision,
it makes them (the same text as ``baselayer_0001``'s). Its downgrade leaves
them: they are baselayer's, dropped with its tables.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 00:30:00
"""

from alembic import op
from sqlalchemy import text

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: Keep in step with baselayer.app.auth.AUTH_CHANNEL.
CHANNEL = "baselayer_auth"
TABLES = ("tokens", "users", "user_roles", "user_acls", "role_acls", "roles", "acls")


def upgrade() -> None:
    exists = op.get_bind().scalar(text("SELECT to_regprocedure('notify_auth_change()')"))
    if exists is not None:
        return
    op.execute(
        f"""
        CREATE FUNCTION notify_auth_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', '');
            RETURN NULL;
        END $$
        """
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_notify_auth_change "
            f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION notify_auth_change()"
        )


def downgrade() -> None:
    pass
