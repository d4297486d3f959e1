"""The queue: claims never start a job twice, and users share the host fairly."""

import datetime
import json
import threading
import time

from sqlalchemy import delete, func, select, text

from baselayer.app.database import database_url
from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL
from shell_service import queue
from shell_service.executors.local import executor_database_url
from shell_service.models import Job, JobEvent
from shell_service.queue.claim import _CLAIM_SQL as CLAIM_SQL
from shell_service.queue.claim import claim_parameters
from shell_service.queues import Queue

from ..factories import JobFactory, UserFactory
from ..helpers import claim_limits, create_job, wait_for_job


def queued_jobs(user, count, start=None, **fields):
    start = start or utcnow() - datetime.timedelta(hours=1)
    return [
        JobFactory(
            submitter=user,
            status="QUEUED",
            queued_at=start + datetime.timedelta(milliseconds=i),
            **fields,
        )
        for i in range(count)
    ]


def claim(cfg, executor: str, **limits):
    """One claim on a connection of its own (as another executor's would be)."""
    sql = PlainSQL(database_url(cfg))
    try:
        while True:
            claimed = queue.claim_jobs(sql, executor, **claim_limits(**limits))
            if claimed is not None:  # None: another claim was under way
                return claimed
    finally:
        sql.close()


def running_total(session_factory, host: str = "elsewhere") -> int:
    """Jobs RUNNING on ``host`` (the tests' claims come from "elsewhere")."""
    with session_factory() as session:
        return session.scalar(select(func.count()).where(Job.status == "RUNNING", Job.host == host))


def remove_jobs(session_factory, ids):
    with session_factory() as session:
        session.execute(delete(Job).where(Job.id.in_(ids)))
        session.commit()


def test_four_claimers_start_each_of_500_jobs_exactly_once(cfg, session_factory, paused_executor):
    jobs = queued_jobs(UserFactory(), 500)
    claims: list[str] = []
    claimers: set[int] = set()
    lock = threading.Lock()

    def claimer(n):
        while True:
            # Small batches, so the four claimers really interleave.
            got = claim(cfg, f"elsewhere:{n}", batch=5)
            if not got:
                # Nothing left for this claimer: done once all are RUNNING.
                with session_factory() as session:
                    left = session.scalar(
                        select(Job.id).where(
                            Job.id.in_([j.id for j in jobs]), Job.status == "QUEUED"
                        )
                    )
                if left is None:
                    return
                continue
            with lock:
                claims.extend(job.id for job in got)
                claimers.add(n)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    mine = [c for c in claims if c in {j.id for j in jobs}]
    assert len(mine) == 500
    assert len(set(mine)) == 500
    assert len(claimers) > 1
    with session_factory() as session:
        starts = session.scalars(
            select(JobEvent.job_id).where(
                JobEvent.job_id.in_([j.id for j in jobs]), JobEvent.to_status == "RUNNING"
            )
        ).all()
    assert sorted(starts) == sorted(j.id for j in jobs)
    remove_jobs(session_factory, [j.id for j in jobs] + claims)


def test_one_users_job_starts_before_anothers_backlog(cfg, session_factory, paused_executor):
    busy, newcomer = UserFactory(), UserFactory()
    backlog = queued_jobs(busy, 200)
    # The newcomer's job is the newest in the queue.
    late = queued_jobs(newcomer, 1, start=utcnow())[0]
    free = running_total(session_factory) + 2
    got = claim(cfg, "elsewhere:1", max_running=free)
    assert {job.id for job in got} == {backlog[0].id, late.id}
    remove_jobs(session_factory, [j.id for j in backlog] + [late.id] + [j.id for j in got])


def test_priority_orders_a_users_own_jobs(cfg, session_factory, paused_executor):
    user = UserFactory()
    low = queued_jobs(user, 3)
    high = JobFactory(submitter=user, status="QUEUED", queued_at=utcnow(), priority=10)
    free = running_total(session_factory) + 1
    got = claim(cfg, "elsewhere:1", max_running=free)
    assert [job.id for job in got] == [high.id]
    remove_jobs(session_factory, [j.id for j in low] + [high.id] + [j.id for j in got])


def test_per_user_limit_keeps_the_rest_queued(cfg, session_factory, paused_executor):
    user = UserFactory()
    jobs = queued_jobs(user, 5)
    got = claim(cfg, "elsewhere:1", per_user=2)
    mine = [job for job in got if job.id in {j.id for j in jobs}]
    assert len(mine) == 2
    remove_jobs(session_factory, [j.id for j in jobs] + [j.id for j in got])


def test_memory_budget_limits_what_starts(cfg, session_factory, paused_executor):
    user = UserFactory()
    jobs = queued_jobs(user, 3, memory_mb=1000)
    with session_factory() as session:
        running = select(Job.memory_mb).where(Job.status == "RUNNING", Job.host == "elsewhere")
        used = sum(session.scalars(running).all())
    got = claim(cfg, "elsewhere:1", memory_budget_mb=used + 2500)
    # Other tests' leftovers may share the queue: the budget holds for all of it.
    assert sum(job.memory_mb for job in got) <= 2500
    mine = [job.id for job in got if job.id in {j.id for j in jobs}]
    assert 1 <= len(mine) <= 2
    remove_jobs(session_factory, [j.id for j in jobs] + [j.id for j in got])


def test_queued_jobs_wait_instead_of_being_refused(api, server):
    saved = server.cfg["jobs"]["max_running_per_user"]
    server.cfg["jobs"]["max_running_per_user"] = 1
    try:
        ids = [
            api.post("/api/jobs", json={"code": "sleep 0.3", "execute": True}).json()["data"]["id"]
            for _ in range(3)
        ]
        statuses = {api.get(f"/api/jobs/{i}").json()["data"]["status"] for i in ids}
        assert "QUEUED" in statuses
    finally:
        server.cfg["jobs"]["max_running_per_user"] = saved
    for job_id in ids:
        assert wait_for_job(api, job_id)["status"] == "COMPLETE"


def test_a_claim_does_not_wait_while_another_is_under_way(cfg, session_factory, paused_executor):
    jobs = queued_jobs(UserFactory(), 1)
    with session_factory() as holder:
        holder.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": queue._CLAIM_LOCK_KEY})
        sql = PlainSQL(database_url(cfg))
        try:
            assert queue.claim_jobs(sql, "elsewhere:1", **claim_limits()) is None
        finally:
            sql.close()
        holder.rollback()
    got = claim(cfg, "elsewhere:1")
    assert jobs[0].id in {job.id for job in got}
    remove_jobs(session_factory, [j.id for j in jobs] + [j.id for j in got])


def test_the_service_recovers_when_its_database_connections_are_cut(api, server, engine):
    """As after a PostgreSQL restart: every connection of the in-process app and
    executor is cut; the listener sees it, the others reconnect before their next
    use, and the listener comes back."""
    listener = server.executor.listener
    connects = listener.connects
    with engine.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not (listener.alive and listener.connects > connects):
        time.sleep(0.05)
    assert listener.alive and listener.connects == connects + 1
    job_id = create_job(api, "echo back", execute=True)
    job = api.get(f"/api/jobs/{job_id}", params={"wait": 30}).json()["data"]
    assert (job["status"], job["stdout"]) == ("COMPLETE", "back\n")
    assert api.get("/api/tokens").status_code == 200  # the ORM's pool, too


def rows_read_from_jobs(plan: dict) -> int:
    """Rows the plan's scans of the jobs table returned, over all their loops."""
    own = plan.get("Actual Rows", 0) * plan.get("Actual Loops", 1)
    here = own if plan.get("Relation Name") == "jobs" and "Scan" in plan["Node Type"] else 0
    return here + sum(rows_read_from_jobs(child) for child in plan.get("Plans", []))


def test_a_claim_reads_each_users_next_jobs_not_the_whole_queue(
    cfg, engine, session_factory, paused_executor
):
    """3,000 jobs wait (three users with 1,000 each): the claim reads each user's
    first jobs from the index, not every waiting job (the old claim ranked them all:
    its cost grew with the queue, 1.7 s at a million)."""
    users = [UserFactory() for _ in range(3)]
    try:
        claim_plan_at_depth(cfg, engine, session_factory, users)
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM jobs WHERE id LIKE 'depth\\_%'"))


def claim_plan_at_depth(cfg, engine, session_factory, users):
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO jobs (id, code, shell, status, priority, submitter_id, queued_at,"
                " created_at, modified, timeout, cpus, memory_mb)"
                " SELECT 'depth_' || :user || '_' || n, 'true', 'sh', 'QUEUED', n % 3, :user,"
                " now() - n * interval '1 ms', now(), now(), 60, 1, 64"
                " FROM generate_series(1, 1000) n"
            ),
            [{"user": user.id} for user in users],
        )
        conn.execute(text("ANALYZE jobs"))
    params = claim_parameters(
        "elsewhere:1",
        **claim_limits(
            per_user=4,
            batch=int(cfg["jobs.claim_batch"]),
            max_running=running_total(session_factory) + 8,
        ),
    )
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            # On a table this small a sequential scan can be the cheaper plan; at
            # depth the planner uses the indexes, and so does this test.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + CLAIM_SQL.sql, params)
            plan = cursor.fetchone()[0][0]["Plan"]
        raw.rollback()  # EXPLAIN ANALYZE claimed them: undo
    finally:
        raw.close()
    with session_factory() as session:
        waiting = session.scalar(text("SELECT count(*) FROM jobs WHERE status = 'QUEUED'"))
    assert waiting >= 3000
    # The RUNNING jobs (at most max_running), one probe per waiting user, at most
    # 4 heads per user, the rows locked and updated: well under a tenth of the queue.
    assert rows_read_from_jobs(plan) < 300, json.dumps(plan, indent=1)


def test_every_connection_runs_without_jit(cfg, engine):
    """JIT would compile the claim at depth (its estimated cost is high) for 30 ms,
    ten times what the statement takes: baselayer's connections turn it off."""
    with engine.connect() as conn:
        assert conn.scalar(text("SHOW jit")) == "off"
    sql = PlainSQL(database_url(cfg))
    try:
        assert sql.value("SHOW jit") == "off"
    finally:
        sql.close()


def test_a_claim_takes_exactly_the_first_jobs_of_the_fair_order(
    cfg, session_factory, paused_executor
):
    """Twenty users with different numbers of jobs running and waiting, at several
    priorities: one claim of 8 takes exactly the first 8 of the fair order, as
    computed here (the running jobs and the user's place in line, then priority,
    then age, then id), however few of each user's jobs the claim reads."""
    users = [UserFactory() for _ in range(20)]
    start = utcnow() - datetime.timedelta(hours=1)
    running, waiting = [], []
    for i, user in enumerate(users):
        for _ in range(i % 4):
            running.append(
                JobFactory(
                    submitter=user,
                    status="RUNNING",
                    started_at=start,
                    host="busy-host",
                    queue="fair",
                )
            )
        for j in range(3 + i % 3):
            waiting.append(
                JobFactory(
                    submitter=user,
                    status="QUEUED",
                    priority=(i * 7 + j * 3) % 5,
                    queued_at=start + datetime.timedelta(milliseconds=(i * 13 + j * 29) % 97),
                    queue="fair",
                )
            )
    # A queue of its own: other tests' jobs, ending meanwhile, do not move the order.
    with session_factory() as session:
        queued = session.execute(
            select(Job.id, Job.submitter_id, Job.priority, Job.queued_at).where(
                Job.status == "QUEUED", Job.queue == "fair"
            )
        ).all()
        busy = dict(
            session.execute(
                select(Job.submitter_id, func.count())
                .where(Job.status == "RUNNING", Job.queue == "fair")
                .group_by(Job.submitter_id)
            ).all()
        )
    in_line = sorted(queued, key=lambda j: (j.submitter_id, -j.priority, j.queued_at, j.id))
    place: dict[int, int] = {}
    keyed = []
    for job in in_line:
        place[job.submitter_id] = place.get(job.submitter_id, 0) + 1
        slot = busy.get(job.submitter_id, 0) + place[job.submitter_id]
        keyed.append(((slot, -job.priority, job.queued_at, job.id), job.id))
    expected = [job_id for _, job_id in sorted(keyed)[:8]]
    fair = Queue("fair", "", "local", (), None, 10**6, None, {}, {})
    got = claim(
        cfg, "elsewhere:1", batch=8, max_running=running_total(session_factory) + 8, queues=[fair]
    )
    assert sorted(job.id for job in got) == sorted(expected)
    remove_jobs(session_factory, [j.id for j in running + waiting] + [j.id for j in got])


def test_the_executors_connection_plans_its_statements_once(cfg):
    """The claim's arrays make PostgreSQL plan it afresh on every run (1 ms of a
    1.3 ms claim with nothing queued): the executor's connection asks for generic
    plans instead, and keeps JIT off."""
    sql = PlainSQL(executor_database_url(cfg))
    try:
        assert sql.value("SHOW plan_cache_mode") == "force_generic_plan"
        assert sql.value("SHOW jit") == "off"
    finally:
        sql.close()


def test_a_job_bigger_than_the_hosts_whole_budget_holds_back_no_one(
    cfg, session_factory, paused_executor
):
    """First in line, a job asking for more memory than the host has for all its
    jobs: it can never start here, and the job behind it starts."""
    big_user, small_user = UserFactory(), UserFactory()
    huge = queued_jobs(big_user, 1, memory_mb=5000)[0]
    small = queued_jobs(small_user, 1, start=utcnow(), memory_mb=100)[0]
    # A host of its own: nothing runs there, its whole budget is 4,000 MiB.
    got = claim(cfg, "holdback-host:1", host="holdback-host", memory_budget_mb=4000)
    ids = {job.id for job in got}
    assert small.id in ids and huge.id not in ids
    remove_jobs(session_factory, [huge.id, small.id] + list(ids))
