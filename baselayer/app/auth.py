"""API tokens: made once, shown once, stored as a hash, looked up by that hash."""

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from .models import ADMIN_ACL, Token, User, utcnow
from .plain_sql import PlainSQL, Statement


def hash_secret(secret: str) -> str:
    # Tokens are long random strings, so a fast unsalted hash is enough: no
    # dictionary attack applies, and lookups stay one indexed equality.
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(session: Session, user: User, name: str, expires_at=None) -> tuple[Token, str]:
    """Add a token for ``user``; returns the row and the secret (not stored anywhere)."""
    secret = secrets.token_urlsafe(32)
    token = Token(name=name, user=user, secret_hash=hash_secret(secret), expires_at=expires_at)
    session.add(token)
    return token, secret


@dataclass(frozen=True)
class CurrentUser:
    """Who sent a request: read once per request, in one query."""

    id: int
    username: str
    permissions: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN_ACL in self.permissions


# A user's ACLs come directly and through roles. Checked on every request (no
# cache), so a revoked token, a disabled user or an expired token stops at once.
_USER_FOR_TOKEN = Statement(
    """
    SELECT u.id, u.username,
           ARRAY(SELECT acl_id FROM user_acls WHERE user_id = u.id
                 UNION
                 SELECT ra.acl_id FROM role_acls ra JOIN user_roles ur USING (role_id)
                 WHERE ur.user_id = u.id) AS permissions
    FROM tokens t JOIN users u ON u.id = t.user_id
    WHERE t.secret_hash = %(hash)s AND NOT u.disabled
      AND (t.expires_at IS NULL OR t.expires_at > %(now)s)
    """
)


def user_for_header(sql: PlainSQL, header: str | None) -> CurrentUser | None:
    """The user an ``Authorization: token <secret>`` header belongs to, or None."""
    if not header:
        return None
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "token" or not secret:
        return None
    row = sql.row(_USER_FOR_TOKEN, {"hash": hash_secret(secret), "now": utcnow()})
    if row is None:
        return None
    return CurrentUser(row["id"], row["username"], frozenset(row["permissions"]))
