"""Waiting for the schema: programs start once the migrations program has run."""

import logging
import time
from pathlib import Path

from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError

from .config import Config

log = logging.getLogger(__name__)


def migrations_head(root: Path) -> str | None:
    """The head revision of the project's migrations.

    Parameters
    ----------
    root : Path
        The project root, holding ``alembic.ini``.

    Returns
    -------
    str or None
        The revision id; None when there are no migrations.
    """
    return ScriptDirectory.from_config(AlembicConfig(str(root / "alembic.ini"))).get_current_head()


def wait_for_migrated_database(cfg: Config, engine, timeout: float = 300) -> None:
    """Block until the schema is at the newest migration (the migrations program runs it).

    Looks once a second; a database that cannot be reached yet is waited for too.

    Parameters
    ----------
    cfg : Config
    engine : sqlalchemy.Engine
    timeout : float, optional
        Most seconds to wait.

    Raises
    ------
    SystemExit
        The schema is not at the head after ``timeout`` seconds (the message says
        where it is, or why the database could not be read).
    """
    head = migrations_head(cfg.root)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with engine.connect() as conn:
                current = conn.scalar(text("SELECT version_num FROM alembic_version"))
            if current == head:
                return
            reason = f"schema at {current}, want {head}"
        except (OperationalError, ProgrammingError) as exc:
            reason = str(exc).splitlines()[0]
        if time.monotonic() > deadline:
            raise SystemExit(f"Database not ready after {timeout:.0f} s: {reason}")
        log.info("Waiting for the database: %s", reason)
        time.sleep(1)
