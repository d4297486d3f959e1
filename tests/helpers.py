"""Small helpers shared by tests."""

import time

from shell_service.job_states import FINISHED


def wait_for_job(client, job_id: str, timeout: float = 30, statuses=FINISHED) -> dict:
    """Poll a job until its status is one of ``statuses``; returns the job."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/jobs/{job_id}").json()["data"]
        if job["status"] in statuses:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s")
        time.sleep(0.05)


def create_job(client, code: str, **fields) -> str:
    response = client.post("/api/jobs", json={"code": code, **fields})
    assert response.status_code == 200, response.text
    return response.json()["data"]["id"]


def run_job(client, code: str, wait: float = 30, **fields) -> dict:
    """Create, execute and wait up to ``wait`` seconds for a job; returns it finished.

    ``fields`` are the job's options (``timeout`` among them)."""
    job_id = create_job(client, code, **fields)
    response = client.post(f"/api/jobs/{job_id}/execute")
    assert response.status_code == 200, response.text
    return wait_for_job(client, job_id, wait)
