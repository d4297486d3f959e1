from ..helpers import create_job, run_job, wait_for_job


def test_created_job_is_ready_and_owned_by_its_submitter(api):
    job_id = create_job(api, "echo hi", id="my_first_job")
    job = api.get(f"/api/jobs/{job_id}").json()["data"]
    assert job["id"] == "my_first_job"
    assert job["status"] == "READY"
    assert job["submitter_id"] == api.user.id


def test_executed_echo_completes_with_its_output(api):
    job = run_job(api, "echo 'hello world'")
    assert job["status"] == "COMPLETE"
    assert job["return_code"] == 0
    assert job["stdout"] == "hello world\n"


def test_unknown_command_fails_with_nonzero_code(api):
    job = run_job(api, "ecfdho 'hello world'")
    assert job["status"] == "FAILED"
    assert job["return_code"] == 127  # the shell's "command not found"
    assert "ecfdho: not found\n" in job["stderr"]


def test_original_execute_call_still_works(api):
    job_id = create_job(api, "echo original")
    assert api.get(f"/api/execute/{job_id}").json()["data"]["status"] == "QUEUED"
    assert wait_for_job(api, job_id)["stdout"] == "original\n"
