"""notify on changes to who may do what (tokens, users, roles, ACLs)

App workers cache token lookups and drop the cache when this channel fires, so a
revoked or expired token, a disabled user or a changed role takes effect at
once, whichever program changed the rows (the API, a migration, psql).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 00:30:00
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: Keep in step with baselayer.app.auth.AUTH_CHANNEL.
CHANNEL = "baselayer_auth"
TABLES = ("tokens", "users", "user_roles", "user_acls", "role_acls", "roles", "acls")


def upgrade() -> None:
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
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_notify_auth_change ON {table}")
    op.execute("DROP FUNCTION notify_auth_change()")
