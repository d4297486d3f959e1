"""Job arrays (``array``): one request, one task per index, each a job of its own
with its index in SHELL_SERVICE_ARRAY_INDEX; ``%N`` bounds the tasks running at once;
the array job ends when every task has. Tasks are made as they become due (the
waiting-jobs service's passes, run by the in-process server)."""

import datetime
import threading
import time

import pytest
from sqlalchemy import text

from baselayer.app.database import database_url
from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL
from shell_service import queue
from shell_service.queue import waiting
from shell_service.waiting import UNLIMITED, WaitingJobs, waiting_settings

from ..factories import JobFactory, UserFactory
from ..helpers import create_job, wait_for_job, wait_until
from .envelope import assert_error, assert_success


def submit(api, code="true", **fields) -> str:
    return create_job(api, code, execute=True, **fields)


def tasks_of(api, array_id: str) -> list[dict]:
    response = api.get(
        "/api/jobs", params={"array": array_id, "limit": 1000, "include_output": "true"}
    )
    return assert_success(response)


def when(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value)


def test_an_array_runs_one_task_per_index_with_its_index(api):
    array = submit(
        api,
        'echo "$SHELL_SERVICE_ARRAY_INDEX of $SHELL_SERVICE_ARRAY_SIZE in $SHELL_SERVICE_ARRAY_ID"',
        array=5,
    )
    job = wait_for_job(api, array)
    assert job["status"] == "COMPLETE", job
    assert job["array_spec"] == "0-4" and job["array_size"] == 5
    assert job["array_tasks"] == {"COMPLETE": 5}
    assert job["started_at"] is None and job["return_code"] is None
    tasks = tasks_of(api, array)
    assert sorted(task["id"] for task in tasks) == [f"{array}:{n}" for n in range(5)]
    for task in tasks:
        assert task["array_id"] == array and task["array_size"] == 5
        assert task["stdout"] == f"{task['array_index']} of 5 in {array}\n"
    last_task_end = max(when(task["finished_at"]) for task in tasks)
    assert when(job["finished_at"]) >= last_task_end


@pytest.mark.parametrize(
    "spec, indexes",
    [
        ("1,3,5-9", [1, 3, 5, 6, 7, 8, 9]),
        ("0-15:4", [0, 4, 8, 12]),
        (" 7 ", [7]),
        ("3,1,3", [1, 3]),
    ],
)
def test_slurm_array_syntax(api, spec, indexes):
    array = submit(api, "true", array=spec)
    assert wait_for_job(api, array)["status"] == "COMPLETE"
    assert sorted(task["array_index"] for task in tasks_of(api, array)) == indexes


def test_percent_n_bounds_the_tasks_running_at_once(api, gate):
    array = submit(api, gate.code, array="0-5%2")

    def counts():
        return api.get(f"/api/jobs/{array}").json()["data"]["array_tasks"]

    wait_until(lambda: counts().get("RUNNING") == 2, "two tasks run")
    time.sleep(1)  # a pass or two later: still no third task made
    assert counts() == {"RUNNING": 2, "PENDING": 4}
    assert sorted(t["array_index"] for t in tasks_of(api, array)) == [0, 1]
    gate.open()
    job = wait_for_job(api, array, timeout=60)
    assert job["status"] == "COMPLETE" and job["array_spec"] == "0-5%2"
    spans = [(when(t["started_at"]), when(t["finished_at"])) for t in tasks_of(api, array)]
    for start, _ in spans:
        running = sum(1 for other_start, other_end in spans if other_start <= start < other_end)
        assert running <= 2, spans


def test_a_failed_task_fails_the_array_with_the_count(api):
    array = submit(api, '[ "$SHELL_SERVICE_ARRAY_INDEX" != 2 ] || exit 7', array=4)
    job = wait_for_job(api, array)
    assert job["status"] == "FAILED"
    assert job["status_message"] == "1 of 4 tasks did not complete (1 FAILED)"
    assert job["array_tasks"] == {"COMPLETE": 3, "FAILED": 1}
    failed = api.get(f"/api/jobs/{array}:2").json()["data"]
    assert failed["return_code"] == 7


def test_cancelling_an_array_cancels_every_unfinished_task(api, gate):
    array = submit(api, gate.code, array="0-9%3")
    wait_until(
        lambda: api.get(f"/api/jobs/{array}").json()["data"]["array_tasks"].get("RUNNING") == 3,
        "three tasks run",
    )
    response = api.post(f"/api/jobs/{array}/cancel")
    assert response.status_code == 200
    job = wait_for_job(api, array)
    assert job["status"] == "CANCELLED"
    # The tasks never made count as CANCELLED once the array has ended, as Slurm's.
    assert job["array_tasks"] == {"CANCELLED": 10}
    assert "10 of 10 tasks did not complete (10 CANCELLED)" in job["status_message"]
    gate.open()
    assert len(tasks_of(api, array)) == 3


def test_cancel_takes_queued_tasks_at_once(api, paused_executor):
    array = submit(api, "true", array=4)
    wait_until(lambda: len(tasks_of(api, array)) == 4, "the tasks are made")
    assert api.post(f"/api/jobs/{array}/cancel").status_code == 200
    job = wait_for_job(api, array)
    assert job["status"] == "CANCELLED"
    assert {task["status"] for task in tasks_of(api, array)} == {"CANCELLED"}
    messages = {task["status_message"] for task in tasks_of(api, array)}
    assert messages == {f"cancelled with array {array}"}


def test_a_large_array_is_one_row_until_its_tasks_are_due(api, paused_executor, cfg):
    ahead = cfg["arrays"]["tasks_ahead"]
    array = submit(api, "true", array=100_000)
    wait_until(
        lambda: api.get(f"/api/jobs/{array}").json()["data"]["array_tasks"].get("QUEUED") == ahead,
        "the first tasks are made",
    )
    job = api.get(f"/api/jobs/{array}").json()["data"]
    assert job["array_tasks"] == {"QUEUED": ahead, "PENDING": 100_000 - ahead}
    assert job["waiting_for"] == "tasks"
    listed = api.get("/api/jobs", params={"array": array}).json()
    assert listed["total"] == ahead
    assert api.post(f"/api/jobs/{array}/cancel").status_code == 200
    assert wait_for_job(api, array)["status"] == "CANCELLED"


def test_a_dependency_on_an_array_waits_for_every_task(api):
    array = submit(api, "sleep 0.1", array="0-3%2")
    after = submit(api, "true", depends_on=f"afterok:{array}")
    done = wait_for_job(api, after, timeout=60)
    assert done["status"] == "COMPLETE"
    last_task_end = max(when(task["finished_at"]) for task in tasks_of(api, array))
    assert when(done["started_at"]) >= last_task_end
    failing = submit(api, "exit 1", array=2)
    doomed = submit(api, "true", depends_on=f"afterok:{failing}")
    assert wait_for_job(api, doomed)["status"] == "CANCELLED"
    rescue = submit(api, "true", depends_on=f"afternotok:{failing}")
    assert wait_for_job(api, rescue)["status"] == "COMPLETE"


def test_an_array_may_wait_for_its_own_dependencies(api, gate):
    first = submit(api, gate.code)
    array = submit(api, "true", array=3, depends_on=f"afterok:{first}")
    job = api.get(f"/api/jobs/{array}").json()["data"]
    assert job["waiting_for"] == "dependencies" and job["array_tasks"] == {"PENDING": 3}
    gate.open()
    assert wait_for_job(api, array)["status"] == "COMPLETE"
    assert len(tasks_of(api, array)) == 3


def test_a_ready_array_makes_its_tasks_once_executed(api):
    array = create_job(api, "true", array=2)
    job = api.get(f"/api/jobs/{array}").json()["data"]
    assert job["status"] == "READY" and job["array_tasks"] == {"PENDING": 2}
    api.post(f"/api/jobs/{array}/execute")
    assert wait_for_job(api, array)["status"] == "COMPLETE"


@pytest.mark.parametrize(
    "array",
    [
        0,
        -1,
        100_001,
        True,
        1.5,
        [1],
        {"size": 3},
        None,
        "",
        "5-3",
        "0-100000",
        "%2",
        "0-3%0",
        "0-3%",
        "a",
        "1-2-3",
        "0-9:0",
        "1;2",
        "0x10",
        "1e3",
        "0-9%2%3",
        "١",
    ],
)
def test_a_malformed_array_is_a_400_naming_the_field(api, array):
    response = api.post("/api/jobs", json={"code": "true", "array": array})
    assert_error(response, 400, field="array")


@pytest.mark.parametrize("job_id", ["arr:1", "a:b", ":1", "arr:", "arr:1:2"])
def test_no_user_may_name_a_job_as_a_task_is_named(api, job_id):
    """A task's id is <array id>:<index>; ':' is in no name a user may give, so no
    job can take a task's id first, however close in time the two creates are."""
    response = api.post("/api/jobs", json={"code": "true", "id": job_id})
    assert_error(response, 400, field="id")


def test_an_array_id_too_long_for_its_tasks_ids_is_a_400(api):
    response = api.post("/api/jobs", json={"code": "true", "id": "a" * 119, "array": 2})
    assert_error(response, 400, field="id")
    assert create_job(api, "true", id="a" * 118, array=2)


def test_rerun_of_a_task_runs_it_alone_with_its_index(api):
    array = submit(api, 'echo "$SHELL_SERVICE_ARRAY_INDEX/$SHELL_SERVICE_ARRAY_SIZE"', array="4-5")
    assert wait_for_job(api, array)["status"] == "COMPLETE"
    rerun = api.post(f"/api/jobs/{array}:5/rerun").json()["data"]["id"]
    job = api.get(f"/api/jobs/{rerun}", params={"wait": 30}).json()["data"]
    assert job["stdout"] == "5/2\n" and job["array_id"] is None
    again = api.post(f"/api/jobs/{array}/rerun").json()["data"]["id"]
    job = wait_for_job(api, again)
    assert job["status"] == "COMPLETE" and job["array_spec"] == "4-5"
    assert sorted(t["array_index"] for t in tasks_of(api, again)) == [4, 5]


def test_a_task_left_by_an_earlier_array_is_refused_or_a_task_less(api):
    """Retention may delete an array job apart from its tasks: an array of that id
    again is refused while they are there; one taken after that check is one task
    less, counted by the array's end, and the job that holds the id is untouched."""
    leftover = JobFactory(id="old_arr:3", status="COMPLETE", submitter=api.user)
    assert_error(
        api.post("/api/jobs", json={"code": "true", "id": "old_arr", "array": 2}),
        409,
        mentions=leftover.id,
    )
    # Another user's: nothing of it is told, as for any id taken.
    JobFactory(id="their_arr:3", status="COMPLETE", submitter=UserFactory())
    JobFactory(id="taken_id", status="COMPLETE", submitter=UserFactory())
    clash = api.post("/api/jobs", json={"code": "true", "id": "their_arr", "array": 2})
    taken = api.post("/api/jobs", json={"code": "true", "id": "taken_id"})
    assert_error(clash, 409)
    assert_error(taken, 409)
    assert clash.json()["message"] == taken.json()["message"].replace("taken_id", "their_arr")
    assert "their_arr:3" not in clash.text
    array = create_job(api, "true", array=2)
    squatter = JobFactory(id=f"{array}:1", status="COMPLETE", submitter=UserFactory())
    api.post(f"/api/jobs/{array}/execute")
    job = wait_for_job(api, array)
    assert job["status"] == "FAILED"
    assert job["status_message"] == "1 of 2 tasks did not complete"
    assert [task["array_index"] for task in tasks_of(api, array)] == [0]
    assert api.get(f"/api/jobs/{squatter.id}").status_code == 404  # not this user's


def test_a_task_is_deleted_with_its_array_and_not_before_it_ends(api, gate):
    array = submit(api, f'[ "$SHELL_SERVICE_ARRAY_INDEX" = 0 ] || {gate.code}', array=2)
    wait_until(lambda: api.get(f"/api/jobs/{array}:0").status_code == 200, "task 0 is made")
    wait_for_job(api, f"{array}:0")
    assert_error(api.delete(f"/api/jobs/{array}:0"), 409, mentions="has not ended")
    gate.open()
    assert wait_for_job(api, array)["status"] == "COMPLETE"
    assert api.delete(f"/api/jobs/{array}").status_code == 200
    for task in (f"{array}:0", f"{array}:1"):
        assert api.get(f"/api/jobs/{task}").status_code == 404
    # Its id may make a new array.
    assert create_job(api, "true", id=array, array=2) == array


def test_each_users_array_tasks_waiting_are_bounded_over_all_their_arrays(
    api, admin_api, paused_executor, cfg
):
    ahead = cfg["arrays"]["tasks_ahead"]
    first = submit(api, "true", array=5000)
    second = submit(api, "true", array=5000)
    other = submit(admin_api, "true", array=10)

    def queued(client, array_id):
        return client.get(f"/api/jobs/{array_id}").json()["data"]["array_tasks"].get("QUEUED", 0)

    wait_until(lambda: queued(admin_api, other) == 10, "the other user's tasks are made")
    wait_until(lambda: queued(api, first) + queued(api, second) == ahead, "tasks are made")
    time.sleep(1)  # passes later: no more
    assert queued(api, first) == ahead and queued(api, second) == 0  # oldest array first
    for array_id, client in ((first, api), (second, api), (other, admin_api)):
        assert client.post(f"/api/jobs/{array_id}/cancel").status_code == 200
        assert wait_for_job(client, array_id)["status"] == "CANCELLED"


def test_a_definition_run_may_be_an_array_that_waits_for_a_job(api):
    name = f"arr_def_{time.time_ns()}"
    response = api.post(
        "/api/definitions",
        json={
            "name": name,
            "code": 'echo "$GREETING $SHELL_SERVICE_ARRAY_INDEX"',
            "parameters": [{"name": "greeting", "type": "string", "env_var": "GREETING"}],
        },
    )
    assert response.status_code == 200, response.text
    first = submit(api, "sleep 0.2")
    run = api.post(
        f"/api/definitions/{name}/run",
        json={"parameters": {"greeting": "hi"}, "array": "0-2", "depends_on": f"afterok:{first}"},
    )
    assert run.status_code == 200, run.text
    array = run.json()["data"]["id"]
    job = wait_for_job(api, array)
    assert job["status"] == "COMPLETE" and job["definition_name"] == name
    outputs = sorted(task["stdout"] for task in tasks_of(api, array))
    assert outputs == ["hi 0\n", "hi 1\n", "hi 2\n"]
    assert all(task["definition_name"] == name for task in tasks_of(api, array))
    bad = api.post(f"/api/definitions/{name}/run", json={"array": "x"})
    assert_error(bad, 400, field="array")
    missing = api.post(f"/api/definitions/{name}/run", json={"depends_on": "afterok:nope"})
    assert_error(missing, 400, field="depends_on")


@pytest.fixture
def connections(cfg):
    """Plain connections of the test's own, by name (``application_name``)."""
    made: dict[str, PlainSQL] = {}

    def connection(name: str) -> PlainSQL:
        made[name] = PlainSQL(database_url(cfg), name)
        return made[name]

    yield connection
    for sql in made.values():
        sql.close()


def waits_for_a_lock(sql: PlainSQL, name: str) -> bool:
    found = sql.value(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE application_name = %(name)s AND wait_event_type = 'Lock'",
        {"name": name},
    )
    return found > 0


def test_a_cancel_while_tasks_are_being_made_cancels_those_tasks_too(
    api, cfg, paused_executor, connections
):
    array = submit(api, "true", array="0-5%2")
    wait_until(lambda: len(tasks_of(api, array)) == 2, "two tasks are made")
    # A pass makes the next two tasks (the first two ended) and has not committed.
    maker = connections("tasks maker").connection()
    with maker.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute(
            "UPDATE jobs SET status = 'COMPLETE', finished_at = %(now)s WHERE array_id = %(id)s",
            {"now": utcnow(), "id": array},
        )
        make = waiting._MAKE_TASKS
        params = {"now": utcnow(), "made_ahead": 1000, "unlimited": UNLIMITED}
        cursor.execute(make.prepare_sql)
        cursor.execute(make.execute_sql, make.arguments({**params, "queued_channel": "-"}))
        assert cursor.fetchone()[0] == 2
    # Meanwhile the array is cancelled: the cancel waits for the array's lock.
    canceller = connections("array canceller")
    cancelled: list = []
    thread = threading.Thread(
        target=lambda: cancelled.append(queue.cancel_job(canceller, array, api.user.id))
    )
    thread.start()
    watcher = connections("lock watcher")
    wait_until(lambda: waits_for_a_lock(watcher, "array canceller"), "the cancel waits")
    with maker.cursor() as cursor:
        cursor.execute("COMMIT")
    thread.join(30)
    assert cancelled == ["QUEUED"]
    statuses = {task["id"]: task["status"] for task in tasks_of(api, array)}
    assert statuses == {
        f"{array}:0": "COMPLETE",
        f"{array}:1": "COMPLETE",
        f"{array}:2": "CANCELLED",
        f"{array}:3": "CANCELLED",
    }
    job = wait_for_job(api, array)
    assert job["status"] == "CANCELLED"
    assert job["array_tasks"] == {"COMPLETE": 2, "CANCELLED": 4}


def test_no_task_is_made_once_the_cancel_holds_the_arrays_lock(
    api, cfg, paused_executor, connections
):
    array = submit(api, "true", array="0-5%2")
    wait_until(lambda: len(tasks_of(api, array)) == 2, "two tasks are made")
    canceller = connections("array canceller").connection()
    with canceller.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("UPDATE jobs SET status = 'COMPLETE' WHERE array_id = %s", (array,))
        cursor.execute("SELECT 1 FROM jobs WHERE id = %s FOR UPDATE", (array,))
        cursor.execute("UPDATE jobs SET cancel_requested_at = %s WHERE id = %s", (utcnow(), array))
    # A pass now skips the locked array; once the cancel is committed it sees it.
    passes = WaitingJobs(connections("waiting pass"), waiting_settings(cfg))
    passes.run_once()
    with canceller.cursor() as cursor:
        cursor.execute("COMMIT")
    passes.run_once()
    assert len(tasks_of(api, array)) == 2
    job = wait_for_job(api, array)
    assert job["status"] == "CANCELLED" and job["array_tasks"] == {"COMPLETE": 2, "CANCELLED": 4}


def test_a_cancelled_arrays_queued_task_is_cancelled_by_the_next_pass(
    api, cfg, paused_executor, connections, session_factory
):
    array = submit(api, "true", array=3)
    wait_until(lambda: len(tasks_of(api, array)) == 3, "the tasks are made")
    # As if a task were made after its array's cancel had looked.
    with session_factory() as session:
        session.execute(
            text("UPDATE jobs SET cancel_requested_at = now() WHERE id = :id"), {"id": array}
        )
        session.commit()
    WaitingJobs(connections("waiting pass"), waiting_settings(cfg)).run_once()
    assert {task["status"] for task in tasks_of(api, array)} == {"CANCELLED"}
    job = wait_for_job(api, array)
    assert job["status"] == "CANCELLED" and job["array_tasks"] == {"CANCELLED": 3}


@pytest.mark.parametrize("how", ["made in full", "cancel requested, tasks held"])
def test_tasks_of_a_users_full_or_cancelled_array_count_toward_tasks_ahead(
    api, cfg, paused_executor, connections, session_factory, how
):
    ahead = cfg["arrays"]["tasks_ahead"]
    size = ahead if how == "made in full" else 2 * ahead
    first = submit(api, "true", array=size)

    def queued(array_id):
        counts = api.get(f"/api/jobs/{array_id}").json()["data"]["array_tasks"]
        return counts.get("QUEUED", 0)

    wait_until(lambda: queued(first) == ahead, "the first array's tasks are made")
    if how != "made in full":
        # Its tasks wait for their executor (Slurm's) to end them.
        with session_factory() as session:
            session.execute(
                text(
                    "UPDATE jobs SET executor = 'elsewhere/slurm:1' "
                    "WHERE array_id = :id AND status = 'QUEUED'"
                ),
                {"id": first},
            )
            session.execute(
                text("UPDATE jobs SET cancel_requested_at = now() WHERE id = :id"), {"id": first}
            )
            session.commit()
    second = submit(api, "true", array=10)
    WaitingJobs(connections("waiting pass"), waiting_settings(cfg)).run_once()
    assert queued(second) == 0 and tasks_of(api, second) == []
    with session_factory() as session:
        session.execute(
            text(
                "UPDATE jobs SET status = 'CANCELLED', executor = NULL, finished_at = now() "
                "WHERE array_id = :id AND status = 'QUEUED'"
            ),
            {"id": first},
        )
        session.commit()
    for array_id in (first, second):
        api.post(f"/api/jobs/{array_id}/cancel")
        assert wait_for_job(api, array_id)["status"] == "CANCELLED"
