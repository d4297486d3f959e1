"""Retention: old finished jobs go, with their files, in batches; nothing else does."""

import asyncio
import datetime

from sqlalchemy import text

from baselayer.app.models import utcnow

from ..factories import JobFactory
from ..helpers import run_job, wait_until


def sweep(server, days):
    saved = server.cfg["jobs"]["retention_days"]
    server.cfg["jobs"]["retention_days"] = days
    try:
        return asyncio.run_coroutine_threadsafe(
            server.executor.retention.sweep_old_jobs(), server.loop
        ).result(60)
    finally:
        server.cfg["jobs"]["retention_days"] = saved


def test_old_finished_jobs_are_deleted_with_their_files(api, server):
    old = utcnow() - datetime.timedelta(days=40)
    finished = run_job(api, "echo old")
    session = JobFactory._meta.sqlalchemy_session
    job = session.get(JobFactory._meta.model, finished["id"])
    job.finished_at = old
    session.commit()
    many_old = [
        JobFactory(submitter=api.user, status="COMPLETE", finished_at=old) for _ in range(1200)
    ]
    recent = JobFactory(submitter=api.user, status="FAILED", finished_at=utcnow())
    waiting = JobFactory(submitter=api.user, status="READY", created_at=old)
    files = server.executor.job_files(finished["id"]).root
    assert files.exists()

    deleted = sweep(server, days=30)

    assert deleted >= 1201  # more than one batch
    assert api.get(f"/api/jobs/{finished['id']}").status_code == 404
    assert api.get(f"/api/jobs/{many_old[-1].id}").status_code == 404
    assert not files.exists()
    assert api.get(f"/api/jobs/{recent.id}").status_code == 200
    assert api.get(f"/api/jobs/{waiting.id}").status_code == 200


def test_a_deleted_jobs_directory_is_removed_by_its_hosts_executor(api, server):
    """DELETE answers once the row is gone; the directory is the executor's to remove."""
    job = run_job(api, "echo bye")
    files = server.executor.job_files(job["id"]).root
    assert files.exists()
    assert api.delete(f"/api/jobs/{job['id']}").status_code == 200
    wait_until(lambda: not files.exists(), "the executor removed the directory", timeout=15)


def test_a_job_made_again_under_a_deleted_ones_id_keeps_its_directory(api, server):
    """The removal was still pending when a job took the id again: its files stay."""
    job = run_job(api, "echo second")
    session = JobFactory._meta.sqlalchemy_session
    session.execute(
        text("INSERT INTO job_dirs_to_remove (job_id, host) VALUES (:id, :host)"),
        {"id": job["id"], "host": server.executor.host},
    )
    session.commit()
    asyncio.run_coroutine_threadsafe(
        server.executor.retention.remove_deleted_dirs(), server.loop
    ).result(30)
    assert server.executor.job_files(job["id"]).stdout.read_text() == "second\n"
    pending = session.execute(
        text("SELECT count(*) FROM job_dirs_to_remove WHERE job_id = :id"), {"id": job["id"]}
    ).scalar()
    assert pending == 0


def test_retention_leaves_another_hosts_directories_to_that_hosts_executor(api, server):
    old = utcnow() - datetime.timedelta(days=40)
    elsewhere = JobFactory(
        submitter=api.user, status="COMPLETE", finished_at=old, executor="another-host:4242"
    )
    sweep(server, days=30)
    session = JobFactory._meta.sqlalchemy_session
    left = session.execute(
        text("SELECT job_id FROM job_dirs_to_remove WHERE host = 'another-host'")
    ).scalars()
    assert elsewhere.id in set(left)
    session.execute(text("DELETE FROM job_dirs_to_remove WHERE host = 'another-host'"))
    session.commit()
