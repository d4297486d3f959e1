"""The original service's own tests, end to end through nginx."""

import time
import uuid

from ..api.envelope import assert_error
from ..helpers import create_job, wait_for_job


def test_admin_and_user_submit_and_read_back_ready_jobs(stack_admin, stack_user):
    for client in (stack_admin, stack_user):
        job_id = create_job(client, "echo 'hello world'", id=f"original_{uuid.uuid4().hex}")
        job = client.get(f"/api/jobs/{job_id}").json()["data"]
        assert job["status"] == "READY"
        assert job["submitter_id"] == client.user_id


def test_admin_executes_hello_world_to_completion(stack_admin):
    job_id = create_job(stack_admin, "echo 'hello world'")
    assert stack_admin.get(f"/api/execute/{job_id}").status_code == 200
    job = wait_for_job(stack_admin, job_id)
    assert job["status"] == "COMPLETE"
    assert job["stdout"] == "hello world\n"
    assert job["return_code"] == 0


def test_fifty_sleeping_jobs_all_complete_within_ten_seconds(stack_admin):
    started = time.monotonic()
    job_ids = []
    for _ in range(50):
        job_id = create_job(stack_admin, "sleep 2; echo 'hello world'")
        response = stack_admin.get(f"/api/execute/{job_id}")
        assert response.status_code == 200
        job_ids.append(job_id)
        # The list keeps answering while jobs run.
        assert stack_admin.get("/api/jobs?limit=5").status_code == 200
    submitted = time.monotonic() - started
    for job_id in job_ids:
        remaining = max(10 - (time.monotonic() - started), 0.1)
        job = wait_for_job(stack_admin, job_id, timeout=remaining)
        assert job["status"] == "COMPLETE", job
        assert job["stdout"] == "hello world\n"
    # Submitting answers at once: it never waits on a running job.
    assert submitted < 10
    for job_id in job_ids:
        response = stack_admin.get(f"/api/execute/{job_id}")
        assert response.status_code == 409
        assert response.json()["status"] == "error"


def test_user_cannot_execute_an_admins_job(stack_admin, stack_user):
    job_id = create_job(stack_admin, "echo mine")
    response = stack_user.get(f"/api/execute/{job_id}")
    assert response.status_code == 404
    assert stack_admin.get(f"/api/jobs/{job_id}").json()["data"]["status"] == "READY"


def test_names_with_a_space_or_empty_are_refused(stack_admin):
    for name in ("hello world", ""):
        response = stack_admin.post("/api/jobs", json={"id": name, "code": "echo x"})
        assert_error(response, 400, field="id")


def test_misspelled_command_fails_with_nonzero_code(stack_admin):
    job_id = create_job(stack_admin, "ecfdho 'hello world'")
    stack_admin.get(f"/api/execute/{job_id}")
    job = wait_for_job(stack_admin, job_id)
    assert job["status"] == "FAILED"
    assert job["return_code"] == 127  # the shell's "command not found"
    assert "ecfdho: not found\n" in job["stderr"]
