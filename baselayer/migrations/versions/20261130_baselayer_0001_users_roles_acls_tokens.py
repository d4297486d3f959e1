"""baselayer's tables: users, roles, ACLs, tokens, and the NOTIFY on their changes

Revision ID: baselayer_0001
Revises:
Create Date: 2026-11-30 09:25:00

The root of the ``baselayer`` branch (``alembic upgrade baselayer@head``). The
tables of ``baselayer/app/models.py`` with every column (users' ``disabled``,
tokens' ``expires_at``), in the order the app's migrations added them, so a new
database's schema is the one an older database has. The trigger makes every
statement on them send a NOTIFY on ``baselayer_auth``
(``baselayer.app.auth.AUTH_CHANNEL``): app workers cache token lookups and drop
the cache when it fires, so a revoked or expired token, a disabled user or a
changed role takes effect at once, whichever program changed the rows (the API,
a migration, psql).

Databases made before this branch existed: the app's migrations 0001 (tables),
0005 (``disabled``, ``expires_at``) and 0008 (trigger) made these. Nothing
needs doing there: the app's 0001 ``depends_on`` this revision, so alembic
counts it as applied wherever 0001 is (``alembic_version`` keeps only the
app's head), and 0005 and 0008 add only what a database lacks.
"""

import sqlalchemy as sa
from alembic import op

revision = "baselayer_0001"
down_revision = None
branch_labels = ("baselayer",)
depends_on = None

#: Keep in step with baselayer.app.auth.AUTH_CHANNEL.
CHANNEL = "baselayer_auth"
#: Every table whose rows decide who may do what.
AUTH_TABLES = ("tokens", "users", "user_roles", "user_acls", "role_acls", "roles", "acls")


def upgrade() -> None:
    op.create_table(
        "acls",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("now()"), nullable=False),
        sa.Column("modified", sa.DateTime(), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "roles",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("now()"), nullable=False),
        sa.Column("modified", sa.DateTime(), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("now()"), nullable=False),
        sa.Column("modified", sa.DateTime(), server_default=sa.text("now()"), nullable=False),
        # A disabled user's tokens stop working at once.
        sa.Column("disabled", sa.Boolean(), server_default="false", nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "role_acls",
        sa.Column("role_id", sa.String(), nullable=False),
        sa.Column("acl_id", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["acl_id"], ["acls.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["role_id"], ["roles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("role_id", "acl_id"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("now()"), nullable=False),
        sa.Column("modified", sa.DateTime(), server_default=sa.text("now()"), nullable=False),
        # NULL: never expires.
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("secret_hash"),
    )
    op.create_index(op.f("ix_tokens_user_id"), "tokens", ["user_id"], unique=False)
    op.create_table(
        "user_acls",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("acl_id", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["acl_id"], ["acls.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "acl_id"),
    )
    op.create_table(
        "user_roles",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role_id", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["role_id"], ["roles.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "role_id"),
    )
    # The function's text is stored as written: this is the app's 0008's, to the
    # space, so old and new databases dump alike.
    op.execute(
        f"""
        CREATE FUNCTION notify_auth_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', '');
            RETURN NULL;
        END $$
        """
    )
    for table in AUTH_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_notify_auth_change "
            f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION notify_auth_change()"
        )


def downgrade() -> None:
    for table in AUTH_TABLES:
        op.execute(f"DROP TRIGGER {table}_notify_auth_change ON {table}")
    op.execute("DROP FUNCTION notify_auth_change()")
    op.drop_table("user_roles")
    op.drop_table("user_acls")
    op.drop_index(op.f("ix_tokens_user_id"), table_name="tokens")
    op.drop_table("tokens")
    op.drop_table("role_acls")
    op.drop_table("users")
    op.drop_table("roles")
    op.drop_table("acls")
