"""API tokens: made once, shown once, stored as a hash, looked up by that hash
(made and revoked by ``auth_store``).

Lookups are cached per process (``TokenCache``) until anything about who may do
what changes: a trigger on the users, tokens, roles and ACL tables sends a
NOTIFY on ``AUTH_CHANNEL`` (baselayer's migration ``baselayer_0001``) and every
process drops its cache.
"""

import datetime
import hashlib
from dataclasses import dataclass

from .models import ADMIN_ACL, utcnow
from .notifications import Listener
from .plain_sql import PlainSQL, Statement

#: NOTIFY channel of changes to tokens, users, roles and ACLs (migration baselayer_0001).
AUTH_CHANNEL = "baselayer_auth"


def hash_secret(secret: str) -> str:
    """The stored form of a token's secret.

    Parameters
    ----------
    secret : str

    Returns
    -------
    str
        Its SHA-256, 64 hex digits.
    """
    # Tokens are long random strings, so a fast unsalted hash is enough: no
    # dictionary attack applies, and lookups stay one indexed equality.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class CurrentUser:
    """Who sent a request: read once per request, in one query."""

    id: int
    username: str
    permissions: frozenset[str]

    @property
    def is_admin(self) -> bool:
        """Whether the user holds the admin ACL (directly or through a role)."""
        return ADMIN_ACL in self.permissions


class TokenCache:
    """Token lookups of this process, kept until an auth change is notified.

    Before each hit it reads notifications already sent (a non-blocking read),
    so a change made elsewhere applies as soon as PostgreSQL has delivered it,
    within milliseconds. Expiry is checked on every hit. Without a working
    listener nothing is cached.

    Parameters
    ----------
    listener : Listener
        This process's LISTEN connection; the cache subscribes to ``AUTH_CHANNEL``.
    """

    #: Entries kept at most (the whole cache is dropped past this).
    MAX_ENTRIES = 10_000

    def __init__(self, listener: Listener):
        self._listener = listener
        self._entries: dict[str, tuple[CurrentUser, datetime.datetime | None]] = {}
        listener.subscribe(AUTH_CHANNEL, lambda payloads: self.clear())

    def get(self, token_hash: str) -> "CurrentUser | None":
        """The cached user of a token.

        Parameters
        ----------
        token_hash : str
            ``hash_secret`` of the token's secret.

        Returns
        -------
        CurrentUser or None
            None when not cached, expired, or the cache was just cleared (an auth
            change was notified, or the listener's connection is down).
        """
        if not self._listener.poll():
            self._entries.clear()
            return None
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        user, expires_at = entry
        if expires_at is not None and expires_at <= utcnow():
            del self._entries[token_hash]
            return None
        return user

    def put(
        self, token_hash: str, user: "CurrentUser", expires_at: datetime.datetime | None
    ) -> None:
        """Cache ``user`` for ``token_hash`` until ``expires_at``.

        Nothing is cached while the listener is down: a change made meanwhile would go
        unnoticed. Past ``MAX_ENTRIES`` the whole cache is dropped first.

        Parameters
        ----------
        token_hash : str
        user : CurrentUser
        expires_at : datetime.datetime or None
            Naive UTC; None: no expiry.
        """
        if not self._listener.alive:
            return
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        self._entries[token_hash] = (user, expires_at)

    def clear(self) -> None:
        """Forget every cached token."""
        self._entries.clear()


# A user's ACLs come directly and through roles.
_USER_FOR_TOKEN = Statement(
    """
    SELECT u.id, u.username, t.expires_at,
           ARRAY(SELECT acl_id FROM user_acls WHERE user_id = u.id
                 UNION
                 SELECT ra.acl_id FROM role_acls ra JOIN user_roles ur USING (role_id)
                 WHERE ur.user_id = u.id) AS permissions
    FROM tokens t JOIN users u ON u.id = t.user_id
    WHERE t.secret_hash = %(hash)s AND NOT u.disabled AND t.api_access
      AND (t.expires_at IS NULL OR t.expires_at > %(now)s)
    """
)


def user_for_header(
    sql: PlainSQL, header: str | None, cache: TokenCache | None = None
) -> CurrentUser | None:
    """The user an ``Authorization: token <secret>`` header belongs to.

    Parameters
    ----------
    sql : PlainSQL
    header : str or None
        The header's value (the scheme is case-insensitive).
    cache : TokenCache, optional
        Looked in first, and filled on a database hit.

    Returns
    -------
    CurrentUser or None
        None for a missing or malformed header, an unknown or expired token, or a
        disabled user.
    """
    if not header:
        return None
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "token" or not secret:
        return None
    token_hash = hash_secret(secret)
    user = cache.get(token_hash) if cache else None
    if user is not None:
        return user
    row = sql.row(_USER_FOR_TOKEN, {"hash": token_hash, "now": utcnow()})
    if row is None:
        return None
    user = CurrentUser(row["id"], row["username"], frozenset(row["permissions"]))
    if cache:
        cache.put(token_hash, user, row["expires_at"])
    return user
