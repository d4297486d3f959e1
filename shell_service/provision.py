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

from baselayer.app import auth_store
from baselayer.app.config import Config
from baselayer.app.database import database_url
from baselayer.app.plain_sql import PlainSQL

log = logging.getLogger(__name__)


def stored_token_works(sql: PlainSQL, tokens_file: Path, key: str) -> bool:
    """Whether ``tokens_file`` holds, under ``key``, the secret of a stored token."""
    try:
        with open(tokens_file) as f:
            secret = (yaml.safe_load(f) or {}).get(key)
    except (FileNotFoundError, yaml.YAMLError, AttributeError):
        return False
    return bool(secret) and auth_store.token_exists(sql, str(secret))


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
    sql = PlainSQL(database_url(cfg), f"{cfg['app.name']} provision")
    tokens_file = cfg.path("app.tokens_file")
    key = cfg["app.initial_token_key"]
    try:
        admin_id = auth_store.ensure_admin(sql, cfg["admin.username"])
        if stored_token_works(sql, tokens_file, key):
            return
        made = auth_store.create_token(sql, admin_id, "initial admin token")
        if made is None:
            raise RuntimeError(f"user {admin_id} was deleted while it was being provisioned")
        _, secret = made
        write_tokens_file(tokens_file, key, secret)
        log.info("Wrote the admin token to %s", tokens_file)
    finally:
        sql.close()
