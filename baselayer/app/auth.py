"""API tokens: made once, shown once, stored as a hash, looked up by that hash."""

import hashlib
import secrets

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .models import Token, User, permission_ids, utcnow


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


def user_for_header(session: Session, header: str | None) -> User | None:
    """The user an ``Authorization: token <secret>`` header belongs to, or None."""
    if not header:
        return None
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "token" or not secret:
        return None
    row = session.execute(
        select(User, permission_ids(User.id))
        .join(Token, Token.user_id == User.id)
        .where(
            Token.secret_hash == hash_secret(secret),
            User.disabled.is_(False),
            or_(Token.expires_at.is_(None), Token.expires_at > utcnow()),
        )
    ).first()
    if row is None:
        return None
    user, permissions = row
    user.loaded_permissions = set(permissions)
    return user
