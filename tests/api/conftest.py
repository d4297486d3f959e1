"""Fixtures of the API tests' own."""

import pytest
from sqlalchemy import text

from baselayer.app.database import make_engine


@pytest.fixture
def scratch_database(cfg):
    """An empty database of its own, dropped afterwards: migrations go up and down there."""
    name = f"{cfg['database.name']}_migrations"
    admin = make_engine(cfg, database="postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(cfg, database=name, pool_size=1)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
