"""Retries (``retry``): a job's attempt that ends as its strategy asks, with
attempts left and no cancel asked for, is recorded and the job runs again, at
once or after its back-off; the job ends as its last attempt did. Real jobs on
the in-process executor (and the waiting-jobs service's passes for back-offs);
a lost host's job by ``Registry.lose``, as tests/executors/test_lost_hosts.py."""

import datetime
import os

import pytest
from sqlalchemy import select, text

from baselayer.app.database import database_url
from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL
from shell_service import retries
from shell_service.executors.registry import Registry
from shell_service.models import Job, JobAttempt

from ..factories import JobFactory
from ..helpers import create_job, wait_for_job, wait_until
from .envelope import assert_error

#: Exits 75 (EX_TEMPFAIL) until its third attempt, saying which attempt it is.
FLAKY = 'echo "attempt $SHELL_SERVICE_ATTEMPT"; echo "err $SHELL_SERVICE_ATTEMPT" >&2\n'
FLAKY += '[ "$SHELL_SERVICE_ATTEMPT" -ge 3 ] || exit 75'


def submit(api, code, **fields) -> str:
    return create_job(api, code, execute=True, **fields)


def when(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value)


def log(api, job_id: str, **query) -> dict:
    response = api.get(f"/api/jobs/{job_id}/log", params=query)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_a_job_exiting_75_twice_completes_on_its_third_attempt(api):
    job_id = submit(api, FLAKY, retry={"attempts": 3, "exit_codes": [1, 75]})
    job = wait_for_job(api, job_id)
    assert job["status"] == "COMPLETE", job
    assert job["attempt"] == 3 and job["return_code"] == 0
    assert job["retry"] == {
        "attempts": 3,
        "on": ["FAILED"],
        "exit_codes": [1, 75],
        "backoff": {"initial": 0, "factor": 2, "max": 3600},
    }
    attempts = job["attempts"]
    assert [a["number"] for a in attempts] == [1, 2, 3]
    assert [a["status"] for a in attempts] == ["FAILED", "FAILED", "COMPLETE"]
    assert [a["return_code"] for a in attempts] == [75, 75, 0]
    assert all(a["host"] and a["started_at"] and a["finished_at"] for a in attempts)
    for earlier, later in zip(attempts, attempts[1:], strict=False):
        assert when(later["started_at"]) >= when(earlier["finished_at"])
    # Each attempt's output stays readable; the job's own is the last attempt's.
    assert job["stdout"] == "attempt 3\n"
    for number in (1, 2, 3):
        assert log(api, job_id, attempt=number)["text"] == f"attempt {number}\n"
        assert log(api, job_id, attempt=number, stream="stderr")["text"] == f"err {number}\n"
    assert log(api, job_id)["text"] == "attempt 3\n"
    details = [e["detail"] for e in api.get(f"/api/jobs/{job_id}/events").json()["data"]]
    assert "attempt 1 ended FAILED (exit code 75); attempt 2 of 3 now" in details
    assert "attempt 2 ended FAILED (exit code 75); attempt 3 of 3 now" in details


def test_an_attempt_that_does_not_exist_is_a_404(api):
    job_id = submit(api, "true", retry={"attempts": 2})
    wait_for_job(api, job_id)
    for number in (0, "x"):
        assert api.get(f"/api/jobs/{job_id}/log", params={"attempt": number}).status_code == 400
    assert_error(
        api.get(f"/api/jobs/{job_id}/log", params={"attempt": 2}), 404, mentions="no attempt 2"
    )
    assert log(api, job_id, attempt=1)["finished"] is True  # the current one, as today


def test_an_exit_code_not_in_the_list_is_not_retried(api):
    job_id = submit(api, "exit 3", retry={"attempts": 3, "exit_codes": [75]})
    job = wait_for_job(api, job_id)
    assert (job["status"], job["attempt"], job["return_code"]) == ("FAILED", 1, 3)
    assert [a["number"] for a in job["attempts"]] == [1]


def test_attempts_exhausted_end_failed_with_the_last_attempts_code(api):
    code = "exit $((10 + SHELL_SERVICE_ATTEMPT))"
    job_id = submit(api, code, retry={"attempts": 2})
    job = wait_for_job(api, job_id)
    assert (job["status"], job["attempt"], job["return_code"]) == ("FAILED", 2, 12)
    assert [(a["status"], a["return_code"]) for a in job["attempts"]] == [
        ("FAILED", 11),
        ("FAILED", 12),
    ]


def test_without_a_strategy_nothing_is_retried_and_the_attempt_is_1(api):
    job_id = submit(api, 'echo "$SHELL_SERVICE_ATTEMPT"; exit 1')
    job = wait_for_job(api, job_id)
    assert (job["status"], job["attempt"], job["retry"], job["stdout"]) == (
        "FAILED",
        1,
        None,
        "1\n",
    )


def test_a_timeout_is_retried_when_asked_and_only_then(api):
    code = '[ "$SHELL_SERVICE_ATTEMPT" -ge 2 ] || sleep 30'
    retried = submit(api, code, timeout=1, retry={"attempts": 2, "on": ["TIMED_OUT"]})
    not_asked = submit(api, code, timeout=1, retry={"attempts": 2})
    job = wait_for_job(api, retried)
    assert (job["status"], job["attempt"]) == ("COMPLETE", 2), job
    assert job["attempts"][0]["status"] == "TIMED_OUT"
    other = wait_for_job(api, not_asked)
    assert (other["status"], other["attempt"]) == ("TIMED_OUT", 1)


def test_a_back_off_waits_not_claimable_until_eligible_at(api):
    job_id = submit(api, "exit 1", retry={"attempts": 3, "backoff": {"initial": 600, "factor": 2}})
    job = wait_until(
        lambda: (j := api.get(f"/api/jobs/{job_id}").json()["data"])["attempt"] == 2 and j,
        "the first attempt's end",
    )
    assert (job["status"], job["waiting_for"]) == ("QUEUED", "backoff")
    ended = when(job["attempts"][0]["finished_at"])
    eligible = when(job["eligible_at"])
    assert abs((eligible - ended).total_seconds() - 600) < 1
    assert job["status_message"] == (
        f"retry: attempt 2 of 3 at {eligible.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    )
    assert job["started_at"] is None and job["host"] is None and job["stdout"] is None
    assert [a["number"] for a in job["attempts"]] == [1]
    events = api.get(f"/api/jobs/{job_id}/events").json()["data"]
    assert (events[-1]["from_status"], events[-1]["to_status"]) == ("RUNNING", "QUEUED")
    assert events[-1]["detail"].startswith(
        "attempt 1 ended FAILED (exit code 1); attempt 2 of 3 at "
    )
    # The earlier attempt's log, not the current (not started) one's.
    assert log(api, job_id)["text"] == ""
    # Cancel stops further attempts at once: the job was QUEUED.
    assert api.post(f"/api/jobs/{job_id}/cancel").status_code == 200
    cancelled = api.get(f"/api/jobs/{job_id}").json()["data"]
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["waiting_for"] is None and cancelled["eligible_at"] is None
    assert [a["number"] for a in cancelled["attempts"]] == [1, 2]
    assert cancelled["attempts"][1]["started_at"] is None


def test_a_short_back_off_runs_the_next_attempt_after_it(api):
    code = '[ "$SHELL_SERVICE_ATTEMPT" -ge 2 ] || exit 1'
    job_id = submit(api, code, retry={"attempts": 2, "backoff": {"initial": 1.5}})
    job = wait_for_job(api, job_id)
    assert (job["status"], job["attempt"]) == ("COMPLETE", 2), job
    first, second = job["attempts"]
    gap = (when(second["started_at"]) - when(first["finished_at"])).total_seconds()
    assert gap >= 1.5
    details = [e["detail"] for e in api.get(f"/api/jobs/{job_id}/events").json()["data"]]
    assert "back-off over" in details


def test_a_job_cancelled_while_running_is_not_retried(api, gate):
    job_id = submit(api, gate.code + "\nexit 75", retry={"attempts": 3, "exit_codes": [75]})
    wait_until(
        lambda: api.get(f"/api/jobs/{job_id}").json()["data"]["status"] == "RUNNING",
        "the job runs",
    )
    assert api.post(f"/api/jobs/{job_id}/cancel").status_code == 200
    job = wait_for_job(api, job_id)
    assert (job["status"], job["attempt"]) == ("CANCELLED", 1)


def test_the_backoff_grows_by_its_factor_up_to_its_maximum():
    strategy = retries.parse_retry({"backoff": {"initial": 10, "factor": 3, "max": 100}})
    assert [retries.backoff_seconds(strategy, n) for n in (1, 2, 3, 4)] == [10, 30, 90, 100]


@pytest.fixture
def sql(cfg):
    connection = PlainSQL(database_url(cfg), "retries test")
    yield connection
    connection.close()


def running_on(host: str, **fields) -> Job:
    started = utcnow() - datetime.timedelta(minutes=5)
    return JobFactory(
        status="RUNNING", queued_at=started, started_at=started, host=host,
        executor=f"{host}:4242", **fields,
    )  # fmt: skip


def cancel_directly(session_factory, job_id: str) -> None:
    # Not left for the in-process executor to run.
    with session_factory() as session:
        session.execute(text("UPDATE jobs SET status = 'CANCELLED' WHERE id = :id"), {"id": job_id})
        session.commit()


@pytest.mark.parametrize("on, retried", [(["HOST_LOST"], True), (["SERVER_ERROR"], False)])
def test_a_lost_hosts_job_is_retried_when_host_lost_is_asked(
    sql, session_factory, paused_executor, on, retried
):
    strategy = retries.parse_retry({"attempts": 2, "on": on})
    job = running_on("gone-host", retry=strategy)
    lost_after = datetime.timedelta(seconds=30)
    assert Registry(sql, "this-host", "this-host:1", lost_after).lose(job.id, "gone-host", False)
    with session_factory() as session:
        after = session.scalar(select(Job).where(Job.id == job.id))
        attempts = session.scalars(select(JobAttempt).where(JobAttempt.job_id == job.id)).all()
    if retried:
        assert (after.status, after.attempt, after.host, after.executor) == (
            "QUEUED",
            2,
            None,
            None,
        )
        [attempt] = attempts
        assert (attempt.number, attempt.status, attempt.host) == (1, "SERVER_ERROR", "gone-host")
        assert attempt.status_message.startswith("host gone-host lost")
        cancel_directly(session_factory, job.id)
    else:
        assert (after.status, after.attempt, attempts) == ("SERVER_ERROR", 1, [])


def test_a_slurm_jobs_retry_is_handed_to_slurm_again(sql, session_factory, paused_executor):
    from shell_service import queue
    from shell_service.job_states import JobStatus

    strategy = retries.parse_retry({"attempts": 2, "on": ["HOST_LOST"]})
    job = running_on("h/slurm", retry=strategy, slurm_job_id=4242, slurm_node="node1")
    assert queue.finish_job(
        sql, job.id, JobStatus.SERVER_ERROR, message="node lost", executor=job.executor,
        host_lost=True,
    )  # fmt: skip
    with session_factory() as session:
        after = session.scalar(select(Job).where(Job.id == job.id))
    assert (after.status, after.slurm_job_id, after.slurm_node) == ("QUEUED", None, None)
    cancel_directly(session_factory, job.id)


def test_an_attempt_that_ended_by_itself_after_a_cancel_was_asked_is_not_retried(
    sql, session_factory, paused_executor
):
    # Its own end (exit 75) raced the executor's TERM: the cancel still wins.
    from shell_service import queue
    from shell_service.job_states import JobStatus

    strategy = retries.parse_retry({"attempts": 3, "exit_codes": [75]})
    job = running_on("this-host", retry=strategy, cancel_requested_at=utcnow())
    output = queue.JobOutput(return_code=75, stdout="partial\n")
    assert queue.finish_job(sql, job.id, JobStatus.FAILED, output, executor=job.executor)
    with session_factory() as session:
        after = session.scalar(select(Job).where(Job.id == job.id))
    assert (after.status, after.attempt, after.return_code) == ("CANCELLED", 1, 75)


# ---- what a request may ask ---------------------------------------------------

BAD_RETRIES = [
    ("x", "retry"),
    ([3], "retry"),
    ({"attempts": 0}, "attempts"),
    ({"attempts": -1}, "attempts"),
    ({"attempts": 2.5}, "attempts"),
    ({"attempts": True}, "attempts"),
    ({"attempts": "3"}, "attempts"),
    ({"attempts": 10**30}, "attempts"),
    ({"attempts": 11}, "attempts"),  # over config jobs.max_attempts (10)
    ({"on": []}, "on"),
    ({"on": "FAILED"}, "on"),
    ({"on": ["CANCELLED"]}, "on"),
    ({"exit_codes": []}, "exit_codes"),
    ({"exit_codes": [256]}, "exit_codes"),
    ({"exit_codes": [-1]}, "exit_codes"),
    ({"exit_codes": [0]}, "exit_codes"),
    ({"exit_codes": ["1"]}, "exit_codes"),
    ({"exit_codes": [1], "on": ["TIMED_OUT"]}, "exit_codes"),
    ({"backoff": 10}, "backoff"),
    ({"backoff": {"initial": -1}}, "backoff.initial"),
    ({"backoff": {"initial": 10**9}}, "backoff.initial"),
    ({"backoff": {"initial": "10"}}, "backoff.initial"),
    ({"backoff": {"factor": 0.5}}, "backoff.factor"),
    ({"backoff": {"factor": 1e308}}, "backoff.factor"),
    ({"backoff": {"initial": 10, "max": 5}}, "backoff.max"),
    ({"backoff": {"jitter": 1}}, "backoff.jitter"),
    ({"tries": 3}, "tries"),
]


@pytest.mark.parametrize("retry, named", BAD_RETRIES)
def test_a_bad_retry_is_a_400_naming_the_field(api, retry, named):
    response = api.post("/api/jobs", json={"code": "true", "retry": retry})
    assert_error(response, 400, mentions="retry")
    assert f"{named}:" in response.json()["message"], response.json()["message"]


@pytest.mark.parametrize("attempts", [0, -1, 11, 100, 101, 2**31, 2**63, 10**30])
def test_a_bad_attempts_names_the_real_limit(api, cfg, attempts):
    response = api.post("/api/jobs", json={"code": "true", "retry": {"attempts": attempts}})
    message = response.json()["message"]
    assert response.status_code == 400 and "100" not in message.replace(str(attempts), "")
    if attempts > 0:
        assert f"at most {cfg['jobs']['max_attempts']} (config jobs.max_attempts)" in message
    else:
        assert "1 or more" in message


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_are_a_400(api, number):
    body = '{"code": "true", "retry": {"backoff": {"initial": NUMBER}}}'.replace("NUMBER", number)
    response = api.post("/api/jobs", data=body, headers={"Content-Type": "application/json"})
    assert_error(response, 400)


def test_a_ready_jobs_retry_changes_and_a_rerun_keeps_it(api):
    job_id = create_job(api, "true")
    changed = api.request("PATCH", f"/api/jobs/{job_id}", json={"retry": {"attempts": 4}})
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["retry"]["attempts"] == 4
    assert_error(
        api.request("PATCH", f"/api/jobs/{job_id}", json={"retry": {"attempts": 0}}),
        400,
        mentions="retry",
    )
    cleared = api.request("PATCH", f"/api/jobs/{job_id}", json={"retry": None})
    assert cleared.json()["data"]["retry"] is None
    api.request("PATCH", f"/api/jobs/{job_id}", json={"retry": {"attempts": 2}})
    rerun = api.post(f"/api/jobs/{job_id}/rerun")
    assert rerun.status_code == 200, rerun.text
    again = api.get(f"/api/jobs/{rerun.json()['data']['id']}").json()["data"]
    assert again["retry"]["attempts"] == 2 and again["attempt"] == 1


def test_a_definitions_retry_is_a_default_a_run_overrides(api):
    created = api.post(
        "/api/definitions",
        json={"name": "flaky_def", "code": "exit 1", "retry": {"attempts": 2}},
    )
    assert created.status_code == 200, created.text
    first = api.post("/api/definitions/flaky_def/run", json={})
    assert first.status_code == 200, first.text
    job = wait_for_job(api, first.json()["data"]["id"])
    assert (job["status"], job["attempt"]) == ("FAILED", 2)
    second = api.post(
        "/api/definitions/flaky_def/run", json={"overrides": {"retry": {"attempts": 1}}}
    )
    job = wait_for_job(api, second.json()["data"]["id"])
    assert (job["status"], job["attempt"], job["retry"]["attempts"]) == ("FAILED", 1, 1)
    refused = api.post(
        "/api/definitions/flaky_def/run", json={"overrides": {"retry": {"attempts": 99}}}
    )
    assert_error(refused, 400, mentions="retry")


def test_a_followed_log_goes_on_with_each_next_attempts_output(api):
    # Each attempt's output is as long as the last: its new directory tells.
    backoff = {"initial": 0.6, "factor": 1}
    job_id = submit(api, FLAKY, retry={"attempts": 3, "backoff": backoff})
    response = api.get(f"/api/jobs/{job_id}/log", params={"follow": "true"})
    assert response.status_code == 200
    assert response.text == "attempt 1\nattempt 2\nattempt 3\n"
    assert wait_for_job(api, job_id)["attempt"] == 3


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_a_followed_log_misses_nothing_when_attempts_follow_at_once(api, stream):
    # No back-off: an attempt ends and the next starts within one look at the file.
    # Each attempt writes a different length, so an offset carried over would cut
    # the next one's start; lines after a pause end each attempt.
    code = (
        'n=$SHELL_SERVICE_ATTEMPT; i=0; while [ $i -lt $((4 - n)) ]; do echo "a$n line $i"; '
        'i=$((i+1)); done; sleep 0.3; echo "a$n end"; [ "$n" -ge 4 ] || exit 75'
    )
    if stream == "stderr":
        code = f"exec >&2; {code}"
    job_id = submit(api, code, retry={"attempts": 4})
    response = api.get(f"/api/jobs/{job_id}/log", params={"follow": "true", "stream": stream})
    expected = "".join(
        "".join(f"a{n} line {i}\n" for i in range(4 - n)) + f"a{n} end\n" for n in range(1, 5)
    )
    assert response.text == expected
    assert wait_for_job(api, job_id)["attempt"] == 4


def test_a_follower_takes_an_attempts_unread_rest_from_its_stored_output(
    sql, session_factory, tmp_path
):
    from shell_service.executors.job_files import write_attempt
    from shell_service.handlers.api.job_log import FollowedOutput

    job = JobFactory(status="RUNNING", attempt=3)
    with session_factory() as session:
        for number, out in ((1, "one\nmore of one\n"), (2, "two\n")):
            session.add(JobAttempt(job_id=job.id, number=number, status="FAILED", stdout=out))
        session.commit()
    directory = tmp_path / job.id

    def attempt_directory(number: int, stdout: str) -> None:
        if directory.exists():
            for child in directory.iterdir():
                child.unlink()
            directory.rmdir()
        directory.mkdir()
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        write_attempt(fd, number, job.number)
        os.close(fd)
        (directory / "stdout").write_text(stdout)

    attempt_directory(1, "one\n")
    follower = FollowedOutput(sql, job.id, directory / "stdout", "stdout", 0, number=job.number)
    assert follower.read(False) == b"one\n" and follower.attempt == 1
    assert follower.read(False) == b""
    # Attempts 1 and 2 ended and 3 started between two looks: 1's rest and 2's
    # whole output come from the database, then 3's file from its start.
    attempt_directory(3, "three\n")
    assert follower.read(False) == b"more of one\ntwo\n"
    assert follower.read(False) == b"three\n" and (follower.attempt, follower.in_file) == (3, 6)
    # A directory being made anew (no attempt file yet) is not read.
    (directory / "attempt").unlink()
    (directory / "stdout").write_text("three\nfour\n")
    assert follower.read(False) == b""


def test_deleting_a_retried_job_hands_each_attempts_directory_to_its_host(api, session_factory):
    job = JobFactory(submitter=api.user, status="FAILED", host="host-b", executor="host-b:7")
    with session_factory() as session:
        session.add(JobAttempt(job_id=job.id, number=1, status="FAILED", host="host-a"))
        session.commit()
    assert api.delete(f"/api/jobs/{job.id}").status_code == 200
    with session_factory() as session:
        rows = session.execute(
            text("SELECT host FROM job_dirs_to_remove WHERE job_id = :id ORDER BY host"),
            {"id": job.id},
        ).all()
        session.execute(text("DELETE FROM job_dirs_to_remove WHERE job_id = :id"), {"id": job.id})
        session.commit()
    assert [row[0] for row in rows] == ["host-a", "host-b"]


@pytest.mark.parametrize("retry", ["x", 3, []])
def test_a_retry_that_is_not_an_object_is_named_once(api, retry):
    response = api.post("/api/jobs", json={"code": "true", "retry": retry})
    assert_error(response, 400, field="retry")
    assert "retry: retry:" not in response.json()["message"]
