"""Timeouts and cancel end a job's whole process tree, detached children included."""

import os
import time

import pytest

from ..helpers import create_job, wait_for_job

# Children that try to outlive the job: in the background, nohup'ed, in a new session.
DETACHING_SCRIPT = """
sleep 300 &
nohup sleep 301 >/dev/null 2>&1 &
setsid sleep 302 >/dev/null 2>&1 &
echo started
sleep 303
"""


def sleepers_alive() -> set[str]:
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if args[:1] == [b"sleep"] and args[1:2] and args[1] in (b"300", b"301", b"302", b"303"):
            found.add(args[1].decode())
    return found


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def no_stray_sleepers():
    assert wait_until(lambda: not sleepers_alive()), "sleepers left over from an earlier test"
    yield
    assert wait_until(lambda: not sleepers_alive()), f"left running: {sleepers_alive()}"


@pytest.mark.skipif(
    os.geteuid() != 0,
    reason="detached children are reached through the per-job uid, which needs root",
)
def test_timeout_kills_the_whole_tree_and_ends_timed_out(api, no_stray_sleepers):
    job_id = create_job(api, DETACHING_SCRIPT, timeout=2, execute=True)
    job = wait_for_job(api, job_id, timeout=20)
    assert job["status"] == "TIMED_OUT"
    assert "timeout" in job["status_message"]
    assert job["stdout"] == "started\n"


def test_timeout_ends_a_plain_job(api):
    job = wait_for_job(api, create_job(api, "sleep 60", timeout=1, execute=True), timeout=20)
    assert job["status"] == "TIMED_OUT"


def test_job_ignoring_term_is_killed_after_the_grace_period(api, server):
    grace = server.cfg["jobs"]["kill_grace"]
    server.cfg["jobs"]["kill_grace"] = 1
    try:
        job_id = create_job(api, "trap '' TERM; sleep 60", timeout=1, execute=True)
        job = wait_for_job(api, job_id, timeout=20)
    finally:
        server.cfg["jobs"]["kill_grace"] = grace
    assert job["status"] == "TIMED_OUT"


@pytest.mark.skipif(
    os.geteuid() != 0,
    reason="detached children are reached through the per-job uid, which needs root",
)
def test_cancel_running_job_kills_the_tree_within_two_seconds(api, no_stray_sleepers):
    job_id = create_job(api, DETACHING_SCRIPT, execute=True)
    wait_for_job(api, job_id, statuses={"RUNNING"})
    assert wait_until(lambda: sleepers_alive() == {"300", "301", "302", "303"})
    started = time.monotonic()
    response = api.post(f"/api/jobs/{job_id}/cancel")
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "CANCELLED"
    assert wait_until(lambda: not sleepers_alive(), timeout=2.5)
    assert time.monotonic() - started < 2.5
    job = wait_for_job(api, job_id)
    assert job["status"] == "CANCELLED"
    # Its output so far is kept once the processes are gone.
    assert wait_until(
        lambda: api.get(f"/api/jobs/{job_id}").json()["data"]["stdout"] == "started\n"
    )


def test_cancel_ready_and_queued_jobs(api, server, paused_executor):
    ready = create_job(api, "echo never")
    assert api.post(f"/api/jobs/{ready}/cancel").json()["data"]["status"] == "CANCELLED"
    assert api.get(f"/api/jobs/{ready}").json()["data"]["status"] == "CANCELLED"
    assert api.post(f"/api/jobs/{ready}/execute").status_code == 409

    # The executor is paused: the job stays QUEUED.
    queued = create_job(api, "echo never", execute=True)
    assert api.get(f"/api/jobs/{queued}").json()["data"]["status"] == "QUEUED"
    assert api.post(f"/api/jobs/{queued}/cancel").status_code == 200
    server.cfg["jobs"]["max_running"] = 64  # resume: the cancelled job must still not start
    server.executor.wake()
    time.sleep(0.5)
    job = api.get(f"/api/jobs/{queued}").json()["data"]
    assert job["status"] == "CANCELLED"
    assert job["started_at"] is None


def test_cancel_a_finished_job_is_a_409(api):
    job_id = create_job(api, "true", execute=True)
    wait_for_job(api, job_id)
    response = api.post(f"/api/jobs/{job_id}/cancel")
    assert response.status_code == 409
    assert response.json()["status"] == "error"


def test_cannot_cancel_someone_elses_job(api, admin_api):
    job_id = create_job(admin_api, "sleep 5", execute=True)
    assert api.post(f"/api/jobs/{job_id}/cancel").status_code == 404
    assert admin_api.post(f"/api/jobs/{job_id}/cancel").status_code == 200


def test_events_record_every_transition(api):
    job_id = create_job(api, "sleep 30", execute=True)
    wait_for_job(api, job_id, statuses={"RUNNING"})
    api.post(f"/api/jobs/{job_id}/cancel")
    events = api.get(f"/api/jobs/{job_id}/events").json()["data"]
    assert [(e["from_status"], e["to_status"]) for e in events] == [
        (None, "READY"),
        ("READY", "QUEUED"),
        ("QUEUED", "RUNNING"),
        ("RUNNING", "CANCELLED"),
    ]
    assert events[-1]["actor_id"] == api.user.id


@pytest.mark.skipif(
    os.geteuid() != 0,
    reason="detached children are reached through the per-job uid, which needs root",
)
def test_a_cancel_while_the_job_is_being_started_still_ends_it(
    api, server, monkeypatch, no_stray_sleepers
):
    """The cancel lands after the claim and before the wrapper runs: it finds no
    process to signal, so the worker starting the job ends it (it hears of the
    cancel by NOTIFY)."""
    executor = server.executor
    start = executor._prepare_and_start

    cancelled = set()

    def cancel_then_start(running, job, limits):
        # On the executor's thread, while the event loop is free to serve the cancel.
        assert api.post(f"/api/jobs/{job.id}/cancel").status_code == 200
        cancelled.add(job.id)
        time.sleep(0.2)  # the NOTIFY has reached the listener by now (or soon will)
        return start(running, job, limits)

    monkeypatch.setattr(executor, "_prepare_and_start", cancel_then_start)
    job_id = create_job(api, DETACHING_SCRIPT, execute=True)
    # (Waiting for the claim itself: the job is not running before it.)
    assert wait_until(lambda: job_id in cancelled, timeout=10)
    monkeypatch.setattr(executor, "_prepare_and_start", start)
    # Without the fix the job would run its `sleep 303` to the end.
    assert wait_until(lambda: job_id not in executor.watching, timeout=10)
    assert wait_until(lambda: not sleepers_alive(), timeout=10)
    assert api.get(f"/api/jobs/{job_id}").json()["data"]["status"] == "CANCELLED"
