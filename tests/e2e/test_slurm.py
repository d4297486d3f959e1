"""Jobs of a Slurm queue, through the API, on the test stack's own Slurm cluster
(tests/config.test.yaml: the queues ``slurm`` and ``slurmheld``, whose jobs
sbatch holds pending). A job there behaves as a local one: output, exit code,
stdin, args, env, cancel (queued here, pending in Slurm, running), timeout,
memory; its Slurm job id, node and pending reason show in the API."""

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


@pytest.mark.parametrize("field", ["timeout", "memory_mb", "cpus"])
def test_a_slurm_queues_maxima_hold(stack_user, field):
    too_much = {"timeout": 10**7, "memory_mb": 10**7, "cpus": 10**4}[field]
    response = stack_user.post("/api/jobs", json={"code": "true", "queue": QUEUE, field: too_much})
    assert response.status_code == 400
    assert field in response.json()["message"]
