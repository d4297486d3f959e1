"""Timeouts and cancel end a job's whole process tree, detached children included,
and a final state always comes together with its final record."""

import asyncio
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


def job_uids(cfg) -> range:
    """The uids these tests' jobs run as: the in-process tests' accounts (as root),
    or our own. Other stacks' jobs on the host (a user's `make run`) are not ours."""
    if os.geteuid() != 0:
        return range(os.geteuid(), os.geteuid() + 1)
    base = int(cfg["jobs.accounts.uid_base"])
    return range(base, base + 2**24)


def sleepers_alive(uids: range) -> set[str]:
    """Which of DETACHING_SCRIPT's sleeps run as one of ``uids``."""
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
            if os.stat(f"/proc/{pid}").st_uid not in uids:
                continue
        except OSError:
            continue
        if args[:1] == [b"sleep"] and args[1:2] and args[1] in (b"300", b"301", b"302", b"303"):
            found.add(args[1].decode())
    return found


@pytest.fixture
def sleepers(cfg):
    """``sleepers()``: the DETACHING_SCRIPT sleeps of these tests' jobs alive now."""
    return lambda: sleepers_alive(job_uids(cfg))


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def no_stray_sleepers(sleepers):
    assert wait_until(lambda: not sleepers()), "sleepers left over from an earlier test"
    yield
    assert wait_until(lambda: not sleepers()), f"left running: {sleepers()}"


def test_timeout_kills_the_whole_tree_and_ends_timed_out(api, no_stray_sleepers):
    job_id = create_job(api, DETACHING_SCRIPT, timeout=2, execute=True)
    job = wait_for_job(api, job_id, timeout=20)
    assert job["status"] == "TIMED_OUT"
    assert "timeout" in job["status_message"]
    assert job["stdout"] == "started\n"


def test_a_script_that_ends_in_time_is_complete_whatever_its_leftovers_do(api, server):
    """Trial input: the script ended before its timeout; a leftover that ignores TERM
    lived on through the kill grace, past the deadline. The job is COMPLETE with
    its exit code, not TIMED_OUT (Slurm: a job's state is its script's)."""
    code = "sh -c \"trap '' TERM; sleep 100\" & sleep 0.3; echo main-done"
    job_id = create_job(api, code, timeout=2, execute=True)
    job = wait_for_job(api, job_id, timeout=30)
    assert (job["status"], job["return_code"], job["stdout"]) == ("COMPLETE", 0, "main-done\n")


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


def test_cancel_running_job_kills_the_tree_within_two_seconds(api, no_stray_sleepers, sleepers):
    job_id = create_job(api, DETACHING_SCRIPT, execute=True)
    wait_for_job(api, job_id, statuses={"RUNNING"})
    assert wait_until(lambda: sleepers() == {"300", "301", "302", "303"})
    response = api.post(f"/api/jobs/{job_id}/cancel")
    assert response.status_code == 200
    # Answered at once: still RUNNING until every process has ended.
    assert response.json()["data"]["status"] == "RUNNING"
    job = wait_for_job(api, job_id)
    assert not sleepers()
    assert job["status"] == "CANCELLED"
    # Its final record comes with the state: the shell's TERM, the output so far.
    assert (job["return_code"], job["stdout"]) == (143, "started\n")
    assert job["finished_at"] is not None


def test_a_cancelled_job_is_never_seen_cancelled_without_its_record(api):
    """Issue 11 section 6: read the job as fast as possible after the cancel; every
    answer is RUNNING, or CANCELLED with return code, output and finished_at."""
    job_id = create_job(api, "echo out; echo err >&2; sleep 30", execute=True)
    wait_for_job(api, job_id, statuses={"RUNNING"})
    assert wait_until(lambda: api.get(f"/api/jobs/{job_id}/log").json()["data"]["text"])
    assert api.post(f"/api/jobs/{job_id}/cancel").status_code == 200
    seen = []
    while not seen or seen[-1]["status"] == "RUNNING":
        seen.append(api.get(f"/api/jobs/{job_id}").json()["data"])
    final = seen[-1]
    assert final["status"] == "CANCELLED"
    assert (final["return_code"], final["stdout"], final["stderr"]) == (143, "out\n", "err\n")
    assert final["finished_at"] is not None
    assert final["cancel_requested_at"] is not None


def test_wait_answers_a_cancel_with_the_final_record(api):
    job_id = create_job(api, "echo hi; sleep 30", execute=True)
    wait_for_job(api, job_id, statuses={"RUNNING"})
    assert wait_until(lambda: api.get(f"/api/jobs/{job_id}/log").json()["data"]["text"])
    api.post(f"/api/jobs/{job_id}/cancel")
    job = api.get(f"/api/jobs/{job_id}", params={"wait": 30}).json()["data"]
    assert (job["status"], job["return_code"], job["stdout"]) == ("CANCELLED", 143, "hi\n")


def test_a_second_cancel_of_a_running_job_is_harmless(api):
    job_id = create_job(api, "sleep 30", execute=True)
    wait_for_job(api, job_id, statuses={"RUNNING"})
    assert api.post(f"/api/jobs/{job_id}/cancel").status_code == 200
    second = api.post(f"/api/jobs/{job_id}/cancel")
    assert second.status_code in (200, 409)
    assert wait_for_job(api, job_id)["status"] == "CANCELLED"
    events = api.get(f"/api/jobs/{job_id}/events").json()["data"]
    assert [e["detail"] for e in events].count("cancel requested") == 1


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
    # A job queued after it runs: once it has, the cancelled one was passed over.
    assert wait_for_job(api, create_job(api, "true", execute=True))["status"] == "COMPLETE"
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
    wait_for_job(api, job_id)
    events = api.get(f"/api/jobs/{job_id}/events").json()["data"]
    assert [(e["from_status"], e["to_status"]) for e in events] == [
        (None, "READY"),
        ("READY", "QUEUED"),
        ("QUEUED", "RUNNING"),
        ("RUNNING", "RUNNING"),
        ("RUNNING", "CANCELLED"),
    ]
    assert events[-2]["actor_id"] == api.user.id
    assert events[-2]["detail"] == "cancel requested"


def test_a_cancel_while_the_job_is_being_started_still_ends_it(
    api, server, monkeypatch, no_stray_sleepers, sleepers
):
    """The cancel lands after the claim and before the job's init exists: it finds
    nothing to end, so the executor ends the job once its init is there (it hears
    of the cancel by NOTIFY)."""
    executor = server.executor
    launch = executor.launcher.launch
    cancelled = set()

    async def cancel_then_launch(request):
        response = await asyncio.to_thread(api.post, f"/api/jobs/{request['id']}/cancel")
        assert response.status_code == 200
        # Until the executor has heard of it (the NOTIFY), the launch waits.
        while not executor.watching[request["id"]].cancel_requested:
            await asyncio.sleep(0.01)
        cancelled.add(request["id"])
        return await launch(request)

    monkeypatch.setattr(executor.launcher, "launch", cancel_then_launch)
    job_id = create_job(api, DETACHING_SCRIPT, execute=True)
    assert wait_until(lambda: job_id in cancelled, timeout=10)
    monkeypatch.setattr(executor.launcher, "launch", launch)
    # A cancel lost in the launch would leave the job running its `sleep 303` to the end.
    job = wait_for_job(api, job_id, timeout=15)
    assert job["status"] == "CANCELLED"
    assert not sleepers()
