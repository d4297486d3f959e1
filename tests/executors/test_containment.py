"""Issue 11 section 2: every process of a job ends with the job.

When the script's main process ends, whatever it left is ended (TERM, kill_grace,
KILL) before the job's output is final and its state recorded; the same for a
timeout, a cancel and a disabled user."""

import os
import time
import uuid

import pytest

from ..helpers import create_job, run_job, wait_for_job

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="PID namespaces need root")


def processes_with(marker: str) -> list[int]:
    """Pids of processes whose command line holds ``marker``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def marker() -> str:
    """A number no other process has on its command line (``sleep`` takes it)."""
    return f"9{uuid.uuid4().int % 10**8:08d}"


def test_a_background_child_ends_with_the_job_and_its_late_output_never_comes(api):
    """The issue's input: ``(sleep 6; echo late) & echo done``."""
    job = run_job(api, "(sleep 6; echo late) & echo done")
    assert job["status"] == "COMPLETE"
    assert job["stdout"] == "done\n"
    assert not processes_with("sleep 6")
    # The job is over, and so is its log: nothing more will ever be written.
    log = api.get(f"/api/jobs/{job['id']}/log").json()["data"]
    assert log["text"] == "done\n"


@pytest.mark.parametrize(
    "leaver",
    [
        "sleep {m} &",
        "nohup sleep {m} >/dev/null 2>&1 &",
        "setsid sleep {m} >/dev/null 2>&1 &",
        # A daemon: double fork and setsid, stdio closed, parent gone.
        "setsid sh -c 'sleep {m} </dev/null >/dev/null 2>&1 & exit 0' &",
        "python3 -c 'import os,time\nif os.fork(): os._exit(0)\nos.setsid()\n"
        'if os.fork(): os._exit(0)\nos.execvp("sleep", ["sleep", "{m}"])\'',
    ],
)
def test_nothing_the_script_leaves_outlives_it(api, leaver):
    m = marker()
    job = run_job(api, leaver.format(m=m) + "\necho left")
    assert job["status"] == "COMPLETE", job
    assert job["stdout"] == "left\n"
    assert processes_with(m) == []


def test_a_leftover_that_ignores_term_is_killed_after_the_grace(api, server):
    m = marker()
    grace = server.cfg["jobs"]["kill_grace"]
    server.cfg["jobs"]["kill_grace"] = 1
    try:
        job = run_job(api, f"sh -c \"trap '' TERM; sleep {m}\" & sleep 0.2; echo main done")
    finally:
        server.cfg["jobs"]["kill_grace"] = grace
    assert job["status"] == "COMPLETE"
    assert processes_with(m) == []


def test_a_leftover_gets_term_first_and_may_write_its_last_words(api):
    """TERM, not KILL, first: a leftover's handler runs, and what it writes is in the
    job's final output (the record waits for it)."""
    job = run_job(
        api,
        "sh -c \"trap 'echo bye; exit 0' TERM; touch ready; while :; do sleep 0.05; done\" &\n"
        "while [ ! -e ready ]; do sleep 0.01; done; echo main",
    )
    assert job["stdout"] == "main\nbye\n"


def test_the_job_sees_only_its_own_processes(api):
    job = run_job(api, "echo $$; ls /proc | grep -c '^[0-9]'")
    own_pid, count = job["stdout"].split()
    assert int(own_pid) <= 3
    assert int(count) < 10


def test_a_job_cannot_signal_its_init_away(api):
    """Process 1 of the job's namespace is its init: KILL from inside never reaches
    it (TERM, its one handled signal, ends the job, as a cancel would). ``kill -9
    -1`` ends every other process of the job, and the job goes on."""
    m = marker()
    job = run_job(api, f"kill -9 1; echo after kill; sleep {m} & kill -9 -1; wait; echo alone")
    assert (job["status"], job["stdout"]) == ("COMPLETE", "after kill\nalone\n")
    assert processes_with(m) == []


def test_a_disabled_users_running_job_ends_with_its_record(api, admin_api):
    m = marker()
    job_id = create_job(api, f"echo started; sleep {m}", execute=True)
    wait_for_job(api, job_id, statuses={"RUNNING"})
    deadline = time.monotonic() + 10
    while not processes_with(m) and time.monotonic() < deadline:
        time.sleep(0.02)
    response = admin_api.request("PATCH", f"/api/users/{api.user.id}", json={"disabled": True})
    assert response.status_code == 200
    job = wait_for_job(admin_api, job_id)
    assert (job["status"], job["return_code"], job["stdout"]) == ("CANCELLED", 143, "started\n")
    assert processes_with(m) == []


def test_sysinfo_names_the_containment(api):
    isolation = api.get("/api/sysinfo").json()["data"]["isolation"]
    assert isolation["containment"] == "pid namespace"
    assert isolation["run_as"] == "user account"
