"""Every numeric and date-time parameter of every operation, at the edges of what
the system can represent (issue 11, 4c): the answer is never a 5xx, always the
JSON envelope, and a 400 names the parameter.

The operations and their parameters come from the OpenAPI document the app
serves, so a parameter added later is tried without touching this file: query
and path parameters, and the properties of JSON request bodies. Path
parameters are all strings in the document, but users' and tokens' ids are
integers: each gets the extreme integers too.
"""

import base64
import json
from dataclasses import dataclass

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ..factories import TokenFactory
from ..helpers import create_job, run_job
from .envelope import ENVELOPE_KEYS, PAGING_KEYS, assert_error, assert_success

METHODS = ("get", "post", "put", "patch", "delete")

#: Integers at and past the edges of PostgreSQL's integer and bigint, of C's
#: off_t and size_t, and far beyond.
EXTREME_INTS = [
    2**31 - 1, 2**31, -(2**31), -(2**31) - 1,
    2**63 - 1, 2**63, -(2**63), -(2**63) - 1,
    2**64 - 1, 2**64, -(2**64),
    10**30, -(10**30), 0, -1,
]  # fmt: skip
#: Floats a number parameter may get: huge, tiny, and the ones JSON cannot spell.
EXTREME_FLOATS = [1e308, -1e308, 1e-308, 2.0**63, float("inf"), float("-inf"), float("nan")]
#: Dates at the edges of Python's datetime (years 1-9999) and past them, with
#: offsets that push a valid local time out of range once turned into UTC.
EXTREME_DATES = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00+23:59",
    "0001-01-01T23:58:59+23:59",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:59:59.999999-00:01",
    "9999-12-31T00:00:01-23:59",
    "10000-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "-0001-01-01T00:00:00Z",
    "1970-01-01T00:00:00Z",
]


@st.composite
def zoned_dates(draw) -> str:
    """Any datetime Python holds, with any UTC offset ISO 8601 allows (under 24 h)."""
    moment = draw(st.datetimes())
    minutes = draw(st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1))
    sign = "-" if minutes < 0 else "+"
    zone = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return moment.isoformat() + draw(st.sampled_from([zone, "Z", ""]))


INTS = st.integers(min_value=-(2**70), max_value=2**70) | st.sampled_from(EXTREME_INTS)
STRATEGIES = {
    "integer": INTS,
    "number": INTS | st.floats() | st.sampled_from(EXTREME_FLOATS),
    "date-time": zoned_dates()
    | st.sampled_from(EXTREME_DATES)
    | st.integers(min_value=10000, max_value=10**6).map(lambda y: f"{y}-01-01T00:00:00Z"),
    # Never a small positive id: an admin's DELETE would revoke a real token.
    "path-id": (
        st.integers(min_value=2**31 - 1, max_value=2**70)
        | st.integers(min_value=-(2**70), max_value=0)
        | st.sampled_from(EXTREME_INTS)
    ).map(str),
}
#: The fixed extremes each target tries first, whatever hypothesis draws.
EXAMPLES = {
    "integer": EXTREME_INTS,
    "number": EXTREME_INTS + EXTREME_FLOATS,
    "date-time": EXTREME_DATES,
    "path-id": [str(n) for n in EXTREME_INTS],
}


@dataclass(frozen=True)
class Target:
    """One parameter of one operation: ``where`` is query, path or body."""

    method: str
    path: str
    where: str
    name: str
    kind: str

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path} {self.where} {self.name} ({self.kind})"


def kind_of(schema: dict) -> str | None:
    if schema.get("format") == "date-time":
        return "date-time"
    if schema.get("type") in ("integer", "number"):
        return schema["type"]
    return None


def resolve(schema: dict, components: dict) -> dict:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def targets_of(spec: dict) -> list[Target]:
    """Every numeric and date-time parameter of every operation in ``spec``."""
    components = spec["components"]["schemas"]
    targets = []
    for path, item in spec["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            for parameter in [*item.get("parameters", []), *operation.get("parameters", [])]:
                kind = kind_of(parameter.get("schema", {}))
                if parameter["in"] == "path":
                    kind = kind or "path-id"
                if kind:
                    targets.append(Target(method, path, parameter["in"], parameter["name"], kind))
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                properties = resolve(body["schema"], components).get("properties", {})
                for name, schema in properties.items():
                    kind = kind_of(resolve(schema, components))
                    if kind:
                        targets.append(Target(method, path, "body", name, kind))
    return targets


def base_body(operation: dict, components: dict) -> dict:
    """The operation's required body properties, each with a valid value."""
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if not body:
        return {}
    schema = resolve(body["schema"], components)
    valid = {
        "code": "echo ok",
        "name": "extreme",
        "username": "extreme_values",
        "url": "https://example.org/hook",
    }
    return {name: valid.get(name, "x") for name in schema.get("required", [])}


def first_lines(exc: BaseException) -> list[str]:
    """What each failure says, one line each (hypothesis groups several)."""
    if isinstance(exc, BaseExceptionGroup):
        return [line for sub in exc.exceptions for line in first_lines(sub)]
    return [str(exc).splitlines()[0] if str(exc) else repr(exc)]


@pytest.fixture(scope="module")
def spec(server):
    response = requests.get(server.url + "/api/openapi.json", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_walk_finds_the_parameters_that_once_gave_500(spec):
    """The walk sees query, path and body parameters of every kind (else the test
    below would pass by trying nothing)."""
    found = {(t.method, t.path, t.where, t.name, t.kind) for t in targets_of(spec)}
    assert ("get", "/api/jobs/{job_id}/log", "query", "offset", "integer") in found
    assert ("get", "/api/jobs", "query", "created_after", "date-time") in found
    assert ("get", "/api/jobs/{job_id}", "query", "wait", "number") in found
    assert ("post", "/api/tokens", "body", "expires_at", "date-time") in found
    assert ("post", "/api/jobs", "body", "timeout", "integer") in found
    assert ("patch", "/api/jobs/{job_id}", "body", "priority", "integer") in found
    assert ("delete", "/api/tokens/{token_id}", "path", "token_id", "path-id") in found
    assert ("patch", "/api/schedules/{schedule_id}", "path", "schedule_id", "path-id") in found
    assert ("get", "/api/schedules", "query", "limit", "integer") in found


def test_no_extreme_numeric_or_date_parameter_gets_a_5xx(spec, admin_api):
    components = spec["components"]["schemas"]
    # Real things for the path parameters a target does not vary: a job with
    # output files (reads, log), a READY one (changes), a user, a spare token.
    ended = run_job(admin_api, "echo some output")["id"]
    ready = create_job(admin_api, "echo later")
    definition = f"extreme_{ready[-12:]}"
    made = admin_api.post("/api/definitions", json={"name": definition, "code": "echo"})
    assert made.status_code == 200, made.text
    webhook = admin_api.post("/api/webhooks", json={"url": "https://example.org/hook"})
    assert webhook.status_code == 200, webhook.text
    schedule = admin_api.post(
        "/api/schedules", json={"definition": definition, "cron": "@daily", "enabled": False}
    )
    assert schedule.status_code == 200, schedule.text
    path_values = {
        "webhook_id": str(webhook.json()["data"]["id"]),
        "user_id": str(admin_api.user.id),
        "token_id": str(TokenFactory().id),
        "name": definition,
        "version": "1",
        "schedule_id": str(schedule.json()["data"]["id"]),
    }

    def request(target: Target, value) -> requests.Response:
        operation = spec["paths"][target.path][target.method]
        values = dict(path_values, job_id=ready if target.method == "patch" else ended)
        if target.where == "path":
            values[target.name] = value
        quoted = {name: requests.utils.quote(v, safe="") for name, v in values.items()}
        path = target.path.format(**quoted)
        params, body = {}, None
        if target.where == "query":
            params[target.name] = value if isinstance(value, str) else repr(value)
        if target.method in ("post", "put", "patch"):
            body = base_body(operation, components)
            if target.where == "body":
                body[target.name] = value
            body = json.dumps(body)  # NaN and Infinity as Python writes them
        return admin_api.request(target.method.upper(), path, params=params, data=body)

    def check(target: Target, value) -> None:
        response = request(target, value)
        seen = f"{target} = {value!r}: {response.status_code} {response.text[:300]}"
        assert response.status_code < 500, seen
        assert response.headers.get("Content-Type", "").startswith("application/json"), seen
        envelope = response.json()
        assert set(envelope) in (ENVELOPE_KEYS, ENVELOPE_KEYS | PAGING_KEYS), seen
        if response.status_code == 400:
            assert target.name in envelope["message"], seen

    def property_of(target: Target):
        """``check`` over hypothesis' values for ``target``, the fixed extremes first."""

        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        )
        @given(value=STRATEGIES[target.kind])
        def check_target(value):
            check(target, value)

        for value in EXAMPLES[target.kind]:
            check_target = example(value=value)(check_target)
        return check_target

    failures = []
    targets = targets_of(spec)
    for target in targets:
        try:
            property_of(target)()
        except (AssertionError, ExceptionGroup) as exc:  # every target's failures are reported
            failures.extend(first_lines(exc))
    assert not failures, "\n".join(failures)
    assert len(targets) >= 15, [str(t) for t in targets]


@pytest.mark.parametrize(
    "raw",
    [
        "9999-12-31T23:59:59-23:59|job",  # past year 9999 in UTC: PostgreSQL refuses it
        "0001-01-01T00:00:00+14:00|job",
        "2026-01-01T00:00:00|a\x00b",  # PostgreSQL refuses NUL in text
        "2026-01-01T00:00:00",
        "10000-01-01T00:00:00|job",
    ],
)
def test_a_forged_cursor_is_a_400_naming_it(api, raw):
    """A cursor carries a date and an id: one made up by a client is refused."""
    cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    assert_error(api.get("/api/jobs", params={"cursor": cursor}), 400, mentions="cursor: ")


def test_the_log_offset_of_the_issue_is_past_the_end_and_one_more_is_a_400(api):
    """``offset=9223372036854775807`` (the largest file offset) answered 500: the
    kernel refuses to seek there. Now it is past the end of the output like any
    other (nothing to read); 2**63 is more than an offset can be: 400."""
    job = run_job(api, "echo out")
    for follow in ("false", "true"):
        params = {"offset": str(2**63 - 1), "follow": follow}
        response = api.get(f"/api/jobs/{job['id']}/log", params=params)
        assert response.status_code == 200, response.text
        if follow == "false":
            data = response.json()["data"]
            assert data == {"text": "", "offset": 2**63 - 1, "finished": True, "size": 4}
        else:
            assert response.text == ""
        params["offset"] = str(2**63)
        response = api.get(f"/api/jobs/{job['id']}/log", params=params)
        assert_error(response, 400, field="offset", mentions="9223372036854775807")


@pytest.mark.parametrize(
    "date", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00", "10000-01-01T00:00:00Z"]
)
def test_a_date_outside_years_1_to_9999_in_utc_is_a_400_naming_it(api, date):
    for name in ("created_after", "created_before"):
        assert_error(api.get("/api/jobs", params={name: date}), 400, field=name)
    body = {"name": "x", "expires_at": date}
    assert_error(api.post("/api/tokens", json=body), 400, field="expires_at")


def test_dates_at_the_edges_of_years_1_to_9999_are_accepted(api):
    for date in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00-14:00"):
        assert assert_success(api.get("/api/jobs", params={"created_after": date})) == []
    body = {"name": "x", "expires_at": "9999-12-31T23:59:59.999999+00:00"}
    assert assert_success(api.post("/api/tokens", json=body))["token"]


@pytest.mark.parametrize(
    "field,value,mentions",
    [
        ("timeout", 2**31, "2147483647"),
        ("priority", -(2**63), "-100"),
        ("cpus", 10**30, "2147483647"),
        ("memory_mb", 2**64, "2147483647"),
        ("timeout", 0, "1"),
    ],
)
def test_integers_past_a_postgresql_integer_are_a_400_naming_the_field(api, field, value, mentions):
    response = api.post("/api/jobs", json={"code": "true", field: value})
    assert_error(response, 400, field=field, mentions=mentions)
    ready = create_job(api, "true")
    response = api.request("PATCH", f"/api/jobs/{ready}", json={field: value})
    assert_error(response, 400, field=field, mentions=mentions)
