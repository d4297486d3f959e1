"""Fixtures for the schedule tests: definitions and schedules written straight to the
database, a scheduler driven by a controllable clock."""

import datetime as dt
import uuid

import pytest

from baselayer.app.database import database_url
from baselayer.app.plain_sql import PlainSQL
from shell_service import queue
from shell_service.scheduler import Scheduler
from shell_service.shells import available_shells

from .. import factories

#: A definition's version fields besides code (queue.VERSION_FIELDS).
VERSION = {
    "description": None,
    "shell": "sh",
    "args": [],
    "env": {},
    "stdin": None,
    "options": {},
    "parameters": [],
}


@pytest.fixture
def sql(cfg, engine):
    connection = PlainSQL(database_url(cfg), "schedule-tests")
    yield connection
    connection.close()


def make_definition(sql, owner_id, code="echo $day", parameters=(), shared=False, name=None):
    """A definition (version 1) owned by ``owner_id``; returns its row."""
    fields = {**VERSION, "code": code, "parameters": list(parameters)}
    return queue.insert_definition(
        sql, owner_id, name or f"def_{uuid.uuid4().hex[:8]}", shared, fields
    )


def make_schedule(sql, owner_id, definition_id, next_fire_at, **fields):
    """A schedule (every minute in UTC unless told) whose next tick is ``next_fire_at``."""
    values = {
        "definition_id": definition_id,
        "version": None,
        "description": None,
        "parameters": {},
        "secret_parameters": {},
        "overrides": {},
        "cron": "* * * * *",
        "timezone": "UTC",
        "enabled": True,
        "overlap": "skip",
        "catch_up": "none",
        "next_fire_at": next_fire_at,
        **fields,
    }
    return queue.insert_schedule(sql, owner_id, values)


@pytest.fixture
def owner():
    return factories.UserFactory()


@pytest.fixture
def make_scheduler(cfg, engine):
    """Schedulers on connections of their own (as separate processes would be)."""
    made = []

    def make():
        scheduler = Scheduler(
            cfg,
            PlainSQL(database_url(cfg), "scheduler-test"),
            list(available_shells(cfg["jobs.shells"])),
        )
        made.append(scheduler)
        return scheduler

    yield make
    for scheduler in made:
        scheduler.sql.close()


@pytest.fixture
def tick():
    """A minute boundary in the past: the clock the tests drive starts there."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, second=0, microsecond=0)
    return now - dt.timedelta(days=1)


@pytest.fixture
def quiet_jobs(paused_executor, sql):
    """Fired jobs stay QUEUED while the test runs (the executor claims nothing); the
    ones left QUEUED are cancelled after it, so no later test runs them."""
    yield
    sql.rows(
        "UPDATE jobs SET status = 'CANCELLED', finished_at = now() "
        "WHERE schedule_id IS NOT NULL AND status = 'QUEUED' RETURNING id"
    )


def jobs_of(sql, schedule_id):
    return sql.rows(
        "SELECT * FROM jobs WHERE schedule_id = %(id)s ORDER BY scheduled_for", {"id": schedule_id}
    )


def fires_of(sql, schedule_id):
    return sql.rows(
        "SELECT * FROM schedule_fires WHERE schedule_id = %(id)s ORDER BY tick", {"id": schedule_id}
    )


def set_job(sql, job_id, status, finished_at=None):
    sql.rows(
        "UPDATE jobs SET status = %(status)s, finished_at = %(finished_at)s "
        "WHERE id = %(id)s RETURNING id",
        {"id": job_id, "status": status, "finished_at": finished_at},
    )


@pytest.fixture(autouse=True)
def schedules_of_this_test_only(cfg, engine):
    """The schedules a test makes are deleted after it: a due schedule left behind
    would fire in the next test's passes."""
    connection = PlainSQL(database_url(cfg), "schedule-tests-cleanup")
    before = connection.value("SELECT coalesce(max(id), 0) FROM schedules")
    yield
    connection.rows("DELETE FROM schedules WHERE id > %(id)s RETURNING id", {"id": before})
    connection.close()
