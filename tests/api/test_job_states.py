"""Job states below Python: the database refuses a state that is not a JobStatus
(migration 0013), and the queue's statements make only the moves in
``job_states.TRANSITIONS``."""

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from baselayer.app.database import make_engine
from shell_service.job_states import JobStatus

from ..factories import JobFactory

STATUS_COLUMNS = {
    "ck_jobs_status": "jobs",
    "ck_job_events_from_status": "job_events",
    "ck_job_events_to_status": "job_events",
    "ck_job_counts_status": "job_counts",
}


def constraint_definitions(connection) -> dict[str, str]:
    rows = connection.execute(
        text("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'c'")
    )
    return {name: definition for name, definition in rows if name in STATUS_COLUMNS}


def test_every_status_column_allows_exactly_the_job_states(engine):
    with engine.connect() as connection:
        definitions = constraint_definitions(connection)
    assert set(definitions) == set(STATUS_COLUMNS)
    for name, definition in definitions.items():
        named = {status.value for status in JobStatus if f"'{status.value}'" in definition}
        assert named == {status.value for status in JobStatus}, name
        assert "NOT VALID" not in definition, name  # validated: stored rows were checked


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE jobs SET status = 'DONE' WHERE id = :id",
        "UPDATE jobs SET status = 'ready' WHERE id = :id",
        "INSERT INTO job_events (job_id, from_status, to_status) VALUES (:id, 'READY', 'GONE')",
        "INSERT INTO job_events (job_id, from_status, to_status) VALUES (:id, 'PENDING', 'READY')",
        "INSERT INTO job_counts (status, count) VALUES ('PENDING', 1)",
    ],
)
def test_the_database_refuses_a_status_that_is_not_a_job_state(engine, statement):
    job = JobFactory()
    with engine.connect() as connection:
        with pytest.raises(IntegrityError, match="ck_job"):
            connection.execute(text(statement), {"id": job.id})
        connection.rollback()
        status = connection.scalar(text("SELECT status FROM jobs WHERE id = :id"), {"id": job.id})
    assert status == "READY"


def test_a_first_event_still_has_no_from_status(engine):
    job = JobFactory()
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO job_events (job_id, to_status) VALUES (:id, 'READY')"),
            {"id": job.id},
        )


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


STORED_ROWS = {
    "jobs": "SELECT * FROM jobs ORDER BY id",
    "job_events": "SELECT * FROM job_events ORDER BY id",
    "job_counts": "SELECT * FROM job_counts ORDER BY status",
}


def test_migration_0013_keeps_every_stored_row_and_goes_back_down(cfg, scratch_database):
    alembic_cfg = AlembicConfig(str(cfg.root / "alembic.ini"))
    alembic_cfg.attributes["engine"] = scratch_database
    command.upgrade(alembic_cfg, "0012")
    with scratch_database.begin() as connection:
        connection.execute(text("INSERT INTO users (id, username) VALUES (1, 'someone')"))
        for n, status in enumerate(JobStatus):
            connection.execute(
                text(
                    "INSERT INTO jobs (id, code, shell, status, submitter_id, stdout)"
                    " VALUES (:id, 'echo', 'sh', :status, 1, 'out')"
                ),
                {"id": f"job_{n}", "status": status.value},
            )
            connection.execute(
                text(
                    "INSERT INTO job_events (job_id, from_status, to_status, detail)"
                    " VALUES (:id, NULL, 'READY', 'created'), (:id, 'READY', :status, 'moved')"
                ),
                {"id": f"job_{n}", "status": status.value},
            )
            connection.execute(
                text("INSERT INTO job_counts (status, count) VALUES (:status, :n)"),
                {"status": status.value, "n": n},
            )

    def stored():
        with scratch_database.connect() as connection:
            return {
                table: [tuple(row) for row in connection.execute(text(query))]
                for table, query in STORED_ROWS.items()
            }

    before = stored()
    command.upgrade(alembic_cfg, "0013")
    assert stored() == before
    with scratch_database.connect() as connection:
        assert set(constraint_definitions(connection)) == set(STATUS_COLUMNS)
        with pytest.raises(IntegrityError, match="ck_jobs_status"):
            connection.execute(text("UPDATE jobs SET status = 'PENDING' WHERE id = 'job_0'"))
    command.downgrade(alembic_cfg, "0012")
    assert stored() == before
    with scratch_database.connect() as connection:
        assert constraint_definitions(connection) == {}


def test_migration_0013_stops_at_a_stored_row_outside_the_job_states(cfg, scratch_database):
    alembic_cfg = AlembicConfig(str(cfg.root / "alembic.ini"))
    alembic_cfg.attributes["engine"] = scratch_database
    command.upgrade(alembic_cfg, "0012")
    with scratch_database.begin() as connection:
        connection.execute(text("INSERT INTO users (id, username) VALUES (1, 'someone')"))
        connection.execute(
            text(
                "INSERT INTO jobs (id, code, shell, status, submitter_id)"
                " VALUES ('odd', 'echo', 'sh', 'PENDING', 1)"
            )
        )
    with pytest.raises(IntegrityError):
        command.upgrade(alembic_cfg, "0013")
    with scratch_database.connect() as connection:
        assert connection.scalar(text("SELECT status FROM jobs WHERE id = 'odd'")) == "PENDING"
