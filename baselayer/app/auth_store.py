"""Every statement on the framework's auth tables: users, their roles and ACLs,
and API tokens. Handlers and provisioning call these named functions; each is
one plain statement (``plain_sql``), so each is its own transaction.

A request's authentication (the token lookup, cached) is ``auth.user_for_header``.
Every change here fires the tables' trigger (``auth.AUTH_CHANNEL``), so every
process drops its cached lookups.
"""

import datetime
import secrets

from .auth import hash_secret
from .models import ADMIN_ACL, ADMIN_ROLE, utcnow
from .plain_sql import PlainSQL, Statement

__all__ = [
    "create_token",
    "create_user",
    "delete_token",
    "ensure_admin",
    "get_user",
    "list_users",
    "token_exists",
    "update_user",
    "user_tokens",
    "usernames",
]

# ---- users ---------------------------------------------------------------------

# A user as the API shows it; admin: holding ADMIN_ACL directly or through a role.
_USER_COLUMNS = """
    u.id, u.username,
    EXISTS (SELECT 1 FROM user_acls WHERE user_id = u.id AND acl_id = %(admin_acl)s
            UNION ALL
            SELECT 1 FROM user_roles ur JOIN role_acls ra USING (role_id)
            WHERE ur.user_id = u.id AND ra.acl_id = %(admin_acl)s) AS is_admin,
    u.disabled, u.created_at
"""

_LIST_USERS = Statement(f"SELECT {_USER_COLUMNS} FROM users u ORDER BY u.id")
_GET_USER = Statement(f"SELECT {_USER_COLUMNS} FROM users u WHERE u.id = %(id)s")
_CREATE_USER = Statement(
    """
    INSERT INTO users (username, disabled, created_at, modified)
    VALUES (%(username)s, false, %(now)s, %(now)s)
    ON CONFLICT (username) DO NOTHING
    RETURNING id, username, false AS is_admin, disabled, created_at
    """
)


def list_users(sql: PlainSQL) -> list[dict]:
    """Every user, by id.

    Parameters
    ----------
    sql : PlainSQL

    Returns
    -------
    list of dict
        ``id`` (int), ``username`` (str), ``is_admin`` (bool: holds ADMIN_ACL,
        directly or through a role), ``disabled`` (bool), ``created_at``
        (naive UTC).
    """
    return sql.rows(_LIST_USERS, {"admin_acl": ADMIN_ACL})


def get_user(sql: PlainSQL, user_id: int) -> dict | None:
    """One user, as ``list_users`` gives each.

    Parameters
    ----------
    sql : PlainSQL
    user_id : int
        A PostgreSQL ``integer`` (``handlers.base.parse_int_id`` of a path).

    Returns
    -------
    dict or None
        The user; None if there is no such user.
    """
    return sql.row(_GET_USER, {"id": user_id, "admin_acl": ADMIN_ACL})


_USERNAMES = Statement("SELECT id, username FROM users WHERE id = ANY(%(ids)s::int[])")


def usernames(sql: PlainSQL, user_ids) -> dict[int, str]:
    """The usernames of some users (a page naming who submitted or changed what).

    Parameters
    ----------
    sql : PlainSQL
    user_ids : iterable of int
        Ids to name (None and repeats are left out); those of no user are absent.

    Returns
    -------
    dict
        User id -> username.
    """
    ids = sorted({i for i in user_ids if i is not None})
    if not ids:
        return {}
    return {row["id"]: row["username"] for row in sql.rows(_USERNAMES, {"ids": ids})}


def create_user(sql: PlainSQL, username: str) -> dict | None:
    """Make a user (not an admin, not disabled, no token).

    Parameters
    ----------
    sql : PlainSQL
    username : str
        Validated by the caller (``schemas.UserCreate``).

    Returns
    -------
    dict or None
        The user, as ``list_users`` gives each; None, nothing made, if the
        username is taken.
    """
    return sql.row(_CREATE_USER, {"username": username, "now": utcnow()})


# Granting admin makes the admin ACL and role if they are missing (a new role
# carries the ACL); removing it takes the role and the ACL held directly.
_UPDATE_USER = Statement(
    """
    WITH target AS (SELECT id FROM users WHERE id = %(id)s FOR UPDATE),
    acl AS (
        INSERT INTO acls (id, created_at, modified)
        SELECT %(admin_acl)s, %(now)s, %(now)s FROM target WHERE %(admin)s::boolean
        ON CONFLICT DO NOTHING
    ),
    new_role AS (
        INSERT INTO roles (id, created_at, modified)
        SELECT %(admin_role)s, %(now)s, %(now)s FROM target WHERE %(admin)s::boolean
        ON CONFLICT DO NOTHING
        RETURNING id
    ),
    role_acl AS (
        INSERT INTO role_acls (role_id, acl_id) SELECT id, %(admin_acl)s FROM new_role
    ),
    granted AS (
        INSERT INTO user_roles (user_id, role_id)
        SELECT id, %(admin_role)s FROM target WHERE %(admin)s::boolean
        ON CONFLICT DO NOTHING
    ),
    revoked_role AS (
        DELETE FROM user_roles
        WHERE user_id IN (SELECT id FROM target) AND role_id = %(admin_role)s
          AND NOT %(admin)s::boolean
    ),
    revoked_acl AS (
        DELETE FROM user_acls
        WHERE user_id IN (SELECT id FROM target) AND acl_id = %(admin_acl)s
          AND NOT %(admin)s::boolean
    ),
    changed AS (
        UPDATE users SET disabled = coalesce(%(disabled)s::boolean, users.disabled),
                         modified = %(now)s
        FROM target WHERE users.id = target.id
    )
    SELECT count(*) FROM target
    """
)


def update_user(
    sql: PlainSQL, user_id: int, *, admin: bool | None = None, disabled: bool | None = None
) -> bool:
    """Grant or remove a user's admin role, and disable or enable them, in one
    statement. The caller cancels a disabled user's jobs (the app's business).

    Parameters
    ----------
    sql : PlainSQL
    user_id : int
        A PostgreSQL ``integer``.
    admin : bool, optional
        True: give the user ADMIN_ROLE (made, carrying ADMIN_ACL, if missing).
        False: take ADMIN_ROLE and a directly held ADMIN_ACL away. None: leave.
    disabled : bool, optional
        True: the user's tokens stop working at once. None: leave.

    Returns
    -------
    bool
        Whether there is such a user (False: nothing changed).
    """
    params = {
        "id": user_id,
        "admin": admin,
        "disabled": disabled,
        "admin_acl": ADMIN_ACL,
        "admin_role": ADMIN_ROLE,
        "now": utcnow(),
    }
    return sql.value(_UPDATE_USER, params) == 1


# The ACL, the role carrying it and the user holding the role, each made if missing.
_ENSURE_ADMIN = Statement(
    """
    WITH acl AS (
        INSERT INTO acls (id, created_at, modified) VALUES (%(admin_acl)s, %(now)s, %(now)s)
        ON CONFLICT DO NOTHING
    ),
    role AS (
        INSERT INTO roles (id, created_at, modified) VALUES (%(admin_role)s, %(now)s, %(now)s)
        ON CONFLICT DO NOTHING
    ),
    role_acl AS (
        INSERT INTO role_acls (role_id, acl_id) VALUES (%(admin_role)s, %(admin_acl)s)
        ON CONFLICT DO NOTHING
    ),
    new_user AS (
        INSERT INTO users (username, disabled, created_at, modified)
        VALUES (%(username)s, false, %(now)s, %(now)s)
        ON CONFLICT (username) DO NOTHING
        RETURNING id
    ),
    admin AS (SELECT id FROM new_user UNION ALL SELECT id FROM users WHERE username = %(username)s),
    granted AS (
        INSERT INTO user_roles (user_id, role_id) SELECT id, %(admin_role)s FROM admin
        ON CONFLICT DO NOTHING
    )
    SELECT id FROM admin
    """
)


def ensure_admin(sql: PlainSQL, username: str) -> int:
    """The admin ACL, the admin role carrying it, and the user ``username`` holding
    that role, each made if missing, in one statement (first-start provisioning).

    Parameters
    ----------
    sql : PlainSQL
    username : str
        The admin's username (config ``admin.username``).

    Returns
    -------
    int
        The user's id.
    """
    params = {
        "username": username,
        "admin_acl": ADMIN_ACL,
        "admin_role": ADMIN_ROLE,
        "now": utcnow(),
    }
    return sql.value(_ENSURE_ADMIN, params)


# ---- tokens --------------------------------------------------------------------

_USER_TOKENS = Statement(
    "SELECT id, name, user_id, expires_at, created_at FROM tokens"
    " WHERE user_id = %(user_id)s ORDER BY id"
)
_CREATE_TOKEN = Statement(
    """
    INSERT INTO tokens (name, user_id, secret_hash, expires_at, created_at, modified)
    SELECT %(name)s, id, %(secret_hash)s, %(expires_at)s, %(now)s, %(now)s
    FROM users WHERE id = %(user_id)s
    RETURNING id
    """
)
# The owner matched unless %(owner_id)s is null (an admin's revoke).
_DELETE_TOKEN = Statement(
    """
    DELETE FROM tokens
    WHERE id = %(id)s AND (%(owner_id)s::int IS NULL OR user_id = %(owner_id)s::int)
    RETURNING id
    """
)
_TOKEN_EXISTS = Statement("SELECT 1 FROM tokens WHERE secret_hash = %(secret_hash)s")


def user_tokens(sql: PlainSQL, user_id: int) -> list[dict]:
    """A user's tokens, by id; never their secrets (only hashes are stored).

    Parameters
    ----------
    sql : PlainSQL
    user_id : int

    Returns
    -------
    list of dict
        ``id`` (int), ``name`` (str), ``user_id`` (int), ``expires_at`` (naive
        UTC, or None: never), ``created_at`` (naive UTC).
    """
    return sql.rows(_USER_TOKENS, {"user_id": user_id})


def create_token(
    sql: PlainSQL, user_id: int, name: str, expires_at: datetime.datetime | None = None
) -> tuple[int, str] | None:
    """Make a token for a user; only the secret's hash (``auth.hash_secret``) is stored.

    Parameters
    ----------
    sql : PlainSQL
    user_id : int
        Whose token: a PostgreSQL ``integer``.
    name : str
        A label to recognise it by.
    expires_at : datetime.datetime, optional
        When it stops working (naive UTC); never if None.

    Returns
    -------
    tuple of (int, str) or None
        The token's id and its secret (shown once, stored nowhere); None,
        nothing made, if there is no such user.
    """
    secret = secrets.token_urlsafe(32)
    params = {
        "name": name,
        "user_id": user_id,
        "secret_hash": hash_secret(secret),
        "expires_at": expires_at,
        "now": utcnow(),
    }
    token_id = sql.value(_CREATE_TOKEN, params)
    return None if token_id is None else (token_id, secret)


def delete_token(sql: PlainSQL, token_id: int, owner_id: int | None) -> bool:
    """Revoke a token: it stops working at once.

    Parameters
    ----------
    sql : PlainSQL
    token_id : int
        A PostgreSQL ``integer``.
    owner_id : int or None
        Only if this user holds it; None: whoever does (an admin's revoke).

    Returns
    -------
    bool
        Whether a token was deleted (False: none of that id, or not the owner's).
    """
    return sql.value(_DELETE_TOKEN, {"id": token_id, "owner_id": owner_id}) is not None


def token_exists(sql: PlainSQL, secret: str) -> bool:
    """Whether a token with this secret is stored (expired or not, its user
    disabled or not).

    Parameters
    ----------
    sql : PlainSQL
    secret : str
        The token's secret, as a client sends it.

    Returns
    -------
    bool
    """
    return sql.value(_TOKEN_EXISTS, {"secret_hash": hash_secret(secret)}) is not None
