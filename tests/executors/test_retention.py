"""Retention: old finished jobs go, with their files, in batches; nothing else does."""

import asyncio
import datetime

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
    job = run_job(api, "echo first")
    assert api.delete(f"/api/jobs/{job['id']}").status_code == 200
    wait_until(lambda: not server.executor.job_files(job["id"]).root.exists(), "removed")
    again = run_job(api, "echo second", id=job["id"])
    assert again["stdout"] == "second\n"
    assert server.executor.job_files(job["id"]).stdout.read_text() == "second\n"
