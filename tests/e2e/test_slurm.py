"""Jobs of a Slurm queue, through the API, on the test stack's own Slurm cluster
(tests/config.test.yaml: the queues ``slurm`` and ``slurmheld``, whose jobs
sbatch holds pending). A job there behaves as a local one: output, exit code,
stdin, args, env, cancel (queued here, pending in Slurm, running), timeout,
memory; its Slurm job id, node and pending reason show in the API."""

import os
import signal
import subprocess
import time

import pytest

from ..helpers import create_job as create_ready_job
from ..helpers import wait_for_job, wait_until

QUEUE = "slurm"
HELD = "slurmheld"


def create_job(client, code: str, **fields) -> str:
    """A job queued at once (``execute: true``)."""
    return create_ready_job(client, code, execute=True, **fields)


def job_of(client, job_id: str) -> dict:
    return client.get(f"/api/jobs/{job_id}").json()["data"]


def events_of(client, job_id: str) -> list[dict]:
    return client.get(f"/api/jobs/{job_id}/events").json()["data"]


def test_a_job_completes_on_slurm_with_its_output_args_env_and_stdin(stack_user):
    job_id = create_job(
        stack_user,
        'echo "out $1 $2"; cat; echo "FOO=$FOO"; id -u; echo err >&2',
        queue=QUEUE,
        args=["a b", "c"],
        env={"FOO": "bar baz"},
        stdin="from stdin\n",
    )
    job = wait_for_job(stack_user, job_id, timeout=60)
    assert job["status"] == "COMPLETE", job
    assert job["return_code"] == 0
    lines = job["stdout"].splitlines()
    assert lines[:3] == ["out a b c", "from stdin", "FOO=bar baz"]
    assert int(lines[3]) != 0  # the job's user, never root
    assert job["stderr"] == "err\n"
    assert isinstance(job["slurm_job_id"], int) and job["slurm_job_id"] > 0
    assert job["slurm_node"]
    assert job["started_at"] and job["finished_at"]
    details = [e["detail"] or "" for e in events_of(stack_user, job_id)]
    assert any(d.startswith(f"submitted to Slurm as job {job['slurm_job_id']}") for d in details)
    assert any(d.startswith(f"running on {job['slurm_node']}") for d in details)
    statuses = [(e["from_status"], e["to_status"]) for e in events_of(stack_user, job_id)]
    assert ("QUEUED", "RUNNING") in statuses and statuses[-1] == ("RUNNING", "COMPLETE")


def test_a_failing_job_fails_with_its_exit_code(stack_user):
    job_id = create_job(stack_user, "echo before; exit 7", queue=QUEUE)
    job = wait_for_job(stack_user, job_id, timeout=60)
    assert (job["status"], job["return_code"], job["stdout"]) == ("FAILED", 7, "before\n")


def test_the_job_gets_its_env_only_nothing_of_the_service_or_slurm(stack_user):
    job_id = create_job(stack_user, "env", queue=QUEUE, env={"MINE": "1"})
    job = wait_for_job(stack_user, job_id, timeout=60)
    names = {line.split("=", 1)[0] for line in job["stdout"].splitlines() if "=" in line}
    assert "MINE" in names
    leaked = {n for n in names if n.startswith(("SLURM", "BASELAYER", "PROMETHEUS"))}
    assert not leaked, leaked
    assert "SLURM_CONF" not in job["stdout"]


def test_a_slurm_job_sees_and_signals_only_its_own_processes(stack_user):
    local = create_job(stack_user, "sleep 30", queue="default")
    other = create_job(stack_user, "sleep 31", queue=QUEUE)
    for job_id in (local, other):
        wait_until(lambda j=job_id: job_of(stack_user, j)["status"] == "RUNNING", "RUNNING", 60)
    code = (
        "echo pid=$$; ls /proc | grep -c '^[0-9]'; ps -e -o comm= | sort | tr '\\n' ' '; echo;"
        " pkill -9 -x sleep; echo killed=$?"
    )
    probe = create_job(stack_user, code, queue=QUEUE)
    job = wait_for_job(stack_user, probe, timeout=60)
    lines = job["stdout"].splitlines()
    # Process 1 of its namespace is its init; it sees a handful of its own processes.
    assert lines[0] == "pid=2", job["stdout"]
    assert int(lines[1]) < 8, job["stdout"]
    assert "slurmctld" not in lines[2] and "postgres" not in lines[2]
    assert lines[3] == "killed=1"  # no sleep of its own to kill; the others unseen
    for job_id in (local, other):
        assert job_of(stack_user, job_id)["status"] == "RUNNING"
        stack_user.post(f"/api/jobs/{job_id}/cancel")
        assert wait_for_job(stack_user, job_id, timeout=60)["status"] == "CANCELLED"


def test_a_held_job_shows_slurms_reason_and_is_cancelled_while_pending(stack_user):
    job_id = create_job(stack_user, "echo never", queue=HELD)

    def pending():
        job = job_of(stack_user, job_id)
        return job["slurm_job_id"] and (job["status_message"] or "").startswith(
            "pending in Slurm: "
        )

    wait_until(pending, "the job pending in Slurm", timeout=60)
    job = job_of(stack_user, job_id)
    assert job["status"] == "QUEUED"
    assert job["status_message"] == "pending in Slurm: JobHeldUser", job["status_message"]
    answer = stack_user.post(f"/api/jobs/{job_id}/cancel").json()["data"]
    assert answer["status"] == "QUEUED"  # asked of its executor: Slurm has it
    job = wait_for_job(stack_user, job_id, timeout=60)
    assert job["status"] == "CANCELLED"
    assert job["stdout"] in (None, "")


def test_a_job_still_queued_here_is_cancelled_at_once(stack_user):
    # slurmheld lets a user hand Slurm 3 jobs at once: the 4th waits here, unheld.
    held = [create_job(stack_user, "true", queue=HELD) for _ in range(3)]
    for job_id in held:
        wait_until(lambda j=job_id: job_of(stack_user, j)["slurm_job_id"], "submitted", 60)
    waiting = create_job(stack_user, "true", queue=HELD)
    time.sleep(1)  # a few claims: none may take it
    job = job_of(stack_user, waiting)
    assert (job["status"], job["slurm_job_id"]) == ("QUEUED", None)
    answer = stack_user.post(f"/api/jobs/{waiting}/cancel").json()["data"]
    assert answer["status"] == "CANCELLED"  # at once: Slurm never had it
    for job_id in held:
        stack_user.post(f"/api/jobs/{job_id}/cancel")
    for job_id in held:
        assert wait_for_job(stack_user, job_id, timeout=60)["status"] == "CANCELLED"


def test_another_user_cannot_see_cancel_or_read_a_slurm_job_and_a_rerun_runs_again(
    stack_user, stack_admin
):
    job_id = create_job(stack_user, "echo mine", queue=QUEUE)
    assert wait_for_job(stack_user, job_id, timeout=60)["stdout"] == "mine\n"
    username = f"other_{time.time_ns()}"
    other_user = stack_admin.post("/api/users", json={"username": username}).json()["data"]
    token = stack_admin.post("/api/tokens", json={"name": "o", "user_id": other_user["id"]})
    from ..conftest import Client

    other = Client(stack_user.base_url, token.json()["data"]["token"])
    for method, path in [
        ("get", f"/api/jobs/{job_id}"),
        ("get", f"/api/jobs/{job_id}/log"),
        ("get", f"/api/jobs/{job_id}/events"),
        ("post", f"/api/jobs/{job_id}/cancel"),
        ("post", f"/api/jobs/{job_id}/rerun"),
    ]:
        assert getattr(other, method)(path).status_code == 404, path
    rerun = stack_user.post(f"/api/jobs/{job_id}/rerun").json()["data"]["id"]
    job = wait_for_job(stack_user, rerun, timeout=60)
    assert (job["queue"], job["status"], job["stdout"]) == (QUEUE, "COMPLETE", "mine\n")
    assert job["slurm_job_id"] != job_of(stack_user, job_id)["slurm_job_id"]


def test_slurm_gets_the_jobs_cpus_memory_and_time_limit(cfg, stack_user):
    from shell_service.slurm_cluster import client_command, client_environment

    job_id = create_job(stack_user, "sleep 30", queue=QUEUE, cpus=2, memory_mb=300, timeout=61)
    wait_until(lambda: job_of(stack_user, job_id)["status"] == "RUNNING", "RUNNING", 60)
    slurm_job_id = job_of(stack_user, job_id)["slurm_job_id"]
    shown = subprocess.run(
        [client_command(cfg, "scontrol"), "-o", "show", "job", str(slurm_job_id)],
        env=client_environment(cfg),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    fields = dict(word.split("=", 1) for word in shown.split() if "=" in word)
    assert fields["JobName"] == job_id
    assert fields["NumCPUs"] == "2"
    assert fields["MinMemoryNode"] == "300M"
    assert fields["TimeLimit"] == "00:03:00"  # 61 s: 2 minutes, and one as the backstop
    assert fields["Requeue"] == "0"
    stack_user.post(f"/api/jobs/{job_id}/cancel")
    assert wait_for_job(stack_user, job_id, timeout=60)["status"] == "CANCELLED"


def test_a_running_job_is_cancelled_with_its_output(stack_user):
    job_id = create_job(stack_user, "echo started; sleep 60; echo never", queue=QUEUE)
    # Its live log is read from its directory on the shared filesystem; its state
    # follows Slurm's at the next poll.
    wait_until(
        lambda: "started" in stack_user.get(f"/api/jobs/{job_id}/log").json()["data"]["text"],
        "the job's first line in its live log",
        timeout=60,
    )
    wait_until(lambda: job_of(stack_user, job_id)["status"] == "RUNNING", "RUNNING", timeout=10)
    stack_user.post(f"/api/jobs/{job_id}/cancel")
    job = wait_for_job(stack_user, job_id, timeout=60)
    assert job["status"] == "CANCELLED"
    assert job["stdout"] == "started\n"


def test_a_job_cancelled_in_slurm_by_someone_else_ends_cancelled_saying_so(cfg, stack_user):
    from shell_service.slurm_cluster import client_command, client_environment

    job_id = create_job(stack_user, "echo started; sleep 60", queue=QUEUE)
    wait_until(lambda: job_of(stack_user, job_id)["status"] == "RUNNING", "RUNNING", 60)
    slurm_job_id = job_of(stack_user, job_id)["slurm_job_id"]
    subprocess.run(
        [client_command(cfg, "scancel"), str(slurm_job_id)],
        env=client_environment(cfg),
        check=True,
        timeout=30,
    )
    job = wait_for_job(stack_user, job_id, timeout=60)
    assert job["status"] == "CANCELLED"
    # Who did, where the cluster keeps accounting (sacct); the test cluster has none.
    assert job["status_message"].startswith("cancelled in Slurm")
    assert job["status_message"].endswith("not through this service")


def test_the_services_own_timeout_ends_a_slurm_job(stack_user):
    job_id = create_job(stack_user, "echo go; sleep 120", queue=QUEUE, timeout=2)
    job = wait_for_job(stack_user, job_id, timeout=60)
    assert job["status"] == "TIMED_OUT", job
    assert job["stdout"] == "go\n"
    started = job["started_at"]
    assert started


def test_slurm_kills_a_job_over_its_memory(stack_user):
    # Within its address-space rlimit (4 x memory_mb), over its memory in RSS:
    # Slurm's memory enforcement kills it.
    code = (
        "python3 -c 'import time; b = bytearray(200 * 2**20); "
        "[b.__setitem__(i, 1) for i in range(0, len(b), 4096)]; time.sleep(30)'"
    )
    job_id = create_job(stack_user, code, queue=QUEUE, memory_mb=64)
    job = wait_for_job(stack_user, job_id, timeout=90)
    assert job["status"] == "FAILED", job
    assert "out of memory" in job["status_message"]


def test_fifty_jobs_at_once_all_complete(stack_user):
    ids = [create_job(stack_user, f"echo {i}", queue=QUEUE) for i in range(50)]
    for i, job_id in enumerate(ids):
        job = wait_for_job(stack_user, job_id, timeout=180)
        assert (job["status"], job["stdout"]) == ("COMPLETE", f"{i}\n"), job
    slurm_ids = {job_of(stack_user, job_id)["slurm_job_id"] for job_id in ids}
    assert len(slurm_ids) == 50


def test_a_job_no_node_of_the_partition_could_hold_is_refused_at_once(stack_user):
    def published():
        info = stack_user.get("/api/sysinfo").json()["data"]
        return any("/slurm:" in e["id"] for e in info["executors"])

    wait_until(published, "the Slurm executor published", 30)
    # The test cluster's one node has 8192 MiB (tests/config.test.yaml), its queue's
    # maximum is 16384: a job between the two fits the queue but no node.
    response = stack_user.post(
        "/api/jobs", json={"code": "true", "queue": QUEUE, "memory_mb": 10000}
    )
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert "memory_mb: must be at most 8192: no node of Slurm queue slurm's partition" in message
    assert create_job(stack_user, "true", queue=QUEUE, memory_mb=8192)
    # PATCH is judged the same way.
    job_id = create_ready_job(stack_user, "true", queue="default")
    patched = stack_user.request(
        "PATCH", f"/api/jobs/{job_id}", json={"queue": QUEUE, "memory_mb": 10000}
    )
    assert patched.status_code == 400, patched.text


@pytest.mark.parametrize("field", ["timeout", "memory_mb", "cpus"])
def test_a_slurm_queues_maxima_hold(stack_user, field):
    too_much = {"timeout": 10**7, "memory_mb": 10**7, "cpus": 10**4}[field]
    response = stack_user.post("/api/jobs", json={"code": "true", "queue": QUEUE, field: too_much})
    assert response.status_code == 400
    assert field in response.json()["message"]


# ---- restarts -----------------------------------------------------------------


def squeue_ids(cfg) -> set[int]:
    """The Slurm job ids the test cluster lists (every state)."""
    from shell_service.slurm_cluster import client_command, client_environment

    out = subprocess.run(
        [client_command(cfg, "squeue"), "--noheader", "--states=all", "--format=%i"],
        env=client_environment(cfg),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    return {int(line) for line in out.split() if line.isdigit()}


def test_the_executor_killed_with_jobs_pending_and_running_adopts_them(stack_user, supervisorctl):
    held = create_job(stack_user, "echo held", queue=HELD)
    running = create_job(stack_user, "sleep 4; echo done", queue=QUEUE)
    wait_until(lambda: job_of(stack_user, running)["status"] == "RUNNING", "RUNNING", 60)
    wait_until(lambda: job_of(stack_user, held)["slurm_job_id"], "held submitted", 60)
    pid = int(supervisorctl("pid", "slurm_executor").stdout)
    os.kill(pid, signal.SIGKILL)
    # supervisor starts it again; the new one adopts both from their Slurm ids.
    job = wait_for_job(stack_user, running, timeout=90)
    assert (job["status"], job["stdout"]) == ("COMPLETE", "done\n")
    new_pid = int(supervisorctl("pid", "slurm_executor").stdout)
    assert new_pid != pid
    assert any("adopted by" in (e["detail"] or "") for e in events_of(stack_user, running))
    assert job_of(stack_user, held)["status"] == "QUEUED"
    stack_user.post(f"/api/jobs/{held}/cancel")
    assert wait_for_job(stack_user, held, timeout=60)["status"] == "CANCELLED"


def test_a_job_that_ended_while_the_executor_was_down_and_slurm_forgot_it(
    cfg, stack_user, supervisorctl
):
    job_id = create_job(stack_user, "sleep 1; echo finished; exit 3", queue=QUEUE)
    wait_until(lambda: job_of(stack_user, job_id)["slurm_job_id"], "submitted", 60)
    slurm_job_id = job_of(stack_user, job_id)["slurm_job_id"]
    assert supervisorctl("stop", "slurm_executor").returncode == 0
    try:
        # MinJobAge (the test cluster's: 10 s): Slurm forgets the job after it ends.
        wait_until(lambda: slurm_job_id not in squeue_ids(cfg), "Slurm forgets it", 90, 1)
        assert job_of(stack_user, job_id)["status"] in ("QUEUED", "RUNNING")
    finally:
        assert supervisorctl("start", "slurm_executor").returncode == 0
    job = wait_for_job(stack_user, job_id, timeout=60)
    assert (job["status"], job["return_code"], job["stdout"]) == ("FAILED", 3, "finished\n")


# ---- the cluster's daemons stopped, killed, lost ------------------------------------
# The test cluster's daemons are the test stack's supervised programs (slurmctld,
# slurmd: services/slurm_cluster/).


def test_slurmctld_down_for_15_s_changes_nothing_and_jobs_end_after(stack_user, supervisorctl):
    running = create_job(stack_user, "sleep 3; echo ran", queue=QUEUE)
    wait_until(lambda: job_of(stack_user, running)["status"] == "RUNNING", "RUNNING", 60)
    assert supervisorctl("stop", "slurmctld").returncode == 0
    try:
        # Submitted while the controller is away: it waits, QUEUED, and says why.
        waiting = create_job(stack_user, "echo later", queue=QUEUE)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            # Failed polls change nothing: the running job stays RUNNING.
            assert job_of(stack_user, running)["status"] == "RUNNING"
            assert job_of(stack_user, waiting)["status"] == "QUEUED"
            time.sleep(0.5)
        message = job_of(stack_user, waiting)["status_message"] or ""
        assert message.startswith("waiting for Slurm") or message == "submitting to Slurm"
    finally:
        assert supervisorctl("start", "slurmctld").returncode == 0
    job = wait_for_job(stack_user, running, timeout=90)
    assert (job["status"], job["stdout"]) == ("COMPLETE", "ran\n")
    job = wait_for_job(stack_user, waiting, timeout=90)
    assert (job["status"], job["stdout"]) == ("COMPLETE", "later\n")


def test_slurmctld_killed_right_after_a_submit_loses_no_job(stack_user, supervisorctl):
    first = create_job(stack_user, "echo first", queue=QUEUE)
    wait_until(lambda: job_of(stack_user, first)["slurm_job_id"], "submitted", 60, 0.01)
    os.kill(int(supervisorctl("pid", "slurmctld").stdout), signal.SIGKILL)
    # Restarted by supervisor: it may have lost the first job and give its id to
    # the next one. Each job still ends once, with its own output.
    second = create_job(stack_user, "echo second", queue=QUEUE)
    for job_id, text in ((first, "first\n"), (second, "second\n")):
        job = wait_for_job(stack_user, job_id, timeout=120)
        assert (job["status"], job["stdout"]) == ("COMPLETE", text), job


def job_init_of(job_dir: str) -> int | None:
    """The pid of the job init whose descriptor 3 is ``job_dir`` (its job's)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{pid}/fd/3") == job_dir:
                return int(pid)
        except OSError:
            continue
    return None


def descendants(pid: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rpartition(")")[2].split()[1])
            except OSError:
                continue
            if ppid == pid:
                children += [int(entry), *descendants(int(entry))]
    return children


@pytest.mark.parametrize("requeue", [False, True])
def test_a_lost_node_ends_its_job_server_error_or_queues_it_again(
    cfg, stack_user, supervisorctl, requeue
):
    from shell_service.job_paths import slurm_jobs_dirs
    from shell_service.slurm_cluster import client_command, client_environment

    # Its first run waits (and is lost with the node); a second one ends at once.
    marker = f"$HOME/ran-{time.time_ns()}"
    code = f"if [ -e {marker} ]; then echo again; exit 0; fi; touch {marker}; echo up; sleep 300"
    job_id = create_job(stack_user, code, queue=QUEUE, requeue_on_host_loss=requeue)
    wait_until(lambda: job_of(stack_user, job_id)["status"] == "RUNNING", "RUNNING", 60)
    node = job_of(stack_user, job_id)["slurm_node"]
    job_dir = str(slurm_jobs_dirs(cfg)[QUEUE] / job_id)
    init = wait_until(lambda: job_init_of(job_dir), "the job's init", 30)
    # The node goes away: its slurmd stops, and the job's processes die with it.
    assert supervisorctl("stop", "slurmd").returncode == 0
    try:
        # Up from the init (process 1 of the job's namespace) through the process
        # Slurm started (its waiter) to slurmstepd.
        stepd = init
        while True:
            with open(f"/proc/{stepd}/stat") as f:
                stepd = int(f.read().rpartition(")")[2].split()[1])
            with open(f"/proc/{stepd}/comm") as f:
                if f.read().startswith("slurmstepd"):
                    break
        waiter_and_stepd = [stepd, *descendants(stepd)]
        for pid in waiter_and_stepd:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if requeue:
            wait_until(
                lambda: job_of(stack_user, job_id)["status"] == "QUEUED", "queued again", 120
            )
        else:
            job = wait_for_job(stack_user, job_id, timeout=120)
            assert job["status"] == "SERVER_ERROR", job
            assert job["status_message"] == f"node lost: node {node} failed (Slurm NODE_FAIL)"
            assert job["stdout"] == "up\n"
    finally:
        assert supervisorctl("start", "slurmd").returncode == 0
        subprocess.run(
            [client_command(cfg, "scontrol"), "update", f"nodename={node}", "state=resume"],
            env=client_environment(cfg),
            capture_output=True,
            timeout=30,
        )
    if requeue:  # the node is back: it runs again, from the start
        job = wait_for_job(stack_user, job_id, timeout=120)
        assert (job["status"], job["stdout"]) == ("COMPLETE", "again\n"), job
        details = [e["detail"] or "" for e in events_of(stack_user, job_id)]
        assert f"host {node} (Slurm node) lost; queued again" in details
    # The node is back: the next job runs.
    again = create_job(stack_user, "echo back", queue=QUEUE)
    assert wait_for_job(stack_user, again, timeout=120)["status"] == "COMPLETE"


def test_a_job_sees_no_other_users_slurm_jobs(cfg, stack_admin, stack_user):
    from shell_service.slurm_cluster import client_command, client_environment

    other = create_job(stack_admin, "sleep 20", queue=QUEUE)
    wait_until(lambda: job_of(stack_admin, other)["status"] == "RUNNING", "RUNNING", 60)
    squeue = client_command(cfg, "squeue")
    conf = client_environment(cfg).get("SLURM_CONF", "")
    code = f"SLURM_CONF={conf} timeout 10 {squeue} --noheader --states=all --format=%j; echo rc=$?"
    job = wait_for_job(stack_user, create_job(stack_user, code, queue=QUEUE), timeout=60)
    assert other not in job["stdout"]
    stack_admin.post(f"/api/jobs/{other}/cancel")
    wait_for_job(stack_admin, other, timeout=60)


def test_a_job_whose_slurm_id_was_never_recorded_is_found_by_its_name(stack_user, supervisorctl):
    """The executor died between sbatch's answer and recording it: the next one finds
    the job in Slurm by its name (the job's id), and does not submit it twice."""
    from baselayer.app.config import load_config
    from baselayer.app.database import database_url
    from baselayer.app.plain_sql import PlainSQL

    job_id = create_job(stack_user, "echo once", queue=HELD)
    wait_until(lambda: job_of(stack_user, job_id)["slurm_job_id"], "submitted", 60)
    slurm_job_id = job_of(stack_user, job_id)["slurm_job_id"]
    assert supervisorctl("stop", "slurm_executor").returncode == 0
    sql = PlainSQL(database_url(load_config()), "test_slurm")
    try:
        sql.value(
            "UPDATE jobs SET slurm_job_id = NULL WHERE id = %(id)s RETURNING id", {"id": job_id}
        )
    finally:
        sql.close()
        assert supervisorctl("start", "slurm_executor").returncode == 0
    wait_until(lambda: job_of(stack_user, job_id)["slurm_job_id"], "found again", 60)
    assert job_of(stack_user, job_id)["slurm_job_id"] == slurm_job_id
    details = [e["detail"] or "" for e in events_of(stack_user, job_id)]
    assert f"found in Slurm as job {slurm_job_id} after a restart" in details
    assert sum(d.startswith("submitted to Slurm") for d in details) == 1
    stack_user.post(f"/api/jobs/{job_id}/cancel")
    assert wait_for_job(stack_user, job_id, timeout=60)["status"] == "CANCELLED"
