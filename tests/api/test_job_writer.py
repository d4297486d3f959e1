"""New jobs are stored in batches (``shell_service.job_writer``): concurrent requests
share statements, and each still gets its own answer."""

import uuid
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from shell_service.models import Job, JobEvent


def test_concurrent_creates_each_get_their_job_and_history(api, session_factory):
    with ThreadPoolExecutor(32) as pool:
        responses = list(
            pool.map(
                lambda n: api.post(
                    "/api/jobs",
                    json={"code": f"echo {n}", "execute": n % 2 == 0, "priority": n % 100},
                ),
                range(200),
            )
        )
    assert [r.status_code for r in responses] == [200] * 200
    ids = [r.json()["data"]["id"] for r in responses]
    assert len(set(ids)) == 200
    with session_factory() as session:
        jobs = {job.id: job for job in session.scalars(select(Job).where(Job.id.in_(ids)))}
        events = dict(
            session.execute(
                select(JobEvent.job_id, func.count())
                .where(JobEvent.job_id.in_(ids))
                .group_by(JobEvent.job_id)
            ).all()
        )
    for n, job_id in enumerate(ids):
        assert jobs[job_id].code == f"echo {n}" and jobs[job_id].priority == n % 100
        # Created, and for the executed ones submitted (and maybe started, ended).
        assert events[job_id] >= (2 if n % 2 == 0 else 1)
        if n % 2:
            assert jobs[job_id].status == "READY" and events[job_id] == 1


def test_the_same_new_id_sent_at_once_is_stored_once(api):
    name = f"race_{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(16) as pool:
        codes = list(
            pool.map(
                lambda n: api.post("/api/jobs", json={"id": name, "code": f"echo {n}"}).status_code,
                range(16),
            )
        )
    assert sorted(codes) == [200] + [409] * 15


def test_a_job_the_database_refuses_does_not_fail_its_batch(api, monkeypatch):
    from shell_service import queue

    insert_jobs = queue.insert_jobs

    def refusing(sql, jobs):
        if any(job.fields["code"] == "refused" for job in jobs):
            raise ValueError("refused by the database")
        return insert_jobs(sql, jobs)

    monkeypatch.setattr(queue, "insert_jobs", refusing)
    codes = ["refused"] + [f"echo {n}" for n in range(30)]
    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(lambda code: api.post("/api/jobs", json={"code": code}), codes))
    assert responses[0].status_code == 500
    assert [r.status_code for r in responses[1:]] == [200] * 30
