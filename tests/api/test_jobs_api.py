"""The job API: creating, validating, listing, access control and execution."""

import datetime
import re
import uuid

import pytest

from ..factories import JobFactory
from ..helpers import create_job, run_job, wait_for_job
from .envelope import assert_error, assert_success

JOB_FIELDS = {
    "id",
    "code",
    "status",
    "return_code",
    "stdout",
    "stderr",
    "submitter_id",
    "created_at",
    "modified",
    "started_at",
    "finished_at",
}


def unique_name(prefix: str = "job") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


# ---- creating ---------------------------------------------------------------


def test_job_created_with_a_name_keeps_it_and_is_ready(api):
    name = unique_name()
    assert assert_success(api.post("/api/jobs", json={"id": name, "code": "echo hi"})) == {
        "id": name
    }
    job = assert_success(api.get(f"/api/jobs/{name}"))
    assert JOB_FIELDS <= set(job), job
    assert job["status"] == "READY"
    assert job["code"] == "echo hi"
    assert job["submitter_id"] == api.user.id
    assert job["return_code"] is None
    assert job["started_at"] is None and job["finished_at"] is None


def test_job_created_without_a_name_gets_a_generated_unique_one(api):
    first = assert_success(api.post("/api/jobs", json={"code": "true"}))["id"]
    second = assert_success(api.post("/api/jobs", json={"code": "true"}))["id"]
    assert first != second
    for job_id in (first, second):
        assert re.fullmatch(r"[A-Za-z0-9_.-]{1,128}", job_id), job_id
        assert assert_success(api.get(f"/api/jobs/{job_id}"))["status"] == "READY"


@pytest.mark.parametrize(
    "name", ["a", "A-b_c.d", "x" * 128, "0123", "a..b", ".hidden", "-dash", "job.v2"]
)
def test_valid_job_names_are_accepted(api, name):
    # Names are global, so make each one unique while keeping its shape.
    name = name if len(name) == 128 else f"{name}{uuid.uuid4().hex[:8]}"
    assert assert_success(api.post("/api/jobs", json={"id": name, "code": "true"}))["id"] == name
    assert assert_success(api.get(f"/api/jobs/{name}"))["id"] == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "has space",
        " leading",
        "trailing ",
        "x" * 129,
        ".",
        "..",
        "...",
        "a/b",
        "../etc",
        "a\\b",
        "tab\there",
        "trailing\n",
        "new\nline",
        "nul\x00byte",
        "ünïcode",
        "日本",
        "emoji😀",
        "semi;colon",
        "$(reboot)",
        "a*b",
    ],
)
def test_invalid_job_name_is_400_naming_the_field(api, name):
    assert_error(api.post("/api/jobs", json={"id": name, "code": "true"}), 400, field="id")


def test_invalid_job_name_creates_nothing(api):
    assert_error(api.post("/api/jobs", json={"id": "bad name", "code": "true"}), 400)
    assert_error(api.get("/api/jobs/bad name"), 404)


def test_taken_job_name_is_409(api):
    name = unique_name()
    create_job(api, "echo first", id=name)
    assert_error(api.post("/api/jobs", json={"id": name, "code": "echo second"}), 409)
    # The original is untouched.
    assert assert_success(api.get(f"/api/jobs/{name}"))["code"] == "echo first"


def test_job_name_taken_by_another_user_is_409_and_theirs_is_untouched(api, admin_api):
    other_job = JobFactory(code="echo theirs")
    assert_error(api.post("/api/jobs", json={"id": other_job.id, "code": "echo mine"}), 409)
    job = assert_success(admin_api.get(f"/api/jobs/{other_job.id}"))
    assert job["code"] == "echo theirs"
    assert job["submitter_id"] == other_job.submitter_id


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "code"),
        ({"id": unique_name()}, "code"),
        ({"code": ""}, "code"),
        ({"code": None}, "code"),
        ({"code": 5}, "code"),
        ({"code": ["echo", "hi"]}, "code"),
        ({"code": {"sh": "echo"}}, "code"),
        ({"code": "true", "id": 5}, "id"),
        ({"code": "true", "id": ["a"]}, "id"),
        ({"code": "true", "status": "COMPLETE"}, "status"),
        ({"code": "true", "submitter_id": 1}, "submitter_id"),
        ({"code": "true", "bogus": 1}, "bogus"),
    ],
)
def test_bad_job_body_is_400_naming_the_field(api, body, field):
    assert_error(api.post("/api/jobs", json=body), 400, field=field)


def test_code_with_nul_byte_is_400_not_500(api):
    assert_error(api.post("/api/jobs", json={"code": "echo a\x00b"}), 400, field="code")


def test_code_with_unpaired_surrogate_is_400_not_500(api):
    response = api.post("/api/jobs", data=b'{"code": "echo \\ud800"}')
    assert_error(response, 400, field="code")


def test_code_with_any_valid_unicode_is_kept_exactly(api):
    code = "echo 'h\u00e9llo \U0001f600 \u65e5\u672c'"
    job_id = create_job(api, code)
    assert assert_success(api.get(f"/api/jobs/{job_id}"))["code"] == code


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"not json",
        b"{'code': 'true'}",
        b'{"code": "true",}',
        b"[]",
        b'["code", "true"]',
        b'"echo hi"',
        b"null",
        b"42",
        b'{"code": "\xff\xfe"}',
        b"\xff\xfe\x00\x00",
        b'{"code": NaN}',
    ],
)
def test_body_that_is_not_a_json_object_is_400(api, raw):
    response = api.post("/api/jobs", data=raw, headers={"Content-Type": "application/json"})
    assert_error(response, 400)


# ---- reading and listing ----------------------------------------------------


def test_user_cannot_see_another_users_job_same_as_missing(api):
    other_job = JobFactory()
    missing = assert_error(api.get("/api/jobs/no_such_job_anywhere"), 404)
    hidden = assert_error(api.get(f"/api/jobs/{other_job.id}"), 404)
    # Indistinguishable apart from the name echoed back.
    assert hidden["message"].replace(other_job.id, "X") == missing["message"].replace(
        "no_such_job_anywhere", "X"
    )


def test_user_cannot_execute_another_users_job(api, admin_api):
    other_job = JobFactory()
    assert_error(api.post(f"/api/jobs/{other_job.id}/execute"), 404)
    assert_error(api.get(f"/api/execute/{other_job.id}"), 404)
    assert assert_success(admin_api.get(f"/api/jobs/{other_job.id}"))["status"] == "READY"


def test_user_cannot_read_events_of_another_users_job(api):
    other_job = JobFactory()
    assert_error(api.get(f"/api/jobs/{other_job.id}/events"), 404)


def test_admin_sees_and_executes_anyones_job(admin_api, api):
    job_id = create_job(api, "echo run by admin")
    assert assert_success(admin_api.get(f"/api/jobs/{job_id}"))["submitter_id"] == api.user.id
    assert assert_success(admin_api.post(f"/api/jobs/{job_id}/execute")) == {
        "id": job_id,
        "status": "QUEUED",
    }
    job = wait_for_job(admin_api, job_id)
    assert job["status"] == "COMPLETE"
    assert job["stdout"] == "run by admin\n"
    # It stays the user's job.
    assert job["submitter_id"] == api.user.id
    assert assert_success(api.get(f"/api/jobs/{job_id}"))["status"] == "COMPLETE"


@pytest.mark.parametrize(
    "job_id", ["no_such_job", "x" * 129, "x" * 5000, "%00", "a%00b", "..", "ünï", "1"]
)
def test_unknown_or_impossible_job_id_is_404(api, job_id):
    assert_error(api.get(f"/api/jobs/{job_id}"), 404)
    assert_error(api.get(f"/api/jobs/{job_id}/events"), 404)
    assert_error(api.post(f"/api/jobs/{job_id}/execute"), 404)
    assert_error(api.get(f"/api/execute/{job_id}"), 404)


def test_user_lists_only_own_jobs_newest_first(api):
    foreign = JobFactory()
    mine = [create_job(api, f"echo {i}") for i in range(3)]
    jobs = assert_success(api.get("/api/jobs"))
    assert {job["submitter_id"] for job in jobs} == {api.user.id}
    assert foreign.id not in {job["id"] for job in jobs}
    assert [job["id"] for job in jobs[:3]] == mine[::-1]
    assert JOB_FIELDS <= set(jobs[0])


def test_admin_lists_everyones_jobs(admin_api, api):
    users_job = create_job(api, "true")
    admins_job = create_job(admin_api, "true")
    jobs = assert_success(admin_api.get("/api/jobs", params={"limit": 10}))
    assert [job["id"] for job in jobs[:2]] == [admins_job, users_job]


def test_job_list_returns_at_most_100_by_default(api):
    for _ in range(101):
        JobFactory(submitter=api.user)
    assert len(assert_success(api.get("/api/jobs"))) == 100
    assert len(assert_success(api.get("/api/jobs", params={"limit": 1000}))) == 101


def test_job_list_limit_and_offset_page_through_newest_first(api):
    ids = [create_job(api, "true") for _ in range(5)][::-1]
    assert [j["id"] for j in assert_success(api.get("/api/jobs", params={"limit": 2}))] == ids[:2]
    page = assert_success(api.get("/api/jobs", params={"limit": 2, "offset": 2}))
    assert [j["id"] for j in page] == ids[2:4]
    assert assert_success(api.get("/api/jobs", params={"offset": 5})) == []
    # One job's answer adds its dependencies, an array's task counts and its
    # attempts (none while READY).
    single = assert_success(api.get(f"/api/jobs/{ids[0]}"))
    assert single.pop("depends_on") == [] and single.pop("array_tasks") is None
    assert single.pop("attempts") == []
    assert assert_success(api.get("/api/jobs", params={"limit": 1})) == [single]


@pytest.mark.parametrize(
    "params,field",
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": -1}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": ""}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"limit": str(10**40)}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": "abc"}, "offset"),
        ({"offset": str(10**40)}, "offset"),
        ({"bogus": "1"}, "bogus"),
    ],
)
def test_bad_job_list_query_is_400_naming_the_argument(api, params, field):
    assert_error(api.get("/api/jobs", params=params), 400, field=field)


# ---- executing --------------------------------------------------------------


def test_executing_a_job_twice_is_409(api):
    job_id = create_job(api, "true")
    assert_success(api.post(f"/api/jobs/{job_id}/execute"))
    assert_error(api.post(f"/api/jobs/{job_id}/execute"), 409, mentions=job_id)
    wait_for_job(api, job_id)
    assert_error(api.post(f"/api/jobs/{job_id}/execute"), 409)
    assert_error(api.get(f"/api/execute/{job_id}"), 409)


def test_original_execute_call_queues_and_runs_the_job(api):
    job_id = create_job(api, "echo via the original call")
    assert assert_success(api.get(f"/api/execute/{job_id}")) == {"id": job_id, "status": "QUEUED"}
    job = wait_for_job(api, job_id)
    assert job["status"] == "COMPLETE"
    assert job["stdout"] == "via the original call\n"


def test_finished_job_has_output_return_code_and_times(api):
    job = run_job(api, "echo out; echo err >&2")
    assert job["status"] == "COMPLETE"
    assert job["return_code"] == 0
    assert job["stdout"] == "out\n"
    assert job["stderr"] == "err\n"
    created, started, finished = (
        datetime.datetime.fromisoformat(job[key])
        for key in ("created_at", "started_at", "finished_at")
    )
    assert created <= started <= finished


def test_nonzero_exit_is_failed_with_that_return_code(api):
    job = run_job(api, "echo partial; exit 3")
    assert job["status"] == "FAILED"
    assert job["return_code"] == 3
    assert job["stdout"] == "partial\n"
    assert job["finished_at"] is not None


def test_job_writing_nul_bytes_and_invalid_utf8_still_completes(api):
    job = run_job(api, r"printf 'a\000b\377\376c\n'; printf 'e\000\200\n' >&2")
    assert job["status"] == "COMPLETE", job
    assert job["return_code"] == 0
    assert job["stdout"].startswith("a") and job["stdout"].endswith("c\n")
    assert "\x00" not in job["stdout"] and "\x00" not in job["stderr"]
    assert job["stderr"].startswith("e")


def test_job_events_record_every_transition_with_its_actor(api, admin_api):
    job_id = create_job(api, "true")
    assert_success(admin_api.post(f"/api/jobs/{job_id}/execute"))
    wait_for_job(api, job_id)

    events = assert_success(api.get(f"/api/jobs/{job_id}/events"))
    transitions = [(e["from_status"], e["to_status"]) for e in events]
    assert transitions == [
        (None, "READY"),
        ("READY", "QUEUED"),
        ("QUEUED", "RUNNING"),
        ("RUNNING", "COMPLETE"),
    ]
    assert {e["job_id"] for e in events} == {job_id}
    # Who created it, who submitted it; the executor's own moves have no user.
    assert [e["actor_id"] for e in events] == [api.user.id, admin_api.user.id, None, None]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)


def test_failed_job_events_end_in_failed(api):
    job_id = run_job(api, "exit 3")["id"]
    events = assert_success(api.get(f"/api/jobs/{job_id}/events"))
    assert events[-1]["from_status"] == "RUNNING"
    assert events[-1]["to_status"] == "FAILED"


def test_ready_job_has_only_its_creation_event(api):
    job_id = create_job(api, "true")
    events = assert_success(api.get(f"/api/jobs/{job_id}/events"))
    assert [(e["from_status"], e["to_status"], e["actor_id"]) for e in events] == [
        (None, "READY", api.user.id)
    ]
