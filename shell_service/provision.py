"""First-start provisioning: the admin ACL and role, the admin user, and its token.

Run once by the migrations program (not by every app worker). The token's secret
is written to ``app.tokens_file`` under ``app.initial_token_key`` (``INITIAL_ADMIN``)
with mode 0600, and only
when that file does not already hold a token that works.
"""

import logging
import os
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from baselayer.app.auth import create_token, hash_secret
from baselayer.app.config import Config
from baselayer.app.database import make_engine, make_session_factory
from baselayer.app.models import ACL, ADMIN_ACL, ADMIN_ROLE, Role, Token, User

log = logging.getLogger(__name__)


def ensure_admin(session: Session, username: str) -> User:
    """The admin ACL, the admin role holding it, and the user ``username`` with
    that role, each made if missing (not committed); the user."""
    acl = session.get(ACL, ADMIN_ACL) or ACL(id=ADMIN_ACL)
    role = session.get(Role, ADMIN_ROLE) or Role(id=ADMIN_ROLE, acls=[acl])
    if acl not in role.acls:
        role.acls.append(acl)
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        user = User(username=username)
        session.add(user)
    if role not in user.roles:
        user.roles.append(role)
    session.flush()
    return user


def stored_token_works(session: Session, tokens_file: Path, key: str) -> bool:
    """Whether ``tokens_file`` holds, under ``key``, the secret of a stored token."""
    try:
        with open(tokens_file) as f:
            secret = (yaml.safe_load(f) or {}).get(key)
    except (FileNotFoundError, yaml.YAMLError, AttributeError):
        return False
    return (
        bool(secret)
        and session.scalar(select(Token.id).where(Token.secret_hash == hash_secret(str(secret))))
        is not None
    )


def write_tokens_file(path: Path, key: str, secret: str) -> None:
    """Write ``{key: secret}`` to ``path``, mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump({key: secret}, f)
    os.chmod(path, 0o600)  # in case the file existed with wider permissions


def provision(cfg: Config) -> None:
    """Make the admin (``admin.username``) and, unless the tokens file holds one that
    works, a token written there."""
    engine = make_engine(cfg, pool_size=1)
    tokens_file = cfg.path("app.tokens_file")
    key = cfg["app.initial_token_key"]
    try:
        with make_session_factory(engine)() as session:
            admin = ensure_admin(session, cfg["admin.username"])
            if stored_token_works(session, tokens_file, key):
                session.commit()
                return
            _, secret = create_token(session, admin, "initial admin token")
            session.commit()
        write_tokens_file(tokens_file, key, secret)
        log.info("Wrote the admin token to %s", tokens_file)
    finally:
        engine.dispose()
