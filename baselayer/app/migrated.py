"""Waiting for the schema: programs start once the migrations program has run.

The migrations have two branches (``alembic.ini``'s ``version_locations``):
baselayer's tables and the app's. A database is migrated when ``alembic upgrade
heads`` has nothing left to run on it. That is not "``alembic_version`` holds
every head": a revision another one ``depends_on`` (baselayer's, under the
app's first) is applied without a row of its own.
"""

import logging
import time
from collections.abc import Sequence
from pathlib import Path

from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError

from .config import Config

log = logging.getLogger(__name__)


def migration_scripts(root: Path) -> ScriptDirectory:
    """The project's migrations, every branch of them, as ``root/alembic.ini`` lists them.

    Parameters
    ----------
    root : Path
        The project's directory (``cfg.root``), which holds ``alembic.ini``.

    Returns
    -------
    ScriptDirectory
        Alembic's view of the revision files.
    """
    return ScriptDirectory.from_config(AlembicConfig(str(root / "alembic.ini")))


def pending_migrations(scripts: ScriptDirectory, current: Sequence[str]) -> list[str]:
    """The revisions ``alembic upgrade heads`` would run on a database at ``current``.

    Parameters
    ----------
    scripts : ScriptDirectory
        The migrations (``migration_scripts``).
    current : sequence of str
        The revisions in the database's ``alembic_version`` table (empty: none).

    Returns
    -------
    list of str
        Their revision ids, newest first; empty when the database is migrated.

    Raises
    ------
    alembic.script.revision.RevisionError
        When ``current`` names a revision these scripts do not have (a newer
        version of the code migrated the database).
    """
    revisions = scripts.iterate_revisions("heads", tuple(current), implicit_base=True)
    return [revision.revision for revision in revisions]


def wait_for_migrated_database(cfg: Config, engine, timeout: float = 300) -> None:
    """Block until the schema is at the newest migration of every branch (the
    migrations program runs them).

    Parameters
    ----------
    cfg : Config
        The project's config (``cfg.root`` holds ``alembic.ini``).
    engine : sqlalchemy.engine.Engine
        Connects to the database to check.
    timeout : float
        Seconds to wait.

    Raises
    ------
    SystemExit
        When the database is not migrated within ``timeout`` seconds (with the reason).
    """
    scripts = migration_scripts(cfg.root)
    heads = ", ".join(scripts.get_heads())
    deadline = time.monotonic() + timeout
    while True:
        try:
            with engine.connect() as conn:
                current = list(conn.scalars(text("SELECT version_num FROM alembic_version")))
            at = ", ".join(current) or "no revision"
            pending = pending_migrations(scripts, current)
            if not pending:
                return
            reason = f"schema at {at}, {len(pending)} migrations to run (heads: {heads})"
        except (OperationalError, ProgrammingError) as exc:
            reason = str(exc).splitlines()[0]
        except RevisionError as exc:
            reason = f"schema at {at}, unknown to these migrations ({exc})"
        if time.monotonic() > deadline:
            raise SystemExit(f"Database not ready after {timeout:.0f} s: {reason}")
        log.info("Waiting for the database: %s", reason)
        time.sleep(1)
