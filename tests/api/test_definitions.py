"""Job definitions: versions, typed parameters, runs, who may see, change and run them,
and secrets that never come back out."""

import hashlib
import uuid

import pytest

from shell_service import definitions

from ..factories import TokenFactory, UserFactory
from ..helpers import wait_for_job
from .envelope import assert_error


def unique(prefix: str = "def") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


NIGHTLY = {
    "description": "Load one day",
    "code": 'echo "day=$DAY rows=$ROWS mode=$MODE tags=$TAGS dry=$DRY ratio=$RATIO args=$*"',
    "shell": "bash",
    "timeout": 60,
    "parameters": [
        {"name": "DAY", "type": "string", "required": True, "pattern": r"\d{4}-\d{2}-\d{2}"},
        {"name": "ROWS", "type": "integer", "default": 10, "min": 1, "max": 1000},
        {"name": "MODE", "type": "choice", "choices": ["full", "delta"], "default": "delta"},
        {"name": "TAGS", "type": "multichoice", "choices": ["a", "b", "c"]},
        {"name": "DRY", "type": "boolean", "default": False},
        {"name": "RATIO", "type": "number", "min": 0, "max": 1},
        {"name": "first", "type": "string", "pass_as": "arg"},
        {"name": "second", "type": "string", "pass_as": "arg"},
    ],
}


def create(client, name=None, **fields) -> dict:
    body = {"name": name or unique(), **NIGHTLY, **fields}
    response = client.post("/api/definitions", json=body)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def run(client, name, expect=200, **body):
    response = client.post(f"/api/definitions/{name}/run", json=body)
    assert response.status_code == expect, response.text
    return response.json()


def test_a_run_passes_each_parameter_by_type_and_records_the_version(api):
    definition = create(api)
    assert definition["version"] == definition["latest_version"] == 1
    job_id = run(
        api,
        definition["name"],
        parameters={"DAY": "2026-11-30", "TAGS": ["a", "c"], "RATIO": 0.5, "second": "two"},
    )["data"]["id"]
    job = wait_for_job(api, job_id)
    assert job["status"] == "COMPLETE", job
    assert job["stdout"] == (
        "day=2026-11-30 rows=10 mode=delta tags=a,c dry=false ratio=0.5 args= two\n"
    )
    assert job["definition_name"] == definition["name"]
    assert job["definition_id"] == definition["id"]
    assert job["definition_version"] == 1
    assert job["parameters"] == {
        "DAY": "2026-11-30",
        "ROWS": 10,
        "MODE": "delta",
        "TAGS": ["a", "c"],
        "DRY": False,
        "RATIO": 0.5,
        "second": "two",
    }
    assert job["timeout"] == 60 and job["submitter_id"] == api.user.id


def test_strings_that_are_numbers_and_booleans_are_taken_as_them(api):
    definition = create(api)
    job_id = run(
        api,
        definition["name"],
        parameters={"DAY": "2026-01-01", "ROWS": "42", "DRY": "true", "RATIO": "1"},
    )["data"]["id"]
    job = wait_for_job(api, job_id)
    assert "rows=42 " in job["stdout"] and "dry=true " in job["stdout"]
    assert job["parameters"]["ROWS"] == 42 and job["parameters"]["DRY"] is True


@pytest.mark.parametrize(
    "parameters, field, words",
    [
        ({}, "parameters.DAY", "missing"),
        ({"DAY": None}, "parameters.DAY", "missing"),
        ({"DAY": "30/11/2026"}, "parameters.DAY", "pattern"),
        ({"DAY": 20261130}, "parameters.DAY", "must be a string"),
        ({"DAY": "2026-11-30", "ROWS": "ten"}, "parameters.ROWS", "integer"),
        ({"DAY": "2026-11-30", "ROWS": 1.5}, "parameters.ROWS", "integer"),
        ({"DAY": "2026-11-30", "ROWS": True}, "parameters.ROWS", "integer"),
        ({"DAY": "2026-11-30", "ROWS": 0}, "parameters.ROWS", "at least 1"),
        ({"DAY": "2026-11-30", "ROWS": 1001}, "parameters.ROWS", "at most 1000"),
        ({"DAY": "2026-11-30", "MODE": "half"}, "parameters.MODE", "one of: full, delta"),
        ({"DAY": "2026-11-30", "TAGS": ["a", "z"]}, "parameters.TAGS", "z: not among"),
        ({"DAY": "2026-11-30", "TAGS": ["a", "a"]}, "parameters.TAGS", "twice"),
        ({"DAY": "2026-11-30", "TAGS": {"a": 1}}, "parameters.TAGS", "list"),
        ({"DAY": "2026-11-30", "DRY": "maybe"}, "parameters.DRY", "true or false"),
        ({"DAY": "2026-11-30", "RATIO": "NaN"}, "parameters.RATIO", "must be a number"),
        ({"DAY": "2026-11-30", "RATIO": 2}, "parameters.RATIO", "at most 1"),
        ({"DAY": "2026-11-30", "nope": 1}, "parameters.nope", "no such parameter"),
        ({"DAY": "2026-11-30\x00"}, "parameters.DAY", "NUL"),
    ],
)
def test_a_wrong_parameter_is_a_400_naming_it_and_nothing_is_queued(api, parameters, field, words):
    definition = create(api)
    response = api.post(
        f"/api/definitions/{definition['name']}/run", json={"parameters": parameters}
    )
    body = assert_error(response, 400)
    assert field in body["data"]["errors"], body
    assert words in " ".join(body["data"]["errors"][field])
    listed = api.get(f"/api/jobs?definition={definition['name']}").json()
    assert listed["data"] == []


def test_a_number_too_large_for_a_float_is_a_400(api):
    definition = create(api)
    raw = b'{"parameters": {"DAY": "2026-11-30", "RATIO": 1e400}}'
    response = api.post(f"/api/definitions/{definition['name']}/run", data=raw)
    assert_error(response, 400)


def test_a_pattern_that_backtracks_for_ever_fails_the_value_not_the_worker(api):
    definition = create(
        api,
        parameters=[{"name": "S", "type": "string", "pattern": r"(a|aa)+$"}],
        code="echo $S",
    )
    response = api.post(
        f"/api/definitions/{definition['name']}/run", json={"parameters": {"S": "a" * 64 + "!"}}
    )
    body = assert_error(response, 400)
    assert "must match the pattern" in body["data"]["errors"]["parameters.S"][0]


@pytest.mark.parametrize("pattern", ["a{1000000000}", "(x{1000}){1000}", "((a{100}){100}){100}"])
def test_a_pattern_cannot_fill_the_hosts_memory(api, pattern):
    # Python's re and regex build each repetition: a{1000000000} took 22 GB once.
    response = api.post(
        "/api/definitions",
        json={
            "name": unique(),
            "code": "true",
            "parameters": [{"name": "P", "type": "string", "pattern": pattern}],
        },
    )
    assert response.status_code in (200, 400), response.text
    assert api.get("/api/definitions").status_code == 200


@pytest.mark.parametrize(
    "parameters, field",
    [
        ([{"name": "x", "type": "colour"}], "type"),
        ([{"name": "1x", "type": "string"}], "name"),
        ([{"name": "x", "type": "choice"}], "choices"),
        ([{"name": "x", "type": "choice", "choices": ["a", "a"]}], "choices"),
        ([{"name": "x", "type": "string", "choices": ["a"]}], "choices"),
        ([{"name": "x", "type": "string", "min": 1}], "min"),
        ([{"name": "x", "type": "integer", "min": 1.5}], "min"),
        ([{"name": "x", "type": "integer", "min": 5, "max": 1}], "max"),
        ([{"name": "x", "type": "integer", "pattern": "1"}], "pattern"),
        ([{"name": "x", "type": "string", "pattern": "("}], "pattern"),
        ([{"name": "x", "type": "integer", "default": "many"}], "default"),
        ([{"name": "x", "type": "integer", "default": 9, "max": 5}], "default"),
        ([{"name": "x", "type": "secret", "pass_as": "arg"}], "pass_as"),
        ([{"name": "x", "type": "secret", "default": "hunter2"}], "default"),
        ([{"name": "x", "type": "string", "pass_as": "arg", "env_var": "Y"}], "env_var"),
        ([{"name": "x", "type": "string", "env_var": "1Y"}], "env_var"),
        ([{"name": "x", "type": "string", "separator": ";"}], "separator"),
        ([{"name": "x", "type": "string", "pass_as": "stdin"}], "pass_as"),
    ],
)
def test_a_parameter_that_does_not_validate_is_a_400_naming_the_field(api, parameters, field):
    response = api.post(
        "/api/definitions", json={"name": unique(), "code": "true", "parameters": parameters}
    )
    body = assert_error(response, 400)
    errors = body["data"]["errors"]["parameters"]["0"]
    assert field in errors, body


def test_two_parameters_may_not_share_a_name_or_a_variable(api):
    for parameters in (
        [{"name": "x", "type": "string"}, {"name": "x", "type": "integer"}],
        [{"name": "x", "type": "string"}, {"name": "y", "type": "string", "env_var": "x"}],
    ):
        response = api.post(
            "/api/definitions", json={"name": unique(), "code": "true", "parameters": parameters}
        )
        assert "parameters" in assert_error(response, 400)["data"]["errors"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"code": "true"}, "name"),
        ({"name": "two words", "code": "true"}, "name"),
        ({"name": "../x", "code": "true"}, "name"),
        ({"name": "x" * 65, "code": "true"}, "name"),
        ({"name": "ok"}, "code"),
        ({"name": "ok", "code": "true", "timeout": 10**9}, "timeout"),
        ({"name": "ok", "code": "true", "queue": "nowhere"}, "queue"),
        ({"name": "ok", "code": "true", "shell": "fish"}, "shell"),
        ({"name": "ok", "code": "true", "shared": "yes"}, "shared"),
        ({"name": "ok", "code": "true", "execute": True}, "execute"),
        ({"name": "ok", "code": "true", "parameters": "DAY"}, "parameters"),
    ],
)
def test_a_definition_that_does_not_validate_is_a_400_naming_the_field(api, body, field):
    body = assert_error(api.post("/api/definitions", json=body), 400)
    assert field in body["data"]["errors"], body


def test_each_change_makes_the_next_version_and_old_versions_still_run(api):
    definition = create(api, code="echo v1 $DAY")
    name = definition["name"]
    patched = api.request("PATCH", f"/api/definitions/{name}", json={"code": "echo v2 $DAY"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["data"]["version"] == 2
    assert patched.json()["data"]["options"] == {"timeout": 60}  # carried over
    assert len(patched.json()["data"]["parameters"]) == len(NIGHTLY["parameters"])
    replaced = api.request("PUT", f"/api/definitions/{name}", json={"code": "echo v3"})
    assert replaced.json()["data"]["version"] == 3
    assert replaced.json()["data"]["parameters"] == []  # PUT carries nothing over
    latest = api.get(f"/api/definitions/{name}").json()["data"]
    assert (latest["version"], latest["code"]) == (3, "echo v3")
    versions = api.get(f"/api/definitions/{name}/versions").json()["data"]
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert [v["code"] for v in versions] == ["echo v3", "echo v2 $DAY", "echo v1 $DAY"]
    one = api.get(f"/api/definitions/{name}/versions/1").json()["data"]
    assert one["code"] == "echo v1 $DAY" and one["latest_version"] == 3
    old = run(api, name, version=1, parameters={"DAY": "2026-11-30"})["data"]["id"]
    assert wait_for_job(api, old)["stdout"] == "v1 2026-11-30\n"
    new = run(api, name)["data"]["id"]
    job = wait_for_job(api, new)
    assert (job["stdout"], job["definition_version"]) == ("v3\n", 3)
    for missing in ("4", "0", "x", "-1", "1.0"):
        assert_error(api.get(f"/api/definitions/{name}/versions/{missing}"), 404)
    body = assert_error(api.post(f"/api/definitions/{name}/run", json={"version": 9}), 400)
    assert "version" in body["data"]["errors"]


def test_a_name_is_unique_per_owner_not_across_owners(api, server):
    name = unique()
    create(api, name)
    assert_error(api.post("/api/definitions", json={"name": name, "code": "true"}), 409)
    other = client_of(server, UserFactory())
    assert other.post("/api/definitions", json={"name": name, "code": "true"}).status_code == 200


def client_of(server, user):
    from ..conftest import Client

    token = TokenFactory(user=user)
    client = Client(server.url, token.secret)
    client.user = user
    return client


def test_an_unshared_definition_is_invisible_to_others(api, server):
    name = create(api)["name"]
    other = client_of(server, UserFactory())
    for method, path, body in (
        ("GET", f"/api/definitions/{name}", None),
        ("GET", f"/api/definitions/{name}/versions", None),
        ("GET", f"/api/definitions/{name}/versions/1", None),
        ("POST", f"/api/definitions/{name}/run", {"parameters": {"DAY": "2026-11-30"}}),
        ("PATCH", f"/api/definitions/{name}", {"code": "id"}),
        ("PUT", f"/api/definitions/{name}", {"code": "id"}),
        ("DELETE", f"/api/definitions/{name}", None),
    ):
        assert_error(other.request(method, path, json=body), 404)
    owner_query = f"/api/definitions/{name}?owner={api.user.username}"
    assert_error(other.get(owner_query), 404)
    assert name not in {d["name"] for d in other.get("/api/definitions").json()["data"]}
    listed = other.get(f"/api/jobs?definition={name}")
    assert listed.status_code == 200 and listed.json()["data"] == []
    # Still there, unchanged, for its owner.
    assert api.get(f"/api/definitions/{name}").json()["data"]["version"] == 1


def test_a_shared_definition_runs_as_the_runner_who_may_not_change_it(api, server, admin_api):
    name = create(api, shared=True, code="id -un; echo $DAY")["name"]
    other = client_of(server, UserFactory())
    assert other.get(f"/api/definitions/{name}").json()["data"]["owner"] == api.user.username
    assert name in {d["name"] for d in other.get("/api/definitions").json()["data"]}
    job_id = run(other, name, parameters={"DAY": "2026-11-30"})["data"]["id"]
    job = wait_for_job(other, job_id)
    assert job["status"] == "COMPLETE" and job["submitter_id"] == other.user.id
    assert job["stdout"].splitlines()[1] == "2026-11-30"
    # The job is the runner's: the definition's owner does not see it.
    assert_error(api.get(f"/api/jobs/{job_id}"), 404)
    assert job_id not in {j["id"] for j in api.get(f"/api/jobs?definition={name}").json()["data"]}
    assert job_id in {j["id"] for j in other.get(f"/api/jobs?definition={name}").json()["data"]}
    for method, body in (("PATCH", {"code": "id"}), ("PUT", {"code": "id"}), ("DELETE", None)):
        assert_error(other.request(method, f"/api/definitions/{name}", json=body), 403)
    # An admin may.
    response = admin_api.request(
        "PATCH", f"/api/definitions/{name}?owner={api.user.username}", json={"shared": False}
    )
    assert response.status_code == 200, response.text
    assert_error(other.get(f"/api/definitions/{name}"), 404)
    # Unshared, it is out of sight; the runner's own runs of it are still theirs.
    assert [j["id"] for j in other.get(f"/api/jobs?definition={name}").json()["data"]] == [job_id]


def test_own_definitions_are_found_first_and_owner_picks_among_shared_ones(api, server):
    name = unique()
    alice, bob = (client_of(server, UserFactory()) for _ in range(2))
    for client, word in ((alice, "alice"), (bob, "bob")):
        response = client.post(
            "/api/definitions", json={"name": name, "code": f"echo {word}", "shared": True}
        )
        assert response.status_code == 200
    body = assert_error(api.get(f"/api/definitions/{name}"), 400)
    assert "owner" in body["data"]["errors"]
    picked = api.get(f"/api/definitions/{name}?owner={bob.user.username}").json()["data"]
    assert picked["code"] == "echo bob"
    job_id = run(api, name, owner=alice.user.username)["data"]["id"]
    assert wait_for_job(api, job_id)["stdout"] == "alice\n"
    assert alice.get(f"/api/definitions/{name}").json()["data"]["code"] == "echo alice"
    create(api, name, code="echo mine", parameters=[])
    assert api.get(f"/api/definitions/{name}").json()["data"]["code"] == "echo mine"


def test_deleting_a_definition_keeps_the_jobs_that_ran_from_it(api):
    name = create(api)["name"]
    job_id = run(api, name, parameters={"DAY": "2026-11-30"})["data"]["id"]
    wait_for_job(api, job_id)
    assert api.delete(f"/api/definitions/{name}").status_code == 200
    assert_error(api.get(f"/api/definitions/{name}"), 404)
    job = api.get(f"/api/jobs/{job_id}").json()["data"]
    assert (job["definition_id"], job["definition_name"], job["definition_version"]) == (
        None,
        name,
        1,
    )
    # Its runs are still listed by its name.
    assert [j["id"] for j in api.get(f"/api/jobs?definition={name}").json()["data"]] == [job_id]
    # The name is free again, and starts at version 1.
    assert create(api, name)["version"] == 1


SECRET = "hunter2-" + uuid.uuid4().hex


def test_only_the_owner_reruns_a_job_with_secrets(api, admin_api):
    name = create(
        api, code="true", parameters=[{"name": "PW", "type": "secret", "required": True}]
    )["name"]
    job_id = run(api, name, parameters={"PW": SECRET})["data"]["id"]
    wait_for_job(api, job_id)
    body = assert_error(admin_api.post(f"/api/jobs/{job_id}/rerun"), 403)
    assert "secret" in body["message"]
    plain = run(api, create(api, parameters=[])["name"])["data"]["id"]
    wait_for_job(api, plain)
    assert admin_api.post(f"/api/jobs/{plain}/rerun").status_code == 200


def test_versions_come_a_page_at_a_time(api):
    name = create(api, code="echo 1", parameters=[])["name"]
    for n in range(2, 6):
        api.request("PATCH", f"/api/definitions/{name}", json={"code": f"echo {n}"})
    page = api.get(f"/api/definitions/{name}/versions?limit=2").json()["data"]
    rest = api.get(f"/api/definitions/{name}/versions?limit=2&offset=2").json()["data"]
    assert [v["version"] for v in page + rest] == [5, 4, 3, 2]
    assert len(api.get(f"/api/definitions/{name}/versions").json()["data"]) == 5
    assert_error(api.get(f"/api/definitions/{name}/versions?limit=101"), 400)


def test_a_secret_reaches_the_job_and_no_answer_event_list_or_log_line(api, server, caplog):
    caplog.set_level("DEBUG")
    name = create(
        api,
        code='printf %s "$TOKEN" | sha256sum',
        parameters=[{"name": "TOKEN", "type": "secret", "required": True}],
    )["name"]
    job_id = run(api, name, parameters={"TOKEN": SECRET})["data"]["id"]
    job = wait_for_job(api, job_id)
    assert job["stdout"] == hashlib.sha256(SECRET.encode()).hexdigest() + "  -\n"
    assert job["parameters"]["TOKEN"] == definitions.SECRET_MASK
    assert "TOKEN" not in job["env"]
    rerun = api.post(f"/api/jobs/{job_id}/rerun").json()["data"]["id"]
    assert wait_for_job(api, rerun)["stdout"] == job["stdout"]  # the rerun has it too
    for path in (
        f"/api/jobs/{job_id}",
        f"/api/jobs/{rerun}",
        f"/api/jobs?definition={name}&include_output=true",
        "/api/jobs?include_output=true",
        f"/api/jobs/{job_id}/events",
        f"/api/jobs/{job_id}/log",
        f"/api/definitions/{name}",
        f"/api/definitions/{name}/versions",
    ):
        response = api.get(path)
        assert response.status_code == 200, path
        assert SECRET not in response.text, path
    assert caplog.records and SECRET not in caplog.text
    logs = server.cfg.path("app.log_dir")
    assert logs.is_dir()
    for log in logs.glob("*.log"):
        assert SECRET not in log.read_text(errors="replace"), log


def test_a_secret_parameter_that_is_wrong_is_named_without_its_value(api):
    name = create(
        api,
        code="true",
        parameters=[{"name": "TOKEN", "type": "secret", "pattern": "[a-z]+"}],
    )["name"]
    response = api.post(f"/api/definitions/{name}/run", json={"parameters": {"TOKEN": SECRET}})
    body = assert_error(response, 400)
    assert "parameters.TOKEN" in body["data"]["errors"]
    assert SECRET not in response.text


def test_overrides_set_job_options_within_the_queues_limits(api, server):
    name = create(api)["name"]
    job_id = run(
        api,
        name,
        parameters={"DAY": "2026-11-30"},
        overrides={"timeout": 30, "priority": 5, "env": {"EXTRA": "yes", "DAY": "ignored"}},
    )["data"]["id"]
    job = wait_for_job(api, job_id)
    assert (job["timeout"], job["priority"]) == (30, 5)
    assert job["env"]["EXTRA"] == "yes" and job["env"]["DAY"] == "2026-11-30"
    for overrides, field in (
        ({"timeout": 10**7}, "timeout"),
        ({"queue": "nowhere"}, "queue"),
        ({"code": "id"}, "overrides"),
        ({"memory_mb": 1}, "overrides"),
        ({"env": {"1BAD": "x"}}, "overrides"),
    ):
        response = api.post(
            f"/api/definitions/{name}/run",
            json={"parameters": {"DAY": "2026-11-30"}, "overrides": overrides},
        )
        assert field in assert_error(response, 400)["data"]["errors"], overrides


def test_a_run_may_name_its_job_and_a_taken_name_is_a_409(api):
    name = create(api, parameters=[])["name"]
    job_id = unique("job")
    assert run(api, name, id=job_id)["data"]["id"] == job_id
    assert_error(api.post(f"/api/definitions/{name}/run", json={"id": job_id}), 409)


def test_definition_routes_answer_405_and_bad_bodies_400(api):
    assert_error(api.post("/api/definitions/x", json={}), 405)
    assert_error(api.request("PATCH", "/api/definitions", json={}), 405)
    assert_error(api.request("PUT", "/api/definitions", json={}), 405)
    assert_error(api.delete("/api/definitions"), 405)
    name = create(api)["name"]
    assert_error(api.request("PATCH", f"/api/definitions/{name}", json={}), 400)
    assert_error(api.request("PATCH", f"/api/definitions/{name}", data=b"{"), 400)
    assert_error(api.post(f"/api/definitions/{name}/run", data=b"[]"), 400)
    assert_error(api.get("/api/definitions/a%00b"), 404)
    assert_error(api.get(f"/api/definitions/{name}?owner=a%00b"), 400)
    assert_error(api.get("/api/definitions?limit=0"), 400)


def test_the_job_list_filters_by_definition(api):
    one, two = create(api, parameters=[])["name"], create(api, parameters=[])["name"]
    ids = {run(api, one)["data"]["id"] for _ in range(3)}
    other = run(api, two)["data"]["id"]
    listed = api.get(f"/api/jobs?definition={one}").json()
    assert {j["id"] for j in listed["data"]} == ids and listed["total"] == 3
    assert other not in {j["id"] for j in listed["data"]}
    page = api.get(f"/api/jobs?definition={one}&limit=2").json()
    rest = api.get(f"/api/jobs?definition={one}&limit=2&cursor={page['next_cursor']}").json()
    assert {j["id"] for j in page["data"] + rest["data"]} == ids
    assert api.get("/api/jobs?definition=never_made").json()["data"] == []


def test_integers_past_a_bigint_are_a_400_not_a_500(api):
    name = create(
        api,
        code="echo $N $I",
        parameters=[{"name": "N", "type": "number"}, {"name": "I", "type": "integer"}],
    )["name"]
    huge = 123456789012345678901234567890
    body = assert_error(
        api.post(f"/api/definitions/{name}/run", json={"parameters": {"I": huge}}), 400
    )
    assert "parameters.I" in body["data"]["errors"]
    # A number takes it as the float it is.
    job_id = run(api, name, parameters={"N": huge})["data"]["id"]
    assert wait_for_job(api, job_id)["stdout"] == "1.2345678901234568e+29\n"
    response = api.post(
        "/api/definitions",
        json={
            "name": unique(),
            "code": "true",
            "parameters": [{"name": "I", "type": "integer", "default": huge}],
        },
    )
    assert "default" in assert_error(response, 400)["data"]["errors"]["parameters"]["0"]


@pytest.mark.parametrize(
    "path, raw",
    [
        ("/api/jobs", b'{"code": "true", "env": {"\\ud800": "x"}}'),
        ("run", b'{"parameters": {"M": ["\\ud800"]}}'),
        ("run", b'{"parameters": {"\\udfff": "x"}}'),
    ],
)
def test_an_error_quoting_a_lone_surrogate_is_still_a_json_envelope(api, path, raw):
    if path == "run":
        name = create(
            api, code="true", parameters=[{"name": "M", "type": "multichoice", "choices": ["a"]}]
        )["name"]
        path = f"/api/definitions/{name}/run"
    response = api.post(path, data=raw, headers={"Content-Type": "application/json"})
    body = assert_error(response, 400)
    assert body["message"].startswith("Invalid request body")
