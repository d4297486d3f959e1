"""Migrations that move rows, up and down: 0016 renames the executors' registry
and the job's column (every row and value stays, no table, column, index or
constraint name says "worker", and it goes back down to the names before); 0028
takes API access from the web sessions made before it."""

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text

NAMES_WITH_WORKER = """
    SELECT relname FROM pg_class
    WHERE relnamespace = 'public'::regnamespace AND relname LIKE '%worker%'
    UNION ALL
    SELECT conname FROM pg_constraint
    WHERE connamespace = 'public'::regnamespace AND conname LIKE '%worker%'
    UNION ALL
    SELECT table_name || '.' || column_name FROM information_schema.columns
    WHERE table_schema = 'public' AND column_name LIKE '%worker%'
"""


def stored(engine, registry: str, column: str) -> dict[str, list[tuple]]:
    with engine.connect() as connection:
        return {
            "registry": [
                tuple(row)
                for row in connection.execute(
                    text(f"SELECT id, last_seen, running, published FROM {registry} ORDER BY id")
                )
            ],
            "jobs": [
                tuple(row)
                for row in connection.execute(text(f"SELECT id, {column} FROM jobs ORDER BY id"))
            ],
        }


def names_with_worker(engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(row[0] for row in connection.execute(text(NAMES_WITH_WORKER)))


def test_migration_0016_renames_workers_to_executors_and_goes_back_down(cfg, scratch_database):
    alembic_cfg = AlembicConfig(str(cfg.root / "alembic.ini"))
    alembic_cfg.attributes["engine"] = scratch_database
    command.upgrade(alembic_cfg, "0015")
    with scratch_database.begin() as connection:
        connection.execute(text("INSERT INTO users (id, username) VALUES (1, 'someone')"))
        connection.execute(
            text(
                "INSERT INTO jobs (id, code, shell, status, submitter_id, worker) VALUES"
                " ('running', 'sleep 9', 'sh', 'RUNNING', 1, 'host-a:41'),"
                " ('ready', 'echo', 'sh', 'READY', 1, NULL)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO workers (id, last_seen, running, published) VALUES"
                " ('host-a:41', now(), 1, '{\"memory_budget_mb\": 2048}'),"
                " ('host-b:7', now() - interval '1 minute', 0, NULL)"
            )
        )
    before = stored(scratch_database, "workers", "worker")
    assert names_with_worker(scratch_database) == [
        "ix_workers_last_seen",
        "jobs.worker",
        "workers",
        "workers_pkey",
        "workers_pkey",  # the primary key's index, and its constraint
    ]

    command.upgrade(alembic_cfg, "0016")
    assert stored(scratch_database, "executors", "executor") == before
    assert names_with_worker(scratch_database) == []
    with scratch_database.connect() as connection:
        indexes = connection.execute(
            text("SELECT indexname FROM pg_indexes WHERE tablename = 'executors' ORDER BY 1")
        )
        assert [row[0] for row in indexes] == ["executors_pkey", "ix_executors_last_seen"]

    command.downgrade(alembic_cfg, "0015")
    assert stored(scratch_database, "workers", "worker") == before
    assert len(names_with_worker(scratch_database)) == 5
    command.upgrade(alembic_cfg, "heads")
    assert stored(scratch_database, "executors", "executor") == before


def test_migration_0028_takes_api_access_from_sessions_made_before_it(cfg, scratch_database):
    alembic_cfg = AlembicConfig(str(cfg.root / "alembic.ini"))
    alembic_cfg.attributes["engine"] = scratch_database
    command.upgrade(alembic_cfg, "0027")
    with scratch_database.begin() as connection:
        connection.execute(text("INSERT INTO users (id, username) VALUES (1, 'someone')"))
        connection.execute(
            text(
                "INSERT INTO tokens (id, name, user_id, secret_hash) VALUES"
                " (1, 'api', 1, 'a'), (2, 'web session', 1, 'b')"
            )
        )
        connection.execute(
            text("INSERT INTO web_sessions (token_id, source_token_id) VALUES (2, 1)")
        )

    def api_access() -> list[tuple]:
        with scratch_database.connect() as connection:
            query = "SELECT id, api_access FROM tokens ORDER BY id"
            return [tuple(row) for row in connection.execute(text(query))]

    command.upgrade(alembic_cfg, "heads")
    assert api_access() == [(1, True), (2, False)]
    command.downgrade(alembic_cfg, "0027")
    assert api_access() == [(1, True), (2, True)]
    command.downgrade(alembic_cfg, "baselayer@-1")
    with scratch_database.connect() as connection:
        columns = connection.execute(
            text("SELECT column_name FROM information_schema.columns WHERE table_name = 'tokens'")
        )
        assert "api_access" not in {row[0] for row in columns}
