"""Jobs per state (sysinfo): one shared recount a minute for every app worker."""

import datetime

from sqlalchemy import text

from baselayer.app.database import database_url
from baselayer.app.plain_sql import PlainSQL
from shell_service import queue

from ..factories import JobFactory, UserFactory

FRESH = datetime.timedelta(seconds=60)
ALWAYS = datetime.timedelta(0)


def ready_jobs(session_factory) -> int:
    with session_factory() as session:
        return session.scalar(text("SELECT count(*) FROM jobs WHERE status = 'READY'"))


def test_a_recount_stores_the_counts_and_the_next_minute_reads_them(cfg, session_factory):
    user = UserFactory()
    JobFactory.create_batch(3, submitter=user)
    sql = PlainSQL(database_url(cfg))
    try:
        assert queue.recount_if_stale(sql, ALWAYS)
        assert queue.stored_counts(sql)["READY"] == ready_jobs(session_factory)
        # Fresh counts are not counted again, even with more jobs since.
        JobFactory(submitter=user)
        assert not queue.recount_if_stale(sql, FRESH)
        assert queue.stored_counts(sql)["READY"] == ready_jobs(session_factory) - 1
        assert set(queue.stored_counts(sql)) >= {"READY", "QUEUED", "RUNNING", "COMPLETE"}
    finally:
        sql.close()


def test_an_app_worker_does_not_wait_while_another_recounts(cfg, session_factory):
    sql = PlainSQL(database_url(cfg))
    try:
        with session_factory() as holder:
            holder.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": queue._RECOUNT_LOCK_KEY}
            )
            assert not queue.recount_if_stale(sql, ALWAYS)
            holder.rollback()
        assert queue.recount_if_stale(sql, ALWAYS)
    finally:
        sql.close()
