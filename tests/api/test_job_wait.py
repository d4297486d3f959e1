"""GET /api/jobs/{id}?wait=N answers when the job ends (or after N seconds)."""

import threading
import time

import pytest

from ..helpers import create_job, wait_for_job, wait_until
from .envelope import assert_error, assert_success


class Waiter:
    """``GET /api/jobs/{id}?wait=N`` in a thread, started once the job runs; returns
    once the request is waiting in the server (registered with its job_waiters)."""

    def __init__(self, api, server, job_id: str, wait: float = 20):
        wait_for_job(api, job_id, statuses={"RUNNING"})
        self.answers, self.job_id = [], job_id
        self.thread = threading.Thread(
            target=lambda: self.answers.append(
                (api.get(f"/api/jobs/{job_id}", params={"wait": wait}), time.monotonic())
            )
        )
        self.thread.start()
        waiting = server.app.settings["job_waiters"]._waiting
        wait_until(lambda: job_id in waiting, "the request waiting for the job", timeout=10)

    def answer(self):
        """The answer and how long after this call it came."""
        called = time.monotonic()
        self.thread.join(30)
        assert self.answers, "no answer"
        response, at = self.answers[0]
        return assert_success(response), at - called


def test_wait_answers_with_the_ended_job_as_soon_as_it_ends(api, server, gate):
    job_id = create_job(api, f"echo started; {gate.code}; echo done", execute=True)
    waiter = Waiter(api, server, job_id)
    assert waiter.answers == []  # the job has not ended: still waiting
    gate.open()
    job, delay = waiter.answer()
    assert (job["status"], job["stdout"]) == ("COMPLETE", "started\ndone\n")
    assert delay < 10  # at its end, not when the 20 s wait ran out


def test_wait_gives_up_after_its_seconds(api):
    job_id = create_job(api, "sleep 60", execute=True)
    try:
        wait_for_job(api, job_id, statuses={"RUNNING"})
        response = api.get(f"/api/jobs/{job_id}", params={"wait": 0.3})
        assert assert_success(response)["status"] == "RUNNING"
        assert 0.3 <= response.elapsed.total_seconds() < 5
    finally:
        api.post(f"/api/jobs/{job_id}/cancel")


def test_a_ready_job_is_answered_at_once_it_cannot_end_unexecuted(api):
    job_id = create_job(api, "true")
    # Waiting would outlast the test client's 30 s timeout: the request would fail.
    response = api.get(f"/api/jobs/{job_id}", params={"wait": 60})
    assert assert_success(response)["status"] == "READY"
    assert response.elapsed.total_seconds() < 5


def test_a_cancel_wakes_a_waiter(api, server):
    job_id = create_job(api, "sleep 60", execute=True)
    waiter = Waiter(api, server, job_id)
    assert_success(api.post(f"/api/jobs/{job_id}/cancel"))
    job, delay = waiter.answer()
    assert job["status"] == "CANCELLED"
    assert delay < 10  # woken by the cancel, not by the 20 s wait running out


@pytest.mark.parametrize("wait", ["-1", "61", "soon", "nan"])
def test_a_bad_wait_is_400(api, wait):
    job_id = create_job(api, "true")
    assert_error(api.get(f"/api/jobs/{job_id}", params={"wait": wait}), 400, field="wait")


def test_waiting_for_someone_elses_job_is_404(api, admin_api):
    job_id = create_job(admin_api, "true")
    assert_error(api.get(f"/api/jobs/{job_id}", params={"wait": 1}), 404, mentions=job_id)
