"""GET /api/sysinfo and GET /metrics: what an operator watches."""

import re
import time

from sqlalchemy import text

from shell_service.job_states import JobStatus

from ..helpers import create_job, run_job, wait_for_job, wait_until


def sysinfo(client):
    return client.get("/api/sysinfo").json()["data"]


def test_sysinfo_lists_live_executors_and_capacity(anon_api, server):
    deadline = time.monotonic() + 15
    while not sysinfo(anon_api)["executors"]:
        assert time.monotonic() < deadline, "no executor heartbeat"
        time.sleep(0.2)
    data = sysinfo(anon_api)
    assert server.executor.executor_name in {e["id"] for e in data["executors"]}
    capacity = data["capacity"]
    assert capacity["max_running"] == server.cfg["jobs"]["max_running"]
    assert capacity["memory_budget_mb"] == server.executor.setup.memory_budget_mb
    assert set(data["jobs_by_status"]) == {status.value for status in JobStatus}
    assert all(isinstance(n, int) and n >= 0 for n in data["jobs_by_status"].values())


def test_sysinfo_keeps_workers_as_an_alias_of_executors(anon_api, server):
    """Old clients read ``workers``: the same list as ``executors``, for now."""
    wait_until(lambda: sysinfo(anon_api)["executors"], "an executor heartbeat")
    data = sysinfo(anon_api)
    assert data["executors"] and data["workers"] == data["executors"]


def test_sysinfo_counts_running_jobs_and_their_memory(api):
    before = sysinfo(api)["capacity"]
    job_id = create_job(api, "sleep 30", memory_mb=300, execute=True)
    wait_for_job(api, job_id, statuses={"RUNNING"})
    during = sysinfo(api)["capacity"]
    assert during["running"] >= 1
    assert during["running_memory_mb"] >= before["running_memory_mb"] + 300 - 1024
    assert during["running_memory_mb"] >= 300
    api.post(f"/api/jobs/{job_id}/cancel")


def metric_value(text: str, name: str, labels: str = "") -> float:
    pattern = rf"^{re.escape(name)}{re.escape(labels)} ([0-9.e+]+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def unfinished_jobs(session_factory) -> list:
    with session_factory() as session:
        return session.execute(
            text("SELECT id, status FROM jobs WHERE status IN ('QUEUED', 'RUNNING')")
        ).all()


def test_metrics_count_outcomes_waits_and_run_times(anon_api, api, session_factory):
    # Counted from a quiet moment: earlier tests' jobs have ended, so the counts
    # move by this test's jobs alone.
    wait_until(lambda: not unfinished_jobs(session_factory), "earlier tests' jobs ended")
    before = anon_api.get("/metrics").text
    run_job(api, "true")
    run_job(api, "exit 1")
    timed_out = create_job(api, "sleep 30", timeout=1, execute=True)
    wait_for_job(api, timed_out, timeout=20)
    response = anon_api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    after = response.text
    # Exactly these three jobs ended so.
    for status in ("COMPLETE", "FAILED", "TIMED_OUT"):
        name, labels = "shell_service_jobs_finished_total", f'{{queue="default",status="{status}"}}'
        assert metric_value(after, name, labels) == metric_value(before, name, labels) + 1, status
    name, labels = "shell_service_job_limit_kills_total", '{limit="timeout",queue="default"}'
    assert metric_value(after, name, labels) == metric_value(before, name, labels) + 1
    for histogram in ("shell_service_job_queue_wait_seconds", "shell_service_job_run_seconds"):
        assert (
            metric_value(after, f"{histogram}_count", '{queue="default"}')
            >= metric_value(before, f"{histogram}_count", '{queue="default"}') + 3
        )
    assert re.search(r'^shell_service_jobs\{status="COMPLETE"\} [0-9.]+$', after, re.MULTILINE)
