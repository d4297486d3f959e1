"""A host whose executors stop heartbeating is lost: its RUNNING jobs are never
adopted by another host, they end SERVER_ERROR "host <name> lost" (or go back to
QUEUED when they asked for requeue_on_host_loss), and an executor whose jobs were
taken from it while it was away ends their processes instead of recording them.
The statements, called directly; tests/e2e/test_hosts.py runs a second host."""

import datetime

import pytest
from sqlalchemy import select, text

from baselayer.app.database import database_url
from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL
from shell_service import queue
from shell_service.executors.registry import Registry
from shell_service.job_states import JobStatus
from shell_service.models import Job, JobEvent

from ..factories import JobFactory
from ..helpers import create_job, wait_for_job

LOST_AFTER = datetime.timedelta(seconds=30)


@pytest.fixture
def sql(cfg):
    connection = PlainSQL(database_url(cfg), "lost hosts test")
    yield connection
    connection.close()


def running_on(host: str, started_ago: datetime.timedelta, **fields) -> Job:
    started = utcnow() - started_ago
    return JobFactory(
        status="RUNNING",
        queued_at=started,
        started_at=started,
        host=host,
        executor=f"{host}:4242",
        **fields,
    )


def row(session_factory, job_id: str) -> Job:
    with session_factory() as session:
        return session.scalar(select(Job).where(Job.id == job_id))


def events(session_factory, job_id: str) -> list[tuple]:
    with session_factory() as session:
        return session.execute(
            select(JobEvent.from_status, JobEvent.to_status, JobEvent.detail)
            .where(JobEvent.job_id == job_id)
            .order_by(JobEvent.id)
        ).all()


def forget_executors(session_factory, *hosts: str) -> None:
    with session_factory() as session:
        session.execute(
            text("DELETE FROM executors WHERE host = ANY(:hosts)"), {"hosts": list(hosts)}
        )
        session.commit()


def test_only_the_jobs_of_hosts_silent_for_lost_after_are_lost(sql, session_factory):
    gone = running_on("gone-host", LOST_AFTER * 2)
    alive = running_on("alive-host", LOST_AFTER * 2)
    recent = running_on("new-host", LOST_AFTER / 3)  # started since: not judged yet
    mine = running_on("this-host", LOST_AFTER * 2)
    # alive-host's executor restarted (a new pid) and heartbeats: the host is alive.
    queue.heartbeat(sql, "alive-host:999", 0, None, "alive-host")
    try:
        lost = {job_id: (host, requeue) for job_id, host, requeue in queue.jobs_of_lost_hosts(
            sql, "this-host", LOST_AFTER
        )}  # fmt: skip
        assert lost.get(gone.id) == ("gone-host", False)
        assert alive.id not in lost
        assert recent.id not in lost
        assert mine.id not in lost  # its own executor judges its own jobs
    finally:
        forget_executors(session_factory, "alive-host")


def test_a_job_of_a_lost_host_ends_server_error_naming_the_host(sql, session_factory):
    job = running_on("gone-host", LOST_AFTER * 2)
    registry = Registry(sql, "this-host", "this-host:1", LOST_AFTER)
    assert registry.lose(job.id, "gone-host", requeue=False) == "ended"
    ended = row(session_factory, job.id)
    assert ended.status == "SERVER_ERROR"
    assert ended.status_message.startswith("host gone-host lost")
    # Once: another executor that judges it too changes nothing.
    assert Registry(sql, "third", "third:1", LOST_AFTER).lose(job.id, "gone-host", False) == ""


def test_a_job_that_asked_for_it_is_queued_again_as_new(sql, session_factory, paused_executor):
    job = running_on("gone-host", LOST_AFTER * 2, requeue_on_host_loss=True)
    registry = Registry(sql, "this-host", "this-host:1", LOST_AFTER)
    assert registry.lose(job.id, "gone-host", requeue=True) == "queued again"
    again = row(session_factory, job.id)
    assert (again.status, again.started_at, again.executor, again.host) == (
        "QUEUED",
        None,
        None,
        None,
    )
    assert events(session_factory, job.id)[-1] == (
        "RUNNING",
        "QUEUED",
        "host gone-host lost; queued again",
    )
    with session_factory() as session:  # not left for the in-process executor to run
        session.execute(text("UPDATE jobs SET status = 'CANCELLED' WHERE id = :id"), {"id": job.id})
        session.commit()


def test_a_job_whose_cancel_was_asked_for_is_not_queued_again(sql, session_factory):
    job = running_on("gone-host", LOST_AFTER * 2, requeue_on_host_loss=True)
    assert queue.cancel_job(sql, job.id, job.submitter_id) == "RUNNING"
    registry = Registry(sql, "this-host", "this-host:1", LOST_AFTER)
    assert registry.lose(job.id, "gone-host", requeue=True) == "ended"
    assert row(session_factory, job.id).status == "CANCELLED"


def test_jobs_taken_from_an_executor_are_not_recorded_by_it(sql, session_factory, paused_executor):
    kept = running_on("back-host", LOST_AFTER * 2)
    taken = running_on("back-host", LOST_AFTER * 2, requeue_on_host_loss=True)
    # Judged lost meanwhile, queued again, and claimed by another host.
    assert queue.requeue_lost_job(sql, taken.id, "back-host")
    with session_factory() as session:
        session.execute(
            text("UPDATE jobs SET status = 'RUNNING', executor = 'other:7', host = 'other'"
                 " WHERE id = :id"),
            {"id": taken.id},
        )  # fmt: skip
        session.commit()
    registry = Registry(sql, "back-host", "back-host:4242", LOST_AFTER)
    assert registry.taken_from_me([kept.id, taken.id]) == {taken.id}
    # Its old run's end does not end the new run.
    output = queue.JobOutput(return_code=0, stdout="old run")
    assert not queue.finish_job(
        sql, taken.id, JobStatus.COMPLETE, output, executor="back-host:4242"
    )
    assert row(session_factory, taken.id).status == "RUNNING"
    assert queue.finish_job(sql, kept.id, JobStatus.COMPLETE, output, executor="back-host:4242")
    assert row(session_factory, kept.id).status == "COMPLETE"
    with session_factory() as session:
        session.execute(
            text("UPDATE jobs SET status = 'CANCELLED' WHERE id = :id"), {"id": taken.id}
        )
        session.commit()


def test_the_api_keeps_requeue_on_host_loss_and_a_rerun_copies_it(api):
    created = api.post("/api/jobs", json={"code": "true", "requeue_on_host_loss": True})
    assert created.status_code == 200, created.text
    job_id = created.json()["data"]["id"]
    assert api.get(f"/api/jobs/{job_id}").json()["data"]["requeue_on_host_loss"] is True
    assert api.post(f"/api/jobs/{job_id}/execute").status_code == 200
    rerun = api.post(f"/api/jobs/{job_id}/rerun").json()["data"]["id"]
    assert api.get(f"/api/jobs/{rerun}").json()["data"]["requeue_on_host_loss"] is True
    bad = api.post("/api/jobs", json={"code": "true", "requeue_on_host_loss": "yes please"})
    assert bad.status_code == 400
    assert "requeue_on_host_loss" in bad.json()["data"]["errors"]


def test_directories_no_job_names_are_removed_and_a_ready_jobs_log_is_empty(api, server):
    """An earlier stack at the same place leaves job directories behind (a fallback
    under /var/lib/shell_service outlives its stack): a new job of the same id must
    not show their files as its log, and the executor removes them at start."""
    import asyncio

    jobs_dir = server.executor.setup.jobs_dir
    ready = create_job(api, "echo mine")
    stale_ids = [ready, f"stale_{utcnow().timestamp():.0f}"]
    for job_id in stale_ids:
        (jobs_dir / job_id).mkdir()
        (jobs_dir / job_id / "stdout").write_text("another stack's user's output\n")
    page = api.get(f"/api/jobs/{ready}/log").json()["data"]
    assert (page["text"], page["finished"]) == ("", False)
    # These two only: the executor sweeps the whole directory at its start.
    sweep = server.executor._remove_unknown_dirs(set(), stale_ids)
    run = asyncio.run_coroutine_threadsafe(sweep, server.loop)
    run.result(30)
    assert (jobs_dir / ready).exists()  # a job of this database has that id
    assert not (jobs_dir / stale_ids[1]).exists()
    api.post(f"/api/jobs/{ready}/execute")
    done = wait_for_job(api, ready)
    assert done["stdout"] == "mine\n"  # its own run replaced the stale directory
