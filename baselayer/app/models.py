"""The framework's tables: users, their roles and permissions (ACLs), and API tokens.

Every row has ``id``, ``created_at`` and ``modified``. baselayer's own migrations
make these tables (``baselayer/migrations/versions/``, the ``baselayer`` branch;
``alembic.ini`` lists them): a change here needs a revision there, on
``baselayer@head``. ``tests/migrations`` checks that the two agree.
"""

import datetime

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    func,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

#: The permission that lets a user see and act on everything.
ADMIN_ACL = "System admin"
#: The role provisioned for administrators; it carries ADMIN_ACL.
ADMIN_ROLE = "Super admin"


def utcnow() -> datetime.datetime:
    """Now, in UTC, naive (every timestamp column stores naive UTC)."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Every table's base: ``created_at`` and ``modified`` (naive UTC), set by
    the ORM and, for rows written in plain SQL, by the database's defaults."""

    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime, default=utcnow, server_default=func.now(), nullable=False
    )
    modified: Mapped[datetime.datetime] = mapped_column(
        DateTime,
        default=utcnow,
        onupdate=utcnow,
        server_default=func.now(),
        nullable=False,
    )


role_acls = Table(
    "role_acls",
    Base.metadata,
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
    Column("acl_id", ForeignKey("acls.id", ondelete="CASCADE"), primary_key=True),
)

user_roles = Table(
    "user_roles",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)

user_acls = Table(
    "user_acls",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("acl_id", ForeignKey("acls.id", ondelete="CASCADE"), primary_key=True),
)


class ACL(Base):
    """A named permission, such as "System admin"."""

    __tablename__ = "acls"
    id: Mapped[str] = mapped_column(String, primary_key=True)


class Role(Base):
    """A named set of ACLs given to users."""

    __tablename__ = "roles"
    id: Mapped[str] = mapped_column(String, primary_key=True)
    acls: Mapped[list[ACL]] = relationship(secondary=role_acls, lazy="selectin")


class User(Base):
    """An API user: a unique username, ACLs directly and through roles, and a
    ``disabled`` flag that stops their tokens at once."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String, unique=True, nullable=False)
    # A disabled user's tokens stop working at once.
    disabled: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default="false"
    )
    roles: Mapped[list[Role]] = relationship(secondary=user_roles)
    acls: Mapped[list[ACL]] = relationship(secondary=user_acls)
    tokens: Mapped[list["Token"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def permissions(self) -> set[str]:
        """The ids of every ACL the user holds, directly or through a role."""
        return {acl.id for acl in self.acls} | {acl.id for role in self.roles for acl in role.acls}

    @property
    def is_admin(self) -> bool:
        """Whether the user holds the admin ACL."""
        return ADMIN_ACL in self.permissions


class Token(Base):
    """An API token. Only the SHA-256 of its secret is stored."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String, nullable=False)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False
    )
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    # None: never expires.
    expires_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    # False: not an API token (a web session's: its secret is the dashboard's cookie).
    api_access: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default=true()
    )
    user: Mapped[User] = relationship(back_populates="tokens", lazy="joined")
