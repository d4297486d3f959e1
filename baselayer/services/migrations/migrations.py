"""The "migrations" program (supervisor.conf.tmpl beside it): wait for the database
server, create the database, migrate, provision.

supervisor runs it once per start (``autorestart = unexpected``); every step is
idempotent, so running it again on an up-to-date database changes nothing.
"""

import importlib
import logging
import sys
import time

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from baselayer.app import logs
from baselayer.app.config import Config, load_config
from baselayer.app.database import make_engine

log = logging.getLogger("migrate")

#: How long to wait for the database server to accept connections.
SERVER_WAIT_SECONDS = 60
#: Pause before exiting on failure, so supervisor's restarts do not spin.
FAILURE_PAUSE_SECONDS = 10


def wait_for_server(cfg: Config, timeout: float = SERVER_WAIT_SECONDS) -> None:
    """Return once the server accepts connections to its ``postgres`` database.

    Raises
    ------
    TimeoutError
        When it does not within ``timeout`` seconds.
    """
    engine = make_engine(cfg, database="postgres", connect_args={"connect_timeout": 5})
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
                return
            except OperationalError as exc:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"The database server did not answer within {timeout:.0f} s: {exc}"
                    ) from exc
                time.sleep(0.5)
    finally:
        engine.dispose()


def ensure_database(cfg: Config) -> bool:
    """Create the configured database (``database.name``) if it does not exist.

    Returns
    -------
    bool
        True when it was created.
    """
    name = cfg["database.name"]
    # CREATE DATABASE cannot run inside a transaction.
    engine = make_engine(cfg, database="postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if exists:
                return False
            quoted = connection.dialect.identifier_preparer.quote(name)
            connection.execute(text(f"CREATE DATABASE {quoted}"))
            return True
    finally:
        engine.dispose()


def upgrade_to_heads(cfg: Config) -> None:
    """``alembic upgrade heads`` with the project's alembic.ini: every branch to its
    newest revision (baselayer's tables, then the app's, whose first revision
    depends on baselayer's).

    alembic/env.py reads the database address from the baselayer config.

    Parameters
    ----------
    cfg : Config
        The project's config (``cfg.root`` holds ``alembic.ini``).
    """
    # Imported here: `make db_init` uses this module and does not need alembic.
    from alembic import command
    from alembic.config import Config as AlembicConfig

    command.upgrade(AlembicConfig(str(cfg.root / "alembic.ini")), "heads")


def provision(cfg: Config) -> None:
    """Call ``provision(cfg)`` of the module named by ``app.provision_module``, if any."""
    module_name = cfg.get("app.provision_module")
    if module_name:
        importlib.import_module(module_name).provision(cfg)


def migrate(cfg: Config) -> None:
    """Every step, in order."""
    log.info("Waiting for the database server")
    wait_for_server(cfg)
    if ensure_database(cfg):
        log.info("Created database %s", cfg["database.name"])
    log.info("Migrating database %s to heads", cfg["database.name"])
    upgrade_to_heads(cfg)
    log.info("Provisioning (%s)", cfg.get("app.provision_module"))
    provision(cfg)
    log.info("Database ready")


def main() -> None:
    logs.configure()
    # alembic.ini's logging config lowers the root logger to WARNING: keep our steps visible.
    log.setLevel(logging.INFO)
    try:
        migrate(load_config())
    except Exception:
        log.exception(
            "Migrations failed; exiting in %d s (supervisor runs them again)", FAILURE_PAUSE_SECONDS
        )
        time.sleep(FAILURE_PAUSE_SECONDS)
        sys.exit(1)


if __name__ == "__main__":
    main()
