"""The dashboard's sign-ins: web sessions.

A web session is an API token (a ``tokens`` row: its hash, user and expiry)
marked by a ``web_sessions`` row (migration 0024). It is made from an API token
the user pastes once (not from another session); its secret lives only in the
browser's HttpOnly cookie. So a session stops working exactly as a token does: at
its expiry, when it is deleted (sign-out, revoke, or ``DELETE /api/tokens/<id>``)
and when its user is disabled; the auth trigger's NOTIFY drops every worker's
cached lookup. It also dies with the token it was made from (migration 0027):
it expires no later than that token, and revoking that token ends it. Its
secret is no API token (``tokens.api_access`` false, migration 0028): the cookie
works on the dashboard only, behind its XSRF check.
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

# One statement: no token without its session row. The source must be a live
# API token (not expired, not itself a session) of a user who is not disabled;
# the session expires with it at the latest.
_CREATE_SESSION = Statement(
    """
    WITH source AS (
        SELECT t.id, t.user_id, LEAST(t.expires_at, %(expires_at)s) AS expires_at
        FROM tokens t JOIN users u ON u.id = t.user_id
        WHERE t.secret_hash = %(source_hash)s AND NOT u.disabled
          AND (t.expires_at IS NULL OR t.expires_at > %(now)s)
          AND NOT EXISTS (SELECT FROM web_sessions s WHERE s.token_id = t.id)
    ), token AS (
        INSERT INTO tokens (name, user_id, secret_hash, expires_at, api_access, created_at,
                            modified)
        SELECT %(name)s, user_id, %(secret_hash)s, expires_at, false, %(now)s, %(now)s
        FROM source
        RETURNING id, expires_at
    )
    INSERT INTO web_sessions (token_id, source_token_id, user_agent, created_at, modified)
    SELECT token.id, source.id, %(user_agent)s, %(now)s, %(now)s FROM token, source
    RETURNING token_id, (SELECT expires_at FROM token) AS expires_at
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
    sql: PlainSQL, source_secret: str, user_agent: str | None
) -> tuple[int, str, datetime.datetime] | None:
    """Make a web session from a pasted API token: a token row for the same user
    with an expiry, marked as a session of that token.

    Parameters
    ----------
    sql : PlainSQL
    source_secret : str
        The API token's secret, as pasted.
    user_agent : str or None
        The browser's User-Agent, shown in the list of sessions (cut to 200 characters).

    Returns
    -------
    tuple of (int, str, datetime.datetime) or None
        The session's token id, its secret (for the cookie; only its hash is stored)
        and when it expires (naive UTC: ``SESSION_LIFETIME`` from now, or the source
        token's expiry if sooner); None, nothing made, for an unknown, expired or
        revoked token, a disabled user's, or a token that is itself a web session.
    """
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    row = sql.row(
        _CREATE_SESSION,
        {
            "name": SESSION_TOKEN_NAME,
            "source_hash": hash_secret(source_secret),
            "secret_hash": hash_secret(secret),
            "expires_at": now + SESSION_LIFETIME,
            "now": now,
            "user_agent": (user_agent or "")[:200] or None,
        },
    )
    return None if row is None else (row["token_id"], secret, row["expires_at"])


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
