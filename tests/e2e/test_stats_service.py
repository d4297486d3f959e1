"""The stats service (``services/stats``) as supervisord runs it in the test stack:
its pass rolls a job's end up into the hourly rollups GET /api/stats reads."""

import datetime

from ..helpers import create_job, wait_for_job, wait_until


def test_the_stats_service_runs_in_the_stack(supervisorctl):
    status = supervisorctl("status", "stats").stdout
    assert "RUNNING" in status, status


def test_its_pass_rolls_an_ended_job_up_and_it_still_counts_once(stack_user):
    job_id = create_job(stack_user, "exit 2", execute=True)
    job = wait_for_job(stack_user, job_id)
    assert job["status"] == "FAILED"
    ended = datetime.datetime.fromisoformat(job["finished_at"])

    def stats() -> dict:
        response = stack_user.get("/api/stats")
        assert response.status_code == 200, response.text
        return response.json()["data"]

    # Counted at once (from the jobs table, past the rollups' cursor)...
    assert stats()["period"]["finished"]["FAILED"] == 1
    # ...and, once the pass (every second here) has moved the cursor past its end,
    # from the rollups: still once.
    wait_until(
        lambda: datetime.datetime.fromisoformat(stats()["rolled_until"]) > ended,
        "the stats service's pass to roll the job up",
        timeout=30,
    )
    figures = stats()
    assert figures["period"]["finished"]["FAILED"] == 1
    assert figures["now"]["by_state"]["FAILED"] == 1
    assert sum(figures["period"]["finished"].values()) == 1
