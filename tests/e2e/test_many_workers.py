"""A burst through every app worker: the executor starts each job exactly once."""

from concurrent.futures import ThreadPoolExecutor

import requests

from ..helpers import create_job, wait_for_job


def test_500_jobs_over_all_app_workers_each_start_exactly_once(stack, stack_admin, cfg):
    assert int(cfg["server.processes"]) >= 4
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda _: create_job(stack_admin, "true", execute=True), range(500)))
        jobs = list(pool.map(lambda job_id: wait_for_job(stack_admin, job_id, timeout=120), ids))
        events = list(pool.map(lambda i: stack_admin.get(f"/api/jobs/{i}/events").json(), ids))
    assert {job["status"] for job in jobs} == {"COMPLETE"}
    executors = set()
    for history in events:
        starts = [e for e in history["data"] if e["to_status"] == "RUNNING"]
        assert len(starts) == 1, history
        executors.add(starts[0]["detail"].removeprefix("by "))
    # One executor per host started them all (several claimers: tests/executors/test_queue.py).
    live = requests.get(stack + "/api/sysinfo", timeout=10).json()["data"]["executors"]
    assert len(executors) == 1 and executors <= {executor["id"] for executor in live}
