"""Changing, deleting and re-running jobs."""

from ..helpers import create_job, run_job, wait_for_job, wait_until
from .envelope import assert_error, assert_success


def test_patch_changes_a_ready_jobs_code_and_options(api):
    job_id = create_job(api, "echo old")
    response = api.request("PATCH", f"/api/jobs/{job_id}", json={"code": "echo new", "timeout": 9})
    assert response.status_code == 200
    assert (response.json()["data"]["code"], response.json()["data"]["timeout"]) == ("echo new", 9)
    api.post(f"/api/jobs/{job_id}/execute")
    assert wait_for_job(api, job_id)["stdout"] == "new\n"
    events = api.get(f"/api/jobs/{job_id}/events").json()["data"]
    assert "changed: code, timeout" in [e["detail"] for e in events]


def test_patch_is_refused_once_the_job_was_executed(api):
    job = run_job(api, "true")
    response = api.request("PATCH", f"/api/jobs/{job['id']}", json={"code": "false"})
    assert response.status_code == 409
    assert api.get(f"/api/jobs/{job['id']}").json()["data"]["code"] == "true"


def test_patch_validates_like_create(api):
    job_id = create_job(api, "true")
    for body in ({"code": ""}, {"id": "rename"}, {"execute": True}, {"timeout": -1}):
        (field,) = body
        assert_error(api.request("PATCH", f"/api/jobs/{job_id}", json=body), 400, field=field)
    assert_error(api.request("PATCH", f"/api/jobs/{job_id}", json={}), 400)
    # Nothing of it was applied.
    job = api.get(f"/api/jobs/{job_id}").json()["data"]
    assert (job["id"], job["code"], job["status"]) == (job_id, "true", "READY")


def test_patch_of_someone_elses_job_is_a_404(api, admin_api):
    job_id = create_job(admin_api, "true")
    response = api.request("PATCH", f"/api/jobs/{job_id}", json={"code": "false"})
    assert response.status_code == 404


def test_delete_removes_the_job_its_history_and_files(api, server):
    job = run_job(api, "echo bye")
    job_dir = server.executor.job_files(job["id"]).root
    assert job_dir.exists()
    assert api.delete(f"/api/jobs/{job['id']}").status_code == 200
    assert api.get(f"/api/jobs/{job['id']}").status_code == 404
    assert api.get(f"/api/jobs/{job['id']}/events").status_code == 404
    # The app worker only hands the directory over: the executor removes it.
    wait_until(lambda: not job_dir.exists(), "the executor removed the directory")


def test_delete_of_a_running_job_is_refused_until_cancelled(api):
    job_id = create_job(api, "sleep 30", execute=True)
    wait_for_job(api, job_id, statuses={"RUNNING"})
    assert_error(api.delete(f"/api/jobs/{job_id}"), 409, mentions=job_id)
    assert api.get(f"/api/jobs/{job_id}").json()["data"]["status"] == "RUNNING"  # kept
    api.post(f"/api/jobs/{job_id}/cancel")
    # A running job's cancel is a request: the job is CANCELLED once its processes end.
    assert wait_for_job(api, job_id)["status"] == "CANCELLED"
    assert_success(api.delete(f"/api/jobs/{job_id}"))
    assert_error(api.get(f"/api/jobs/{job_id}"), 404)


def test_delete_of_someone_elses_job_is_a_404(api, admin_api):
    job_id = create_job(admin_api, "true")
    assert api.delete(f"/api/jobs/{job_id}").status_code == 404
    assert admin_api.get(f"/api/jobs/{job_id}").status_code == 200


def test_rerun_makes_and_queues_a_new_job_with_the_same_script(api):
    first = run_job(api, 'echo "$1 $GREETING"', args=["hi"], env={"GREETING": "there"})
    response = api.post(f"/api/jobs/{first['id']}/rerun")
    assert response.status_code == 200
    new_id = response.json()["data"]["id"]
    assert new_id != first["id"]
    again = wait_for_job(api, new_id)
    assert (again["status"], again["stdout"]) == ("COMPLETE", "hi there\n")
    events = api.get(f"/api/jobs/{new_id}/events").json()["data"]
    assert events[0]["detail"] == f"rerun of {first['id']}"


def test_rerun_of_someone_elses_job_is_a_404(api, admin_api):
    job_id = create_job(admin_api, "true")
    assert api.post(f"/api/jobs/{job_id}/rerun").status_code == 404


def test_script_over_the_size_limit_is_a_413(api, server):
    limit = server.cfg["jobs"]["max_script_bytes"]
    server.cfg["jobs"]["max_script_bytes"] = 100
    try:
        response = api.post("/api/jobs", json={"code": "#" * 101})
        ok = api.post("/api/jobs", json={"code": "#" * 100})
    finally:
        server.cfg["jobs"]["max_script_bytes"] = limit
    assert response.status_code == 413
    assert "max_script_bytes" in response.json()["message"]
    assert ok.status_code == 200


def test_each_execute_path_takes_only_its_own_method(api):
    job_id = create_job(api, "true")
    assert api.post(f"/api/execute/{job_id}").status_code == 405
    assert api.get(f"/api/jobs/{job_id}/execute").status_code == 405
    assert api.get(f"/api/execute/{job_id}").status_code == 200


def test_every_documented_operation_has_a_curl_example(anon_api):
    spec = anon_api.get("/api/openapi.json").json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "patch", "delete"):
                assert "curl -s" in operation["description"], (method, path)
                assert path.split("{")[0] in operation["x-codeSamples"][0]["source"]
