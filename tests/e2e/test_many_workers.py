"""Several app workers claim from one queue: each job starts exactly once."""

from concurrent.futures import ThreadPoolExecutor

from ..helpers import create_job, wait_for_job


def test_500_jobs_over_all_workers_each_start_exactly_once(stack_admin, cfg):
    assert int(cfg["server.processes"]) >= 4
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda _: create_job(stack_admin, "true", execute=True), range(500)))
        jobs = list(pool.map(lambda job_id: wait_for_job(stack_admin, job_id, timeout=120), ids))
        events = list(pool.map(lambda i: stack_admin.get(f"/api/jobs/{i}/events").json(), ids))
    assert {job["status"] for job in jobs} == {"COMPLETE"}
    workers = set()
    for history in events:
        starts = [e for e in history["data"] if e["to_status"] == "RUNNING"]
        assert len(starts) == 1, history
        workers.add(starts[0]["detail"])
    # The burst was spread over more than one worker.
    assert len(workers) > 1
