"""The queue's statements called directly, for what the API and the executor's own
tests cannot reach on purpose: a change racing a delete, the job an executor adopts
being the same value as the one it claimed, adoption racing another executor."""

import pytest
from sqlalchemy import delete, select, text

from baselayer.app.database import database_url
from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL
from shell_service import queue, schemas
from shell_service.models import Job, JobEvent

from ..factories import JobFactory, UserFactory
from ..helpers import claim_limits

#: A host no executor of the tests runs on: nobody adopts or ends its jobs.
FAKE_HOST = "stmts-nowhere"


@pytest.fixture
def sql(cfg):
    connection = PlainSQL(database_url(cfg), "queue statements test")
    yield connection
    connection.close()


def events_of(session_factory, job_id: str) -> list[tuple]:
    with session_factory() as session:
        return session.execute(
            select(JobEvent.from_status, JobEvent.to_status, JobEvent.detail)
            .where(JobEvent.job_id == job_id)
            .order_by(JobEvent.id)
        ).all()


def test_every_field_a_job_update_takes_is_editable():
    assert set(schemas.JobUpdate().fields) == set(queue.EDITABLE_COLUMNS)


def test_a_change_finds_no_job_deleted_meanwhile_and_leaves_an_ended_one(sql, session_factory):
    user = UserFactory()
    assert queue.update_ready_job(sql, "job_gone", {"code": "x"}, user.id, ("id",)) == (None, None)
    ended = JobFactory(submitter=user, status="COMPLETE")
    assert queue.update_ready_job(sql, ended.id, {"code": "x"}, user.id, ("code",)) == (
        "COMPLETE",
        None,
    )
    assert events_of(session_factory, ended.id) == []
    with pytest.raises(ValueError):
        queue.update_ready_job(sql, ended.id, {"status": "READY"}, user.id, ("id",))


def test_a_change_of_a_ready_job_answers_it_as_stored_with_its_event(sql, session_factory):
    job = JobFactory(args=["a"], env={"K": "v"})
    changes = {"args": ["b", "c"], "env": {}, "stdin": None, "timeout": 7}
    state, changed = queue.update_ready_job(
        sql,
        job.id,
        changes,
        job.submitter_id,
        ("id", "args", "env", "stdin", "timeout", "modified"),
    )
    assert state == "READY"
    assert {name: changed[name] for name in changes} == changes
    assert changed["modified"] > job.modified
    assert events_of(session_factory, job.id) == [
        ("READY", "READY", "changed: args, env, stdin, timeout")
    ]


def test_deleting_a_job_that_ran_hands_its_directory_to_its_host(sql, session_factory):
    ran = JobFactory(status="FAILED", executor=f"{FAKE_HOST}:42")
    queued = JobFactory(status="QUEUED", queued_at=utcnow(), executor=None)
    try:
        assert queue.delete_job(sql, queued.id) == "QUEUED"
        assert queue.delete_job(sql, ran.id) is None
        assert queue.delete_job(sql, ran.id) is None  # gone already: nothing to do
        with session_factory() as session:
            left = session.scalars(select(Job.id).where(Job.id.in_([ran.id, queued.id]))).all()
            dirs = session.execute(
                text("SELECT job_id FROM job_dirs_to_remove WHERE host = :host"),
                {"host": FAKE_HOST},
            ).all()
        assert left == [queued.id]
        assert dirs == [(ran.id,)]
    finally:
        with session_factory() as session:
            session.execute(
                text("DELETE FROM job_dirs_to_remove WHERE host = :host"), {"host": FAKE_HOST}
            )
            session.execute(delete(Job).where(Job.id == queued.id))
            session.commit()


def test_a_job_found_for_adoption_is_the_job_as_it_was_claimed(
    cfg, sql, session_factory, paused_executor
):
    job = JobFactory(status="QUEUED", queued_at=utcnow(), args=["x"], env={"A": "b"}, stdin="in")
    executor = f"{FAKE_HOST}:1"
    claimed: list[queue.ClaimedJob] = []
    try:
        while not any(c.id == job.id for c in claimed):
            claimed += queue.claim_jobs(sql, executor, **claim_limits(host=FAKE_HOST)) or []
        (mine,) = [c for c in claimed if c.id == job.id]
        assert (mine.executor, mine.username, mine.cancel_requested_at) == (
            executor,
            job.submitter.username,
            None,
        )
        found = queue.running_jobs_on_host(sql, FAKE_HOST)
        assert mine in found
        # A job the caller watches comes back only once a cancel is asked for.
        assert job.id not in [j.id for j in queue.running_jobs_on_host(sql, FAKE_HOST, [job.id])]
        assert queue.cancel_job(sql, job.id, job.submitter_id) == "RUNNING"
        (again,) = [
            j for j in queue.running_jobs_on_host(sql, FAKE_HOST, [job.id]) if j.id == job.id
        ]
        assert again.cancel_requested_at is not None
    finally:
        with session_factory() as session:
            session.execute(delete(Job).where(Job.id.in_([c.id for c in claimed] + [job.id])))
            session.commit()


def test_only_one_executor_adopts_a_job(sql, session_factory):
    job = JobFactory(
        status="RUNNING", started_at=utcnow(), executor=f"{FAKE_HOST}:1", host=FAKE_HOST
    )
    try:
        assert queue.adopt_job(sql, job.id, f"{FAKE_HOST}:1", f"{FAKE_HOST}:2") is True
        assert queue.adopt_job(sql, job.id, f"{FAKE_HOST}:1", f"{FAKE_HOST}:3") is False
        (adopted,) = queue.running_jobs_on_host(sql, FAKE_HOST)
        assert adopted.executor == f"{FAKE_HOST}:2"
        assert events_of(session_factory, job.id) == [
            ("RUNNING", "RUNNING", f"adopted by {FAKE_HOST}:2 from {FAKE_HOST}:1")
        ]
    finally:
        with session_factory() as session:
            session.execute(delete(Job).where(Job.id == job.id))
            session.commit()
