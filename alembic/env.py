"""Alembic environment: the database comes from the project's config.

``-x database=NAME`` migrates another database on the same server (tests use it).

The revisions come in two branches (alembic.ini's ``version_locations``):
baselayer's tables (``baselayer/migrations/versions/``, branch label
``baselayer``) and the app's (``alembic/versions/``), whose first revision
depends on baselayer's first. ``alembic upgrade heads`` migrates both;
``upgrade head`` refuses, there being two heads.
"""

from logging.config import fileConfig
from pathlib import Path

from alembic import context

import shell_service.models  # noqa: F401  (registers the app's tables on Base.metadata)
from baselayer.app.config import load_config
from baselayer.app.database import make_engine
from baselayer.app.models import Base

if context.config.config_file_name:
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)


def run_migrations_online() -> None:
    cfg = load_config(Path(context.config.config_file_name).resolve().parent)
    database = context.get_x_argument(as_dictionary=True).get("database")
    engine = context.config.attributes.get("engine") or make_engine(
        cfg, database=database, pool_size=1
    )
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
