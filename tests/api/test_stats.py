"""GET /api/stats: jobs per state and queue now, and per hour the jobs ended by
outcome and the queue wait's p50/p95, from hourly rollups kept by the stats
service's pass (``queue.stats.roll_up``) plus the ends since its cursor."""

import datetime
import time
import uuid

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text

from baselayer.app.database import database_url
from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL
from shell_service import stats
from shell_service.queue import stats as stats_queries

from ..conftest import Client
from ..factories import JobFactory, TokenFactory, UserFactory
from ..helpers import create_job, wait_for_job
from .envelope import assert_error, assert_success

#: Exits 75 until its third attempt.
FLAKY = '[ "$SHELL_SERVICE_ATTEMPT" -ge 3 ] || exit 75'


@pytest.fixture(scope="module")
def sql(cfg, engine):
    connection = PlainSQL(database_url(cfg), "test_stats")
    yield connection
    connection.close()


def retrying(call):
    """``call()`` until it does not answer None (the stats lock held by another pass)."""
    for _ in range(100):
        result = call()
        if result is not None:
            return result
        time.sleep(0.05)
    raise AssertionError("the stats lock stayed taken")


def rebuild(sql, since: datetime.datetime) -> int:
    """Count the jobs ended from ``since``'s hour on into the rollups (jobs made
    with past ends, as these tests make them, are not in the cursor's range)."""
    return retrying(lambda: stats_queries.rebuild(sql, stats.hour_start(since)))


def ended_job(user, outcome: str, finished_at, wait: float | None = 1.0, **fields):
    """A job of ``user`` ended ``outcome`` at ``finished_at`` after waiting ``wait``
    seconds in its queue (None: it never started)."""
    queued_at = finished_at - datetime.timedelta(seconds=(wait or 0) + 2)
    started = None if wait is None else queued_at + datetime.timedelta(seconds=wait)
    return JobFactory(
        id=f"st_{uuid.uuid4().hex[:12]}",
        submitter=user,
        status=outcome,
        queued_at=queued_at,
        started_at=started,
        finished_at=finished_at,
        **fields,
    )


def get_stats(client, **query) -> dict:
    return assert_success(client.get("/api/stats", params=query))


def hour_of(figures: dict, at: datetime.datetime) -> dict:
    wanted = stats.hour_start(at).isoformat()
    return next(h for h in figures["hours"] if h["hour"].startswith(wanted))


def client_for(server, user) -> Client:
    client = Client(server.url, TokenFactory(user=user).secret)
    client.user = user
    return client


def test_a_user_counts_only_their_own_jobs_even_asking_for_another(server, sql):
    me, other = UserFactory(), UserFactory()
    at = utcnow() - datetime.timedelta(hours=2)
    ended_job(me, "COMPLETE", at)
    ended_job(other, "COMPLETE", at)
    ended_job(other, "FAILED", at)
    JobFactory(submitter=other, status="READY")
    JobFactory(submitter=me, status="READY", queue="other")
    rebuild(sql, at)
    client = client_for(server, me)
    for query in ({}, {"submitter_id": other.id}):
        figures = get_stats(client, **query)
        assert figures["submitter_id"] == me.id
        assert hour_of(figures, at)["finished"] == {
            "COMPLETE": 1, "FAILED": 0, "TIMED_OUT": 0, "CANCELLED": 0, "SERVER_ERROR": 0,
        }  # fmt: skip
        assert figures["now"]["by_state"]["READY"] == 1
        assert figures["now"]["by_state"]["COMPLETE"] == 1
        assert figures["now"]["by_state"]["FAILED"] == 0
        assert figures["now"]["by_queue"] == {"other": {"READY": 1, "QUEUED": 0, "RUNNING": 0}}


def test_an_admin_gets_everyones_figures_or_one_users(server, sql, admin_api):
    someone, another = UserFactory(), UserFactory()
    at = utcnow() - datetime.timedelta(hours=5)
    before = get_stats(admin_api, hours=24)
    ended_job(someone, "COMPLETE", at)
    ended_job(another, "COMPLETE", at)
    ended_job(another, "FAILED", at)
    JobFactory(submitter=another, status="READY")
    rebuild(sql, at)
    after = get_stats(admin_api, hours=24)
    assert after["submitter_id"] is None
    old, new = hour_of(before, at)["finished"], hour_of(after, at)["finished"]
    assert new["COMPLETE"] - old["COMPLETE"] == 2 and new["FAILED"] - old["FAILED"] == 1
    assert after["now"]["by_state"]["READY"] - before["now"]["by_state"]["READY"] == 1
    assert after["period"]["finished"]["COMPLETE"] - before["period"]["finished"]["COMPLETE"] == 2
    theirs = get_stats(admin_api, submitter_id=another.id)
    assert theirs["submitter_id"] == another.id
    assert hour_of(theirs, at)["finished"]["COMPLETE"] == 1
    assert hour_of(theirs, at)["finished"]["FAILED"] == 1
    assert theirs["now"]["by_state"]["READY"] == 1


def test_hours_and_outcomes_are_those_of_the_jobs_ends(server, sql):
    user = UserFactory()
    now = utcnow()
    three_ago = stats.hour_start(now) - datetime.timedelta(hours=3) + datetime.timedelta(minutes=10)
    one_ago = stats.hour_start(now) - datetime.timedelta(hours=1) + datetime.timedelta(minutes=59)
    for outcome in ("COMPLETE", "COMPLETE", "FAILED"):
        ended_job(user, outcome, three_ago)
    ended_job(user, "TIMED_OUT", one_ago)
    ended_job(user, "CANCELLED", one_ago, wait=None)  # cancelled while it waited
    ended_job(user, "SERVER_ERROR", one_ago)
    ended_job(user, "COMPLETE", now - datetime.timedelta(hours=30))  # before the 24 hours
    rebuild(sql, now - datetime.timedelta(hours=30))
    figures = get_stats(client_for(server, user))
    assert len(figures["hours"]) == 24
    assert figures["hours"][-1]["hour"].startswith(stats.hour_start(now).isoformat())
    assert hour_of(figures, three_ago)["finished"] == {
        "COMPLETE": 2, "FAILED": 1, "TIMED_OUT": 0, "CANCELLED": 0, "SERVER_ERROR": 0,
    }  # fmt: skip
    assert hour_of(figures, one_ago)["finished"] == {
        "COMPLETE": 0, "FAILED": 0, "TIMED_OUT": 1, "CANCELLED": 1, "SERVER_ERROR": 1,
    }  # fmt: skip
    # The cancelled one never started: no wait.
    assert hour_of(figures, one_ago)["waits"] == 2
    # No other hour has any.
    assert sum(sum(h["finished"].values()) for h in figures["hours"]) == 6
    assert figures["period"]["finished"]["COMPLETE"] == 2
    assert figures["period"]["failed"] == 3  # FAILED, TIMED_OUT, SERVER_ERROR
    # Every hour the rollups hold: the older one too.
    assert figures["now"]["by_state"]["COMPLETE"] == 3
    # A week shows it.
    week = get_stats(client_for(server, user), hours=168)
    assert len(week["hours"]) == 168 and week["period"]["finished"]["COMPLETE"] == 3


def test_wait_percentiles_are_within_the_bucket_resolution(server, sql):
    user = UserFactory()
    at = utcnow() - datetime.timedelta(hours=4)
    # Waits of 1, 2, ... 100 s: the median is 50 s, the 95th percentile 95 s.
    for seconds in range(1, 101):
        ended_job(user, "COMPLETE", at, wait=float(seconds), queue="q" + str(seconds % 3))
    rebuild(sql, at)
    hour = hour_of(get_stats(client_for(server, user)), at)
    assert hour["waits"] == 100
    for key, true in (("wait_p50", 50.0), ("wait_p95", 95.0)):
        assert abs(hour[key] - true) / true <= stats.WAIT_RESOLUTION, (key, hour[key])
    # A histogram's percentile is the bucket the rank falls in.
    assert stats.percentile({}, 0.5) is None
    assert stats.percentile({stats.wait_bucket(2.0): 1}, 0.95) == pytest.approx(2.0, rel=0.091)


def test_the_sql_buckets_agree_with_the_python_ones(sql):
    for seconds in (0, 0.0005, 0.0012, 0.3, 1, 59.9, 3600, 86400 * 30):
        bucket = sql.value(
            "SELECT " + stats_queries.BUCKET_SQL + " FROM (SELECT now() AS queued_at, "
            "now() + make_interval(secs => %(s)s) AS started_at) AS j",
            {"s": seconds},
        )
        assert bucket == stats.wait_bucket(seconds), seconds


@pytest.mark.parametrize(
    "query, field",
    [
        ({"hours": "0"}, "hours"),
        ({"hours": "169"}, "hours"),
        ({"hours": "soon"}, "hours"),
        ({"submitter_id": "0"}, "submitter_id"),
        ({"submitter_id": "me"}, "submitter_id"),
        ({"nope": "1"}, "nope"),
    ],
)
def test_bad_query_arguments_are_a_400_naming_them(api, query, field):
    assert_error(api.get("/api/stats", params=query), 400, mentions=field)


def test_stats_need_a_token(anon_api):
    assert anon_api.get("/api/stats").status_code == 401


def test_a_job_ending_now_counts_at_once_and_once_rolled_up(api, sql):
    job_id = create_job(api, "exit 4", execute=True)
    assert wait_for_job(api, job_id)["status"] == "FAILED"
    now = utcnow()
    counted = hour_of(get_stats(api), now)
    assert counted["finished"]["FAILED"] == 1 and counted["waits"] == 1
    # The pass takes it into the rollups and moves the cursor past it: still once.
    retrying(lambda: stats_queries.roll_up(sql, utcnow()))
    rows = sql.tuples(
        "SELECT outcome, sum(jobs) FROM job_stats_hourly WHERE submitter_id = %(user)s"
        " GROUP BY outcome",
        {"user": api.user.id},
    )
    assert rows == [("FAILED", 1)]
    after = get_stats(api)
    assert hour_of(after, now)["finished"] == counted["finished"]
    assert after["now"]["by_state"]["FAILED"] == 1
    assert after["rolled_until"] >= now.isoformat()


def test_a_retried_job_counts_once_as_its_last_attempt_ended(api, sql):
    job_id = create_job(api, FLAKY, execute=True, retry={"attempts": 3, "exit_codes": [75]})
    job = wait_for_job(api, job_id)
    assert job["status"] == "COMPLETE" and job["attempt"] == 3
    figures = get_stats(api)
    assert figures["period"]["finished"] == {
        "COMPLETE": 1, "FAILED": 0, "TIMED_OUT": 0, "CANCELLED": 0, "SERVER_ERROR": 0,
    }  # fmt: skip
    retrying(lambda: stats_queries.roll_up(sql, utcnow()))
    assert get_stats(api)["period"]["finished"] == figures["period"]["finished"]
    assert get_stats(api)["now"]["by_state"]["COMPLETE"] == 1


def test_a_rebuild_gives_the_rollups_the_pass_made(server, sql):
    """The pass's additions and a recount from the jobs table agree (the rows the
    upkeep writes are the ones a full count writes)."""
    user = UserFactory()
    client = client_for(server, user)
    at = utcnow() - datetime.timedelta(hours=6)
    for outcome, wait in (("COMPLETE", 0.2), ("COMPLETE", 30.0), ("FAILED", 2.0)):
        ended_job(user, outcome, at, wait=wait)
    rebuild(sql, at)
    first = get_stats(client)
    rows = sql.tuples(
        "SELECT hour, queue, outcome, bucket, jobs FROM job_stats_hourly"
        " WHERE submitter_id = %(user)s ORDER BY 1, 2, 3, 4",
        {"user": user.id},
    )
    assert sum(r[4] for r in rows) == 3 and len(rows) == 3
    rebuild(sql, at)
    assert get_stats(client)["hours"] == first["hours"]


def test_migration_0025_rolls_up_the_jobs_ended_before_it_and_goes_back_down(cfg, scratch_database):
    alembic_cfg = AlembicConfig(str(cfg.root / "alembic.ini"))
    alembic_cfg.attributes["engine"] = scratch_database
    command.upgrade(alembic_cfg, "0024")
    with scratch_database.begin() as connection:
        connection.execute(text("INSERT INTO users (id, username) VALUES (7, 'someone')"))
        connection.execute(
            text(
                "INSERT INTO jobs (id, code, shell, status, submitter_id, queue, queued_at,"
                " started_at, finished_at) VALUES"
                " ('a', 'true', 'sh', 'COMPLETE', 7, 'default', '2026-11-01 10:00:00',"
                "  '2026-11-01 10:00:02', '2026-11-01 10:05:00'),"
                " ('b', 'true', 'sh', 'CANCELLED', 7, 'default', '2026-11-01 10:00:00',"
                "  NULL, '2026-11-01 10:10:00'),"
                " ('c', 'true', 'sh', 'RUNNING', 7, 'default', now(), now(), NULL)"
            )
        )
    command.upgrade(alembic_cfg, "0025")
    with scratch_database.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT submitter_id, hour, outcome, bucket, jobs FROM job_stats_hourly"
                " ORDER BY submitter_id, outcome"
            )
        ).all()
        two_seconds = stats.wait_bucket(2.0)
        hour = datetime.datetime(2026, 11, 1, 10)
        assert [tuple(r) for r in rows] == [
            (0, hour, "CANCELLED", -1, 1),
            (0, hour, "COMPLETE", two_seconds, 1),
            (7, hour, "CANCELLED", -1, 1),
            (7, hour, "COMPLETE", two_seconds, 1),
        ]
        totals = connection.execute(
            text("SELECT submitter_id, outcome, jobs FROM job_stats_totals ORDER BY 1, 2")
        ).all()
        assert [tuple(r) for r in totals] == [
            (0, "CANCELLED", 1), (0, "COMPLETE", 1), (7, "CANCELLED", 1), (7, "COMPLETE", 1),
        ]  # fmt: skip
        assert connection.scalar(text("SELECT count(*) FROM job_stats_cursor")) == 1
    command.downgrade(alembic_cfg, "0024")
    with scratch_database.connect() as connection:
        assert connection.scalar(text("SELECT to_regclass('job_stats_hourly')")) is None
        assert connection.scalar(text("SELECT to_regclass('ix_jobs_active')")) is None
