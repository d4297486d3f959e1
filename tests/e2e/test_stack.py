"""The stack's own behaviour: nginx in front, the status server when the app is down."""

import time

import pytest
import requests

from ..helpers import create_job, wait_for_job


def test_docs_page_and_openapi_served_through_nginx(stack):
    page = requests.get(stack + "/", timeout=10)
    assert page.status_code == 200
    assert "swagger-ui" in page.text
    spec = requests.get(stack + "/api/openapi.json", timeout=10).json()
    assert "/api/jobs" in spec["paths"]


def test_unknown_api_path_is_a_404_envelope(stack):
    response = requests.get(stack + "/api/no/such/thing", timeout=10)
    assert response.status_code == 404
    assert response.json()["status"] == "error"


def test_requests_without_token_get_401(stack):
    response = requests.get(stack + "/api/jobs", timeout=10)
    assert response.status_code == 401
    assert response.json()["status"] == "error"


def _wait_for(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.2)


def test_status_server_answers_while_app_workers_are_down(stack, stack_admin, supervisorctl):
    stopped = supervisorctl("stop", "app:*")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    try:
        api = requests.get(stack + "/api/jobs", timeout=10)
        assert api.status_code == 503
        assert api.json()["status"] == "error"
        assert "not available" in api.json()["message"]
        page = requests.get(stack + "/", timeout=10)
        assert page.status_code == 503
        assert "text/html" in page.headers["Content-Type"]
    finally:
        started = supervisorctl("start", "app:*")
    assert started.returncode == 0, started.stdout + started.stderr

    def app_answers():
        try:
            return requests.get(stack + "/api/sysinfo", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    _wait_for(app_answers)
    job_id = stack_admin.post("/api/jobs", json={"code": "echo back"}).json()["data"]["id"]
    stack_admin.post(f"/api/jobs/{job_id}/execute")
    assert wait_for_job(stack_admin, job_id)["stdout"] == "back\n"


def test_metrics_add_up_over_every_app_worker(stack, stack_admin):
    from ..api.test_health_and_metrics import metric_value

    name, labels = "shell_service_jobs_finished_total", '{queue="default",status="COMPLETE"}'
    before = metric_value(requests.get(stack + "/metrics", timeout=10).text, name, labels)
    ids = [
        stack_admin.post("/api/jobs", json={"code": "true", "execute": True}).json()["data"]["id"]
        for _ in range(12)
    ]
    for job_id in ids:
        wait_for_job(stack_admin, job_id)
    after = requests.get(stack + "/metrics", timeout=10).text
    # Each scrape reaches one app worker; the count covers the jobs the executor ran
    # (every program writes its metrics to the one multiprocess directory).
    assert metric_value(after, name, labels) >= before + 12


def test_sysinfo_lists_the_executor_alive(stack, supervisorctl):
    words = supervisorctl("status", "executor").stdout.replace(",", " ").split()
    assert "RUNNING" in words, words
    pid = words[words.index("pid") + 1]
    # An executor killed by an earlier test stays listed until its heartbeat is old.
    deadline = time.monotonic() + 30
    while True:
        executors = requests.get(stack + "/api/sysinfo", timeout=10).json()["data"]["executors"]
        # This host's (the Slurm executor's name is "<host>/slurm:pid").
        local = [e for e in executors if "/" not in e["id"]]
        if [executor["id"].rpartition(":")[2] for executor in local] == [pid]:
            break
        assert time.monotonic() < deadline, (executors, pid)
        time.sleep(0.5)


def test_waiting_for_jobs_that_other_workers_run(stack_admin):
    """The end of a job reaches a waiting request on any app worker (NOTIFY)."""
    for _ in range(8):  # NGINX spreads them over the app workers
        job_id = create_job(stack_admin, "sleep 0.5; echo ok", execute=True)
        job = stack_admin.get(f"/api/jobs/{job_id}", params={"wait": 30}).json()["data"]
        assert (job["status"], job["stdout"]) == ("COMPLETE", "ok\n")


def test_jobs_run_at_the_executors_niceness(stack_admin, cfg):
    # Field 19 of /proc/<pid>/stat is the niceness (the comm field, "(sh)", has no space).
    code = 'read -r stat < /proc/$$/stat; set -- $stat; echo "${19}"'
    job = wait_for_job(stack_admin, create_job(stack_admin, code, execute=True))
    assert (job["status"], job["stdout"]) == ("COMPLETE", f"{int(cfg['jobs.nice'])}\n")


AUTOGROUP_SWITCH = "/proc/sys/kernel/sched_autogroup_enabled"


def autogroup_is_on() -> bool:
    try:
        with open(AUTOGROUP_SWITCH) as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def test_jobs_share_the_executors_cpu_autogroup(stack_admin, supervisorctl):
    # With sched_autogroup on, a process in a new session is weighed like a whole
    # session, whatever its niceness: a job must not start one of its own.
    if not autogroup_is_on():
        pytest.skip(f"the kernel groups no CPU time by session ({AUTOGROUP_SWITCH} is not 1)")
    executor = supervisorctl("pid", "executor").stdout.strip()
    with open(f"/proc/{executor}/autogroup") as f:
        executors_group = f.read().split()[0]
    code = "read -r group nice < /proc/self/autogroup; echo $group"
    job = wait_for_job(stack_admin, create_job(stack_admin, code, execute=True))
    assert (job["status"], job["stdout"]) == ("COMPLETE", f"{executors_group}\n")
