"""GET /api/jobs/{id}?wait=N answers when the job ends (or after N seconds)."""

import threading

import pytest

from ..helpers import create_job
from .envelope import assert_error


def test_wait_answers_with_the_ended_job(api):
    job_id = create_job(api, "sleep 1; echo done", execute=True)
    job = api.get(f"/api/jobs/{job_id}", params={"wait": 30}).json()["data"]
    assert (job["status"], job["stdout"]) == ("COMPLETE", "done\n")


def test_wait_gives_up_after_its_seconds(api):
    job_id = create_job(api, "sleep 60", execute=True)
    try:
        response = api.get(f"/api/jobs/{job_id}", params={"wait": 0.3})
        assert response.status_code == 200
        assert response.json()["data"]["status"] in ("QUEUED", "RUNNING")
        assert response.elapsed.total_seconds() >= 0.3
    finally:
        api.post(f"/api/jobs/{job_id}/cancel")


def test_a_ready_job_is_answered_at_once_it_cannot_end_unexecuted(api):
    job_id = create_job(api, "true")
    # Waiting would outlast the test client's 30 s timeout: the request would fail.
    response = api.get(f"/api/jobs/{job_id}", params={"wait": 60})
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "READY"


def test_a_cancel_wakes_a_waiter(api):
    job_id = create_job(api, "sleep 60", execute=True)
    answers = []
    waiter = threading.Thread(
        target=lambda: answers.append(api.get(f"/api/jobs/{job_id}", params={"wait": 30}))
    )
    waiter.start()
    api.post(f"/api/jobs/{job_id}/cancel")
    waiter.join(30)
    assert answers and answers[0].json()["data"]["status"] == "CANCELLED"


@pytest.mark.parametrize("wait", ["-1", "61", "soon", "nan"])
def test_a_bad_wait_is_400(api, wait):
    job_id = create_job(api, "true")
    assert_error(api.get(f"/api/jobs/{job_id}", params={"wait": wait}), 400, field="wait")


def test_waiting_for_someone_elses_job_is_404(api, admin_api):
    job_id = create_job(admin_api, "true")
    assert api.get(f"/api/jobs/{job_id}", params={"wait": 1}).status_code == 404
