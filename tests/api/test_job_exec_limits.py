"""args and env the kernel can pass, and no more (issue 11, 4b).

execve(2) takes one argument or environment entry of at most 131071 bytes
(MAX_ARG_STRLEN 131072 with its NUL), and all of them together within the
argument space (ARG_MAX). A job past either was accepted and then ended
SERVER_ERROR "Argument list too long"; now it is a 400 naming the field, on
create and on change, and a job just within the limits runs.
"""

import json

import pytest

from shell_service.schemas import MAX_ARG_STRLEN, exec_space

from ..helpers import create_job, run_job, wait_for_job
from .envelope import assert_error, assert_success

LONGEST = MAX_ARG_STRLEN - 1  # 131071 bytes: the NUL makes MAX_ARG_STRLEN
#: Arguments per job in the tests of the total (each well under LONGEST).
COUNT = 21


def patch(api, job_id: str, changes: dict):
    return api.request("PATCH", f"/api/jobs/{job_id}", json=changes)


def test_an_argument_of_131071_bytes_runs_and_one_of_131072_is_a_400(api):
    job = run_job(api, 'printf %s "$1" | wc -c', args=["x" * LONGEST])
    assert job["status"] == "COMPLETE", job
    assert job["stdout"].strip() == str(LONGEST)
    response = api.post("/api/jobs", json={"code": "echo ok", "args": ["x" * (LONGEST + 1)]})
    assert_error(response, 400, field="args", mentions="item 0 is 131072 bytes")
    assert "131071" in response.json()["message"]


def test_bytes_count_not_characters(api):
    # 65536 characters, 131072 bytes in UTF-8: one byte too many.
    body = {"code": "echo ok", "args": ["ok", "\u00e9" * 65536]}
    assert_error(api.post("/api/jobs", json=body), 400, field="args", mentions="item 1 is 131072")
    # 65535 two-byte characters and one ASCII: 131071 bytes, the most that runs.
    job = run_job(api, 'printf %s "$1" | wc -c', args=["\u00e9" * 65535 + "x"])
    assert job["status"] == "COMPLETE", job
    assert job["stdout"].strip() == str(LONGEST)


def test_an_environment_entry_counts_key_equals_value(api):
    # "V=" and 131069 bytes: 131071.
    job = run_job(api, 'printf %s "$V" | wc -c', env={"V": "x" * (LONGEST - 2)})
    assert job["status"] == "COMPLETE", job
    assert job["stdout"].strip() == str(LONGEST - 2)
    body = {"code": "echo ok", "env": {"OK": "1", "VERY_LONG": "x" * (LONGEST - 9)}}
    response = api.post("/api/jobs", json=body)
    assert_error(response, 400, field="env", mentions="VERY_LONG: VERY_LONG=VALUE is 131072")


def sizes_around_the_total() -> tuple[int, int]:
    """Lengths of COUNT arguments that just fit together, and that just do not
    (each string costs its bytes, a NUL and an 8-byte pointer)."""
    fits = exec_space() // COUNT - 9
    return fits, fits + 1


def test_arguments_each_fine_but_together_too_long_are_a_400(api, server):
    _, too_long = sizes_around_the_total()
    body = {"code": "echo ok", "args": ["x" * too_long] * COUNT}
    assert too_long < LONGEST
    assert len(json.dumps(body)) < server.cfg["server"]["max_body_bytes"]  # else a 413
    response = api.post("/api/jobs", json=body)
    assert_error(response, 400, field="args", mentions="args and env together")
    # The same in the environment.
    body = {"code": "echo ok", "env": {f"V{n:02d}": "x" * (too_long - 4) for n in range(COUNT)}}
    assert_error(api.post("/api/jobs", json=body), 400, field="env", mentions="together")


def test_arguments_that_just_fit_together_run(api):
    fits, _ = sizes_around_the_total()
    job = run_job(api, 'echo "$# ${#1}"', args=["x" * fits] * COUNT)
    assert job["status"] == "COMPLETE", job
    assert job["stdout"] == f"{COUNT} {fits}\n"


def test_a_change_is_held_to_the_same_limits_with_what_the_job_keeps(api):
    fits, too_long = sizes_around_the_total()
    # "KEEP=" and fits - 5 bytes: it costs as much as one argument of fits bytes.
    job_id = create_job(api, 'echo "$# ${#1} ${#KEEP}"', env={"KEEP": "x" * (fits - 5)})
    assert_error(patch(api, job_id, {"args": ["x" * (LONGEST + 1)]}), 400, field="args")
    assert_error(patch(api, job_id, {"env": {"V": "x" * LONGEST}}), 400, field="env")
    # Each fine, and fine alone; with the stored env, too many.
    response = patch(api, job_id, {"args": ["x" * (too_long + 1)] * (COUNT - 1)})
    assert_error(response, 400, mentions="args and env together")
    # Just fits with the stored env: accepted, and it runs.
    assert_success(patch(api, job_id, {"args": ["x" * fits] * (COUNT - 1)}))
    assert_success(api.post(f"/api/jobs/{job_id}/execute"))
    job = wait_for_job(api, job_id)
    assert job["status"] == "COMPLETE", job
    assert job["stdout"] == f"{COUNT - 1} {fits} {fits - 5}\n"


@pytest.mark.parametrize(
    "body,field",
    [
        ({"args": ["a\x00b"]}, "args"),
        ({"env": {"V": "a\x00b"}}, "env"),
        ({"env": {"": "x"}}, "env"),
        ({"env": {"A=B": "x"}}, "env"),
        ({"env": {"A\x00": "x"}}, "env"),
        ({"env": {"1A": "x"}}, "env"),
    ],
)
def test_what_no_process_can_be_given_is_a_400(api, body, field):
    assert_error(api.post("/api/jobs", json={"code": "true", **body}), 400, field=field)
    assert_error(patch(api, create_job(api, "true"), body), 400, field=field)
