"""The migrations' two branches: baselayer's tables (``baselayer/migrations/versions/``,
branch ``baselayer``) and the app's (``alembic/versions/``, whose 0001 depends on
baselayer's first revision).

A database made by the app's migrations alone, before baselayer had its own
(``schema_0015_before_baselayer_migrations.sql``), and one made by today's
must be the same, and the first must upgrade with nothing to do for baselayer.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, text

from baselayer.app import models
from baselayer.app.config import Config
from baselayer.app.database import database_url, make_engine
from baselayer.app.migrated import (
    migration_scripts,
    pending_migrations,
    wait_for_migrated_database,
)
from baselayer.tools.system_deps import find_postgres_bindir

HERE = Path(__file__).parent
#: The schema at app revision 0015 as the app's migrations made it before
#: baselayer's branch existed (its header says how it was taken).
OLD_SCHEMA = HERE / "schema_0015_before_baselayer_migrations.sql"

BASELAYER_TABLES = {"acls", "roles", "users", "role_acls", "user_roles", "user_acls", "tokens"}
AUTH_TRIGGERS = {f"{table}_notify_auth_change" for table in BASELAYER_TABLES}

#: Lines of pg_dump's output that are not the schema: comments, psql's
#: \restrict (a random key per dump), session settings, owners (the test's user).
NOT_SCHEMA = re.compile(r"^(--|\\|SET |SELECT pg_catalog\.set_config\()|^ALTER .* OWNER TO ")


def normalized(dump: str) -> str:
    """``dump`` without the lines that are not the schema, blank runs made one."""
    lines = [line for line in dump.splitlines() if not NOT_SCHEMA.match(line)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def pg_dump(cfg: Config, database: str, only: set[str] | None = None) -> str:
    """``pg_dump --schema-only`` of ``database`` (of the tables ``only`` names, when
    given: each with its indexes, constraints and triggers), normalized."""
    bindir = find_postgres_bindir()
    program = str(bindir / "pg_dump") if bindir else shutil.which("pg_dump")
    assert program, "pg_dump is not installed (it comes with the PostgreSQL server)"
    url = database_url(cfg, database)
    command_line = [program, "--schema-only", "--no-owner", "--no-password"]
    command_line += ["--username", url.username or ""]
    command_line += ["--host", url.host or ""]
    if url.port:
        command_line += ["--port", str(url.port)]
    for table in sorted(only or ()):
        command_line += ["--table", f"public.{table}"]
    env = {"PGPASSWORD": url.password or "", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [*command_line, database], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return normalized(result.stdout)


class ScratchDatabases:
    """Empty databases of the tests' own on the tests' server, dropped afterwards."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.admin = make_engine(cfg, database="postgres", isolation_level="AUTOCOMMIT")
        self.made: dict[str, Engine] = {}

    def new(self, suffix: str):
        """A new empty database ``<database.name>_<suffix>``: its (name, engine, alembic config)."""
        name = f"{self.cfg['database.name']}_{suffix}"
        self._drop(name)
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine = make_engine(self.cfg, database=name, pool_size=1)
        self.made[name] = engine
        alembic_cfg = AlembicConfig(str(self.cfg.root / "alembic.ini"))
        alembic_cfg.attributes["engine"] = engine
        return name, engine, alembic_cfg

    def _drop(self, name: str) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def drop_all(self) -> None:
        for name, engine in self.made.items():
            engine.dispose()
            self._drop(name)
        self.admin.dispose()


@pytest.fixture
def scratch(cfg):
    databases = ScratchDatabases(cfg)
    try:
        yield databases
    finally:
        databases.drop_all()


def versions(engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.scalars(text("SELECT version_num FROM alembic_version")))


def tables(engine) -> set[str]:
    with engine.connect() as connection:
        return set(
            connection.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        )


def baselayer_metadata() -> MetaData:
    """baselayer's tables of ``models.Base.metadata`` (which holds the app's too)."""
    metadata = MetaData()
    for name in BASELAYER_TABLES:
        models.Base.metadata.tables[name].to_metadata(metadata)
    return metadata


def test_the_app_depends_on_baselayer_and_upgrade_heads_makes_both(cfg, scratch):
    scripts = migration_scripts(cfg.root)
    assert scripts.get_revision("baselayer_0001").branch_labels == {"baselayer"}
    assert "baselayer_0001" in scripts.get_revision("0001").dependencies
    assert "baselayer_0001" in scripts.get_bases()
    name, engine, alembic_cfg = scratch.new("migrations_fresh")
    command.upgrade(alembic_cfg, "heads")
    assert BASELAYER_TABLES | {"jobs", "job_events"} <= tables(engine)
    assert pending_migrations(scripts, sorted(versions(engine))) == []


def test_a_new_database_has_the_schema_the_app_migrations_used_to_make(cfg, scratch):
    """pg_dump of a new database at 0015 (baselayer's branch, then the app's) is
    the dump of one the app's migrations made alone, to the character."""
    name, _engine, alembic_cfg = scratch.new("migrations_at_0015")
    command.upgrade(alembic_cfg, "0015")  # and baselayer_0001, which 0001 depends on
    assert pg_dump(cfg, name) == normalized(OLD_SCHEMA.read_text())


def test_an_older_database_upgrades_with_nothing_to_do_for_baselayer(cfg, scratch):
    """A database at 0015 whose auth tables the app's migrations made (loaded from
    their dump): baselayer_0001 counts as applied (0001 depends on it), and
    ``upgrade heads`` leaves baselayer's tables and rows as they were, but for the
    column baselayer_0002 adds.

    Its dump is not compared whole with a new database's: PostgreSQL reads a
    dumped CHECK back into a differently spelled expression (0013's).
    """
    old, old_engine, old_alembic = scratch.new("migrations_old")
    with old_engine.begin() as connection:
        connection.exec_driver_sql(normalized(OLD_SCHEMA.read_text()))
        connection.execute(text("INSERT INTO alembic_version VALUES ('0015')"))
        connection.execute(text("INSERT INTO users (id, username) VALUES (1, 'someone')"))
        connection.execute(
            text("INSERT INTO tokens (name, user_id, secret_hash) VALUES ('t', 1, 'abc')")
        )
    scripts = migration_scripts(cfg.root)
    assert "baselayer_0001" not in pending_migrations(scripts, ["0015"])
    before = pg_dump(cfg, old, only=BASELAYER_TABLES)
    assert "CREATE TRIGGER users_notify_auth_change" in before
    command.upgrade(old_alembic, "heads")
    assert pending_migrations(scripts, sorted(versions(old_engine))) == []
    # Only baselayer_0002 changed them: tokens.api_access (every token an API token).
    after = pg_dump(cfg, old, only=BASELAYER_TABLES)
    added = ",\n    api_access boolean DEFAULT true NOT NULL\n"
    assert added in after and after.replace(added, "\n") == before
    with old_engine.connect() as connection:
        assert connection.execute(text("SELECT id, username FROM users")).all() == [(1, "someone")]
        assert connection.scalar(text("SELECT name FROM tokens WHERE user_id = 1")) == "t"


def test_a_database_older_than_0005_gets_the_auth_columns_and_trigger(cfg, scratch):
    """Below 0005 the app's migrations had made the auth tables without ``disabled``,
    ``expires_at`` and the trigger: 0005 and 0008 still add them there."""
    name, engine, alembic_cfg = scratch.new("migrations_at_0004")
    command.upgrade(alembic_cfg, "0004")
    with engine.begin() as connection:  # as the app's 0001..0004 left them
        connection.execute(text("ALTER TABLE users DROP COLUMN disabled"))
        connection.execute(text("ALTER TABLE tokens DROP COLUMN expires_at"))
        connection.execute(text("DROP FUNCTION notify_auth_change() CASCADE"))
    command.upgrade(alembic_cfg, "heads")

    new, _new_engine, new_alembic = scratch.new("migrations_new")
    command.upgrade(new_alembic, "heads")
    # The same columns, but not in the same order: baselayer_0002 (tokens.api_access)
    # may run before 0005 re-adds expires_at there.
    assert unordered_columns(pg_dump(cfg, name)) == unordered_columns(pg_dump(cfg, new))


def unordered_columns(dump: str) -> str:
    """``dump`` with each CREATE TABLE's column lines sorted (commas dropped)."""

    def sort(match: re.Match) -> str:
        lines = sorted(line.rstrip(",") for line in match.group(2).split("\n"))
        return match.group(1) + "\n".join(lines) + "\n);"

    return re.sub(r"(CREATE TABLE [^\n]+ \(\n)(.*?)\n\);", sort, dump, flags=re.S)


def test_baselayer_alone_makes_only_its_tables_and_the_trigger(cfg, scratch):
    name, engine, alembic_cfg = scratch.new("migrations_baselayer")
    command.upgrade(alembic_cfg, "baselayer@head")
    assert tables(engine) == BASELAYER_TABLES | {"alembic_version"}
    with engine.connect() as connection:
        triggers = set(
            connection.scalars(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"))
        )
        assert triggers == AUTH_TRIGGERS
        # baselayer's models (baselayer/app/models.py) and its migration agree.
        differences = compare_metadata(MigrationContext.configure(connection), baselayer_metadata())
    assert differences == []


def test_down_to_base_and_up_again(cfg, scratch):
    name, engine, alembic_cfg = scratch.new("migrations_down")
    command.upgrade(alembic_cfg, "heads")
    before = pg_dump(cfg, name)
    command.downgrade(alembic_cfg, "base")
    assert tables(engine) == {"alembic_version"}
    assert versions(engine) == set()
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT to_regprocedure('notify_auth_change()')")) is None
    command.upgrade(alembic_cfg, "heads")
    assert pg_dump(cfg, name) == before


def test_programs_wait_until_every_branch_is_migrated(cfg, scratch):
    name, engine, alembic_cfg = scratch.new("migrations_wait")
    command.upgrade(alembic_cfg, "baselayer@head")
    assert "0001" in pending_migrations(migration_scripts(cfg.root), sorted(versions(engine)))
    with pytest.raises(SystemExit, match="migrations to run"):
        wait_for_migrated_database(cfg, engine, timeout=0)
    command.upgrade(alembic_cfg, "heads")
    wait_for_migrated_database(cfg, engine, timeout=0)


def test_a_revision_these_migrations_do_not_know_is_not_migrated(cfg, scratch):
    name, engine, alembic_cfg = scratch.new("migrations_unknown")
    command.upgrade(alembic_cfg, "heads")
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'from_the_future'"))
    with pytest.raises(SystemExit, match="unknown to these migrations"):
        wait_for_migrated_database(cfg, engine, timeout=0)


def test_the_apps_models_and_its_migrations_agree(cfg, scratch):
    """Every table, column, index and constraint the models describe is what the
    migrations make (autogenerate finds nothing to do)."""
    import shell_service.models  # noqa: F401  (registers the app's tables on Base.metadata)

    name, engine, alembic_cfg = scratch.new("migrations_models")
    command.upgrade(alembic_cfg, "heads")
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_server_default": False})
        differences = compare_metadata(context, models.Base.metadata)
    # alembic_version is the migrations' own bookkeeping, not a model.
    differences = [d for d in differences if "alembic_version" not in repr(d)]
    assert differences == []
