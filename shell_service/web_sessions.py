"""The dashboard's sign-ins: web sessions.

A web session is an API token (a ``tokens`` row: its hash, user and expiry)
marked by a ``web_sessions`` row (migration 0024). It is made from a token the
user pastes once; its secret lives only in the browser's HttpOnly cookie. So a
session stops working exactly as a token does: at its expiry, when it is
deleted (sign-out, revoke, or ``DELETE /api/tokens/<id>``) and when its user is
disabled; the auth trigger's NOTIFY drops every worker's cached lookup.
"""

import datetime
import secrets

from baselayer.app.auth import CurrentUser, TokenCache, hash_secret
from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL, Statement

#: How long a session lasts from its sign-in.
SESSION_LIFETIME = datetime.timedelta(hours=12)
#: The name its token row gets (what ``GET /api/tokens`` lists it as).
SESSION_TOKEN_NAME = "web session"
#: Cache keys of sessions differ from API tokens' (the same secret is one or the other).
_CACHE_PREFIX = "web:"

# One statement: no token without its session row.
_CREATE_SESSION = Statement(
    """
    WITH token AS (
        INSERT INTO tokens (name, user_id, secret_hash, expires_at, created_at, modified)
        SELECT %(name)s, id, %(secret_hash)s, %(expires_at)s, %(now)s, %(now)s
        FROM users WHERE id = %(user_id)s AND NOT disabled
        RETURNING id
    )
    INSERT INTO web_sessions (token_id, user_agent, created_at, modified)
    SELECT id, %(user_agent)s, %(now)s, %(now)s FROM token
    RETURNING token_id
    """
)
# As auth's token lookup, for a token that is a web session only.
_USER_FOR_SESSION = Statement(
    """
    SELECT u.id, u.username, t.expires_at,
           ARRAY(SELECT acl_id FROM user_acls WHERE user_id = u.id
                 UNION
                 SELECT ra.acl_id FROM role_acls ra JOIN user_roles ur USING (role_id)
                 WHERE ur.user_id = u.id) AS permissions
    FROM tokens t JOIN web_sessions s ON s.token_id = t.id JOIN users u ON u.id = t.user_id
    WHERE t.secret_hash = %(hash)s AND NOT u.disabled
      AND (t.expires_at IS NULL OR t.expires_at > %(now)s)
    """
)
_USER_SESSIONS = Statement(
    """
    SELECT t.id, t.expires_at, t.created_at, s.user_agent, t.secret_hash = %(hash)s AS current
    FROM tokens t JOIN web_sessions s ON s.token_id = t.id
    WHERE t.user_id = %(user_id)s AND (t.expires_at IS NULL OR t.expires_at > %(now)s)
    ORDER BY t.id DESC
    """
)
_SESSION_TOKEN_IDS = Statement(
    """
    SELECT t.id FROM tokens t JOIN web_sessions s ON s.token_id = t.id
    WHERE t.user_id = %(user_id)s
    """
)
_DELETE_SESSION = Statement(
    """
    DELETE FROM tokens t USING web_sessions s
    WHERE s.token_id = t.id AND t.id = %(id)s AND t.user_id = %(user_id)s
    RETURNING t.id
    """
)
_DELETE_SESSION_BY_HASH = Statement(
    """
    DELETE FROM tokens t USING web_sessions s
    WHERE s.token_id = t.id AND t.secret_hash = %(hash)s
    RETURNING t.id
    """
)


def create_session(
    sql: PlainSQL, user_id: int, user_agent: str | None
) -> tuple[int, str, datetime.datetime] | None:
    """Make a web session for a user: a token row with an expiry, marked as a session.

    Parameters
    ----------
    sql : PlainSQL
    user_id : int
    user_agent : str or None
        The browser's User-Agent, shown in the list of sessions (cut to 200 characters).

    Returns
    -------
    tuple of (int, str, datetime.datetime) or None
        The session's token id, its secret (for the cookie; only its hash is stored)
        and when it expires (naive UTC); None, nothing made, for no such user or a
        disabled one.
    """
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    expires_at = now + SESSION_LIFETIME
    session_id = sql.value(
        _CREATE_SESSION,
        {
            "name": SESSION_TOKEN_NAME,
            "user_id": user_id,
            "secret_hash": hash_secret(secret),
            "expires_at": expires_at,
            "now": now,
            "user_agent": (user_agent or "")[:200] or None,
        },
    )
    return None if session_id is None else (session_id, secret, expires_at)


def user_for_session(
    sql: PlainSQL, secret: str | None, cache: TokenCache | None = None
) -> CurrentUser | None:
    """The user a session cookie's secret belongs to.

    Parameters
    ----------
    sql : PlainSQL
    secret : str or None
        The cookie's value.
    cache : TokenCache, optional
        The worker's token cache (entries for sessions are kept apart from
        API tokens'); looked in first, filled on a database hit.

    Returns
    -------
    CurrentUser or None
        None for no cookie, an unknown, expired or revoked session, a token that
        is not a session (an API token put in the cookie), or a disabled user.
    """
    if not secret:
        return None
    token_hash = hash_secret(secret)
    key = _CACHE_PREFIX + token_hash
    user = cache.get(key) if cache else None
    if user is not None:
        return user
    row = sql.row(_USER_FOR_SESSION, {"hash": token_hash, "now": utcnow()})
    if row is None:
        return None
    user = CurrentUser(row["id"], row["username"], frozenset(row["permissions"]))
    if cache:
        cache.put(key, user, row["expires_at"])
    return user


def user_sessions(sql: PlainSQL, user_id: int, current_secret: str | None = None) -> list[dict]:
    """A user's live web sessions, newest first.

    Parameters
    ----------
    sql : PlainSQL
    user_id : int
    current_secret : str, optional
        The cookie of the request: its session is marked ``current``.

    Returns
    -------
    list of dict
        ``id`` (the token's id), ``expires_at``, ``created_at`` (naive UTC) and
        ``user_agent`` (str or None), ``current`` (bool: the request's own).
    """
    token_hash = hash_secret(current_secret) if current_secret else ""
    return sql.rows(_USER_SESSIONS, {"user_id": user_id, "now": utcnow(), "hash": token_hash})


def session_token_ids(sql: PlainSQL, user_id: int) -> set[int]:
    """Which of a user's tokens are web sessions (expired ones too), for the token
    pages to mark them.

    Parameters
    ----------
    sql : PlainSQL
    user_id : int

    Returns
    -------
    set of int
        The sessions' token ids.
    """
    return {row[0] for row in sql.tuples(_SESSION_TOKEN_IDS, {"user_id": user_id})}


def delete_session(sql: PlainSQL, session_id: int, user_id: int) -> bool:
    """End one of a user's web sessions (sign-out, or a revoke from the sessions page).

    Parameters
    ----------
    sql : PlainSQL
    session_id : int
        The session's token id.
    user_id : int
        Only a session of this user is deleted.

    Returns
    -------
    bool
        Whether one was deleted (False: no such session of this user; an API
        token of the same id is never deleted here).
    """
    return sql.value(_DELETE_SESSION, {"id": session_id, "user_id": user_id}) is not None


def end_session(sql: PlainSQL, secret: str | None) -> bool:
    """Sign-out: delete the web session whose cookie this is.

    Parameters
    ----------
    sql : PlainSQL
    secret : str or None
        The cookie's value.

    Returns
    -------
    bool
        Whether a session was deleted (an API token's secret deletes nothing).
    """
    if not secret:
        return False
    return sql.value(_DELETE_SESSION_BY_HASH, {"hash": hash_secret(secret)}) is not None
