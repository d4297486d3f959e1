"""Dependencies (``depends_on``): a job waits, not claimable, until the jobs it names
have ended as its conditions ask (Slurm's afterok, afternotok, afterany); one that can
no longer hold cancels it, naming the dependency. The in-process server runs the
waiting-jobs service's passes, as the stack's ``services/waiting`` does."""

import datetime
import time

import pytest
from sqlalchemy import text

from baselayer.app.database import database_url
from baselayer.app.plain_sql import PlainSQL
from shell_service import queue
from shell_service.job_states import JobStatus

from ..conftest import Client
from ..factories import JobFactory, TokenFactory, UserFactory
from ..helpers import create_job, wait_for_job, wait_until
from .envelope import assert_error


def submit(api, code="true", **fields) -> str:
    return create_job(api, code, execute=True, **fields)


def when(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value)


def test_a_job_waits_for_its_dependency_then_runs(api, gate):
    first = submit(api, gate.code)
    second = submit(api, "echo after", depends_on=[{"job": first, "condition": "afterok"}])
    job = api.get(f"/api/jobs/{second}").json()["data"]
    assert job["status"] == "QUEUED"
    assert job["waiting_for"] == "dependencies"
    assert job["status_message"] == f"waiting for job {first} (afterok)"
    [dependency] = job["depends_on"]
    assert dependency["job"] == first and dependency["condition"] == "afterok"
    assert dependency["satisfied"] is None and dependency["status"] in ("QUEUED", "RUNNING")
    gate.open()
    done = wait_for_job(api, second)
    assert done["status"] == "COMPLETE", done
    assert done["waiting_for"] is None and done["status_message"] is None
    assert done["depends_on"][0]["satisfied"] is True
    assert when(done["started_at"]) >= when(wait_for_job(api, first)["finished_at"])
    events = [e["detail"] for e in api.get(f"/api/jobs/{second}/events").json()["data"]]
    assert "dependencies satisfied" in events


def test_afterok_on_a_failed_job_cancels_the_dependent_and_its_own_dependents(api):
    failing = submit(api, "exit 3")
    middle = submit(api, "true", depends_on=f"afterok:{failing}")
    last = submit(api, "true", depends_on=[{"job": middle}])
    cancelled = wait_for_job(api, middle)
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["status_message"] == (
        f"dependency afterok on job {failing} cannot be satisfied: it ended FAILED"
    )
    assert cancelled["started_at"] is None and cancelled["return_code"] is None
    final = wait_for_job(api, last)
    assert final["status"] == "CANCELLED"
    assert f"on job {middle} cannot be satisfied: it ended CANCELLED" in final["status_message"]


@pytest.mark.parametrize(
    "code, condition, expected",
    [
        ("true", "afterok", "COMPLETE"),
        ("exit 1", "afterok", "CANCELLED"),
        ("true", "afternotok", "CANCELLED"),
        ("exit 1", "afternotok", "COMPLETE"),
        ("true", "afterany", "COMPLETE"),
        ("exit 1", "afterany", "COMPLETE"),
    ],
)
def test_each_condition_as_slurm_means_it(api, code, condition, expected):
    first = submit(api, code)
    second = submit(api, "true", depends_on=[{"job": first, "condition": condition}])
    assert wait_for_job(api, second)["status"] == expected


def test_afternotok_holds_for_a_timeout_and_a_cancel(api, gate):
    timed_out = submit(api, "sleep 30", timeout=1)
    cancelled = submit(api, gate.code)
    after_timeout = submit(api, "true", depends_on=f"afternotok:{timed_out}")
    after_cancel = submit(api, "true", depends_on=f"afternotok:{cancelled}")
    wait_until(
        lambda: api.get(f"/api/jobs/{cancelled}").json()["data"]["status"] == "RUNNING",
        "the gated job runs",
    )
    api.post(f"/api/jobs/{cancelled}/cancel")
    gate.open()
    assert wait_for_job(api, after_timeout)["status"] == "COMPLETE"
    assert wait_for_job(api, after_cancel)["status"] == "COMPLETE"


def test_a_diamond_runs_each_job_after_its_dependencies(api):
    a = submit(api, "sleep 0.2")
    b = submit(api, "sleep 0.2", depends_on=f"afterok:{a}")
    c = submit(api, "sleep 0.3", depends_on=f"afterok:{a}")
    d = submit(api, "true", depends_on=f"afterok:{b}:{c}")
    jobs = {
        name: wait_for_job(api, job_id) for name, job_id in zip("abcd", (a, b, c, d), strict=True)
    }
    assert all(job["status"] == "COMPLETE" for job in jobs.values()), jobs
    assert when(jobs["b"]["started_at"]) >= when(jobs["a"]["finished_at"])
    assert when(jobs["c"]["started_at"]) >= when(jobs["a"]["finished_at"])
    last_of_b_and_c = max(when(jobs["b"]["finished_at"]), when(jobs["c"]["finished_at"]))
    assert when(jobs["d"]["started_at"]) >= last_of_b_and_c
    assert jobs["d"]["status_message"] is None


def test_a_chain_of_100_runs_in_order(api):
    ids = [submit(api, "true")]
    for _ in range(99):
        ids.append(submit(api, "true", depends_on=[{"job": ids[-1], "condition": "afterok"}]))
    last = wait_for_job(api, ids[-1], timeout=120)
    assert last["status"] == "COMPLETE"
    jobs = [api.get(f"/api/jobs/{job_id}").json()["data"] for job_id in ids]
    assert all(job["status"] == "COMPLETE" for job in jobs)
    for before, after in zip(jobs, jobs[1:], strict=False):
        assert when(after["started_at"]) >= when(before["finished_at"])


def test_a_dependency_on_a_ready_job_waits_until_it_is_executed(api):
    ready = create_job(api, "true")
    waiting = submit(api, "true", depends_on=f"afterany:{ready}")
    wait_until(
        lambda: api.get(f"/api/jobs/{waiting}").json()["data"]["waiting_for"], "the dependent waits"
    )
    assert api.get(f"/api/jobs/{waiting}").json()["data"]["status"] == "QUEUED"
    api.post(f"/api/jobs/{ready}/execute")
    assert wait_for_job(api, waiting)["status"] == "COMPLETE"


def test_a_ready_job_with_dependencies_waits_from_its_execute(api, gate):
    first = submit(api, gate.code)
    later = create_job(api, "true", depends_on=f"afterok:{first}")
    job = api.get(f"/api/jobs/{later}").json()["data"]
    assert job["status"] == "READY" and job["waiting_for"] is None
    assert api.post(f"/api/jobs/{later}/execute").status_code == 200
    job = api.get(f"/api/jobs/{later}").json()["data"]
    assert job["status"] == "QUEUED" and job["waiting_for"] == "dependencies"
    assert job["status_message"] == f"waiting for job {first} (afterok)"
    gate.open()
    assert wait_for_job(api, later)["status"] == "COMPLETE"


def test_cancelling_a_waiting_job_ends_it_and_dooms_its_afterok_dependents(api, gate):
    first = submit(api, gate.code)
    second = submit(api, "true", depends_on=f"afterok:{first}")
    third = submit(api, "true", depends_on=f"afterok:{second}")
    response = api.post(f"/api/jobs/{second}/cancel")
    assert response.json()["data"]["status"] == "CANCELLED"
    job = api.get(f"/api/jobs/{second}").json()["data"]
    assert job["waiting_for"] is None
    assert wait_for_job(api, third)["status"] == "CANCELLED"
    gate.open()
    assert wait_for_job(api, first)["status"] == "COMPLETE"


def test_a_deleted_dependency_cancels_the_job_that_waited_for_it(api):
    ready = create_job(api, "true")
    waiting = submit(api, "true", depends_on=f"afterok:{ready}")
    assert api.delete(f"/api/jobs/{ready}").status_code == 200
    job = wait_for_job(api, waiting)
    assert job["status"] == "CANCELLED"
    assert job["status_message"].endswith("it no longer exists")


def test_a_dependency_on_someone_elses_job_is_a_404_and_on_no_job_a_400(server, api):
    other = TokenFactory(user=UserFactory())
    stranger = Client(server.url, other.secret)
    theirs = create_job(stranger, "true")
    response = api.post("/api/jobs", json={"code": "true", "depends_on": f"afterok:{theirs}"})
    assert_error(response, 404)
    assert theirs in response.json()["message"]
    response = api.post("/api/jobs", json={"code": "true", "depends_on": "afterok:no_such_job"})
    assert_error(response, 400, field="depends_on")


def test_a_task_is_named_in_the_list_form_and_the_text_form_refuses_the_ambiguity(
    server, api, paused_executor
):
    array = submit(api, "true", array=2)
    wait_until(lambda: api.get(f"/api/jobs/{array}:1").status_code == 200, "tasks made")
    # Slurm's text: 'afterok:ARRAY:0' could be task 0 or the jobs ARRAY and '0'.
    for slurm_text in (f"afterok:{array}:0", f"afterany:x,afterok:{array}:1"):
        refused = api.post("/api/jobs", json={"code": "true", "depends_on": slurm_text})
        assert_error(refused, 400, field="depends_on", mentions="list form")
        assert f'"job": "{array}:' in refused.json()["message"]
    # The list form names the task.
    waiting = submit(api, "true", depends_on=[{"job": f"{array}:1", "condition": "afterok"}])
    [dependency] = api.get(f"/api/jobs/{waiting}").json()["data"]["depends_on"]
    assert dependency["job"] == f"{array}:1"
    # Another user's task: 404; a task not made (or of no array): 400.
    stranger = Client(server.url, TokenFactory(user=UserFactory()).secret)
    theirs = submit(stranger, "true", array=1)
    wait_until(lambda: stranger.get(f"/api/jobs/{theirs}:0").status_code == 200, "their task")
    assert_error(
        api.post("/api/jobs", json={"code": "true", "depends_on": [{"job": f"{theirs}:0"}]}), 404
    )
    for missing in (f"{array}:7", "no_array:0"):
        response = api.post("/api/jobs", json={"code": "true", "depends_on": [{"job": missing}]})
        assert_error(response, 400, field="depends_on", mentions="there is no job")
    for job_id in (array, waiting, theirs):
        (stranger if job_id == theirs else api).post(f"/api/jobs/{job_id}/cancel")


def test_jobs_named_by_digits_alone_in_the_text_form(api):
    first, second = (create_job(api, "true", id=str(time.time_ns() + n)) for n in (0, 1))
    alone = submit(api, "true", depends_on=f"afterany:{first}")
    apart = submit(api, "true", depends_on=f"afterany:{first},afterany:{second}")
    # Digits first, then a name: no task id.
    leading = submit(api, "true", depends_on=f"afterany:{first}:{create_job(api, 'true')}")
    assert [d["job"] for d in api.get(f"/api/jobs/{alone}").json()["data"]["depends_on"]] == [first]
    assert len(api.get(f"/api/jobs/{apart}").json()["data"]["depends_on"]) == 2
    refused = api.post(
        "/api/jobs", json={"code": "true", "depends_on": f"afterany:{first}:{second}"}
    )
    assert refused.status_code == 400
    for job_id in (alone, apart, leading):
        api.post(f"/api/jobs/{job_id}/cancel")


def test_an_admin_may_depend_on_anyones_job(api, admin_api):
    mine = submit(api, "true")
    theirs = submit(admin_api, "true", depends_on=f"afterok:{mine}")
    assert wait_for_job(admin_api, theirs)["status"] == "COMPLETE"


@pytest.mark.parametrize(
    "depends_on",
    [
        "afterok",
        "afterok:",
        "after:a",
        "afterok:a,,afterany:b",
        "aftercorr:a",
        [],
        "",
        [{"job": "a", "condition": "afterOK"}],
        [{"job": "a", "cond": "afterok"}],
        [{"job": 5}],
        ["a"],
        [{"job": "a"}, {"job": "a", "condition": "afterany"}],
        "afterok:a:a",
        [{"job": "../etc"}],
        [{"job": "a b"}],
        {"job": "a"},
        17,
        [{"job": f"j{n}"} for n in range(101)],
    ],
)
def test_a_malformed_depends_on_is_a_400_naming_the_field(api, depends_on):
    response = api.post("/api/jobs", json={"code": "true", "depends_on": depends_on})
    assert_error(response, 400, field="depends_on")


def test_dependencies_never_attach_to_a_job_that_held_the_id(server, api, engine):
    """A create whose id is taken stores nothing, its dependencies neither: they
    would make someone else's job wait."""
    other = TokenFactory(user=UserFactory())
    stranger = Client(server.url, other.secret)
    theirs = create_job(stranger, "true")
    mine = submit(api, "true")
    response = api.post(
        "/api/jobs", json={"id": theirs, "code": "true", "depends_on": f"afterok:{mine}"}
    )
    assert_error(response, 409)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT count(*) FROM job_dependencies WHERE job_id = :id"), {"id": theirs}
        ).scalar()
    assert rows == 0


def test_a_waiting_job_is_never_claimed_whatever_its_priority(api, gate, engine):
    first = submit(api, gate.code)
    waiting = submit(api, "true", priority=100, depends_on=f"afterok:{first}")
    plain = submit(api, "true", priority=-100)
    assert wait_for_job(api, plain)["status"] == "COMPLETE"
    job = api.get(f"/api/jobs/{waiting}").json()["data"]
    assert job["status"] == "QUEUED" and job["started_at"] is None
    gate.open()
    assert wait_for_job(api, waiting)["status"] == "COMPLETE"


def test_depends_on_is_fixed_at_create(api):
    ready = create_job(api, "true")
    response = api.request("PATCH", f"/api/jobs/{ready}", json={"depends_on": "afterok:x"})
    assert_error(response, 400)


def test_a_rerun_does_not_copy_dependencies(api):
    first = submit(api, "true")
    second = submit(api, "true", depends_on=f"afterok:{first}")
    assert wait_for_job(api, second)["status"] == "COMPLETE"
    rerun = api.post(f"/api/jobs/{second}/rerun").json()["data"]["id"]
    job = wait_for_job(api, rerun)
    assert job["status"] == "COMPLETE" and job["depends_on"] == []


def test_the_end_of_a_job_releases_its_dependents_in_the_same_statement(cfg, api, engine):
    """A chain's next job is claimable when its predecessor's end commits: its
    release is in that statement (its event has the end's very time), not a pass
    of the waiting-jobs service later."""
    running = JobFactory(
        submitter=api.user, status="RUNNING", executor="elsewhere:1", host="elsewhere"
    )
    after = submit(api, "true", depends_on=f"afterok:{running.id}")
    other = submit(api, "true", depends_on=f"afterany:{running.id}")
    sql = PlainSQL(database_url(cfg), "dependents test")
    try:
        assert queue.finish_job(sql, running.id, JobStatus.COMPLETE, executor="elsewhere:1")
    finally:
        sql.close()
    with engine.connect() as connection:
        ended_at = connection.execute(
            text("SELECT finished_at FROM jobs WHERE id = :id"), {"id": running.id}
        ).scalar()
        for job_id in (after, other):
            released = connection.execute(
                text(
                    "SELECT created_at FROM job_events WHERE job_id = :id"
                    " AND detail = 'dependencies satisfied'"
                ),
                {"id": job_id},
            ).scalar()
            assert released == ended_at, job_id
    assert wait_for_job(api, after)["status"] == "COMPLETE"


def test_a_dependency_names_a_job_not_its_id(server, api):
    """Deleted, a job's id may be taken by another user's job: that job is not the
    dependency, which can no longer hold, and nothing of it shows."""
    ready = create_job(api, "true", id=f"reused_{time.time_ns()}")
    waiting = submit(api, "true", depends_on=f"afterok:{ready}")
    stranger = Client(server.url, TokenFactory(user=UserFactory()).secret)
    assert api.delete(f"/api/jobs/{ready}").status_code == 200
    create_job(stranger, "sleep 1", id=ready, execute=True)
    job = wait_for_job(api, waiting)
    assert job["status"] == "CANCELLED"
    assert job["status_message"].endswith("it no longer exists")
    assert job["depends_on"] == [
        {"job": ready, "condition": "afterok", "satisfied": False, "status": None}
    ]
