"""The schedules API: create, list, read, pause/resume, change, delete; who may see
what; hostile input answered 4xx; secrets never answered."""

import datetime as dt
import uuid

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from shell_service import queue
from shell_service.scheduler import Scheduler
from shell_service.shells import available_shells

from ..api.envelope import assert_error, assert_success
from ..conftest import Client
from ..factories import TokenFactory

SECRET = "hunter2-4b1c9"
PARAMETERS = [
    {"name": "day", "type": "string", "required": True, "pattern": r"\d{4}-\d{2}-\d{2}"},
    {"name": "rows", "type": "integer", "default": 10, "min": 1, "max": 1000},
    {"name": "token", "type": "secret", "env_var": "API_TOKEN"},
]


def define(client, shared=False, parameters=PARAMETERS) -> str:
    name = f"def_{uuid.uuid4().hex[:10]}"
    body = {"name": name, "code": "echo $day $rows", "parameters": parameters, "shared": shared}
    response = client.post("/api/definitions", json=body)
    assert response.status_code == 200, response.text
    return name


def create(client, definition, expect=200, **fields):
    body = {
        "definition": definition,
        "cron": "30 2 * * *",
        "parameters": {"day": "2026-11-30", "token": SECRET},
        **fields,
    }
    response = client.post("/api/schedules", json=body)
    if expect != 200:
        return response
    return assert_success(response)


def patch(client, schedule_id, **changes):
    return client.request("PATCH", f"/api/schedules/{schedule_id}", json=changes)


@pytest.fixture
def other(server):
    token = TokenFactory()
    client = Client(server.url, token.secret)
    client.user = token.user
    return client


def test_a_created_schedule_shows_its_next_ticks_in_utc_and_its_zone(api):
    name = define(api)
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    schedule = create(api, name, timezone="Europe/Berlin", description="nightly")
    assert schedule["definition"] == name and schedule["owner"] == api.user.username
    assert schedule["version"] is None  # the latest at each tick
    assert (schedule["enabled"], schedule["overlap"], schedule["catch_up"]) == (
        True,
        "skip",
        "none",
    )
    assert schedule["parameters"] == {"day": "2026-11-30", "token": "********"}
    assert len(schedule["next_fires"]) == 5
    first = schedule["next_fires"][0]
    assert "T02:30:00+01:00" in first["local"]
    utc = dt.datetime.fromisoformat(first["utc"]).replace(tzinfo=None)
    assert before < utc <= before + dt.timedelta(days=1)
    assert utc.hour == 1 and utc.minute == 30  # 02:30 CET
    assert schedule["next_fire_at"] == first["utc"]
    assert schedule["last_fires"] == [] and schedule["waiting"] is False
    listed = assert_success(api.get("/api/schedules"))
    assert [s["id"] for s in listed] == [schedule["id"]]
    assert assert_success(api.get(f"/api/schedules/{schedule['id']}")) == listed[0]


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"cron": "@reboot"}, "cron", "@reboot is not supported"),
        ({"cron": "0\u00a00 1 1 *"}, "cron", "must be ASCII"),
        ({"cron": "0 30 2 * * *"}, "cron", "five fields"),
        ({"cron": "61 * * * *"}, "cron", "not a cron expression"),
        ({"cron": "* * * * * * * * * *"}, "cron", "five fields"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "unknown time zone"),
        ({"timezone": "../../etc/passwd"}, "timezone", "not an IANA time zone"),
        ({"overlap": "sometimes"}, "overlap", None),
        ({"catch_up": "all"}, "catch_up", None),
        ({"version": 0}, "version", None),
        ({"version": "newest"}, "version", None),
        ({"version": 99}, "version", "no version 99"),
        ({"parameters": {"token": SECRET}}, "parameters.day", "missing"),
        ({"parameters": {"day": "yesterday"}}, "parameters.day", "must match the pattern"),
        ({"parameters": {"day": "2026-11-30", "rows": 0}}, "parameters.rows", "at least 1"),
        ({"parameters": {"day": "2026-11-30", "nope": 1}}, "parameters.nope", "no such"),
        ({"overrides": {"timeout": 10**9}}, "timeout", "must be at most"),
        ({"overrides": {"queue": "no_such_queue"}}, "queue", "no queue is called"),
        ({"overrides": {"shell": "bash"}}, "overrides", None),
        ({"enabled": "yes"}, "enabled", None),
        ({"description": "x\x00y"}, "description", None),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, fields, field, says):
    name = define(api)
    body = {"definition": name, "cron": "@daily", "parameters": {"day": "2026-11-30"}, **fields}
    response = api.post("/api/schedules", json=body)
    body = assert_error(response, 400, mentions=says)
    assert field in body["message"], body["message"]
    assert SECRET not in response.text


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "text",
        {"cron": "@daily"},
        {"definition": "x", "cron": 5},
        {"definition": ["x"], "cron": "@daily"},
        {"definition": "x", "cron": "@daily", "parameters": []},
        {"definition": "x", "cron": "@daily", "overrides": "big"},
        {"definition": "x" * 10_000, "cron": "@daily"},
    ],
)
def test_malformed_bodies_are_4xx_envelopes(api, body):
    response = api.post("/api/schedules", json=body)
    assert 400 <= response.status_code < 500
    assert_error(response, response.status_code)


def test_a_definition_the_user_may_not_see_is_404_and_a_shared_one_may_be_scheduled(api, other):
    private = define(other)
    assert_error(create(api, private, expect=404), 404, mentions="No definition called")
    shared = define(other, shared=True)
    schedule = create(api, shared)
    assert schedule["definition_owner"] == other.user.username
    assert schedule["owner"] == api.user.username


def test_a_schedule_of_someone_elses_definition_is_pinned_unless_it_asks_for_latest(api, other):
    shared = define(other, shared=True)
    mine = define(api)
    assert create(api, mine)["version"] is None  # your own: its latest at each tick
    pinned = create(api, shared)
    assert pinned["version"] == 1
    following = create(api, shared, version="latest")
    assert following["version"] is None
    # The owner's next version does not change what the pinned schedule runs.
    changed = other.request("PATCH", f"/api/definitions/{shared}", json={"code": "echo v2"})
    assert changed.status_code == 200
    assert api.get(f"/api/schedules/{pinned['id']}").json()["data"]["version"] == 1


def test_another_users_schedule_is_404_to_read_change_and_delete(api, other, admin_api):
    schedule = create(api, define(api))
    path = f"/api/schedules/{schedule['id']}"
    assert_error(other.get(path), 404)
    assert_error(patch(other, schedule["id"], enabled=False), 404)
    assert_error(other.delete(path), 404)
    assert assert_success(other.get("/api/schedules")) == []
    assert assert_success(api.get(path))["enabled"] is True  # unchanged
    # An admin sees and changes anyone's.
    assert schedule["id"] in [s["id"] for s in assert_success(admin_api.get("/api/schedules"))]
    assert assert_success(patch(admin_api, schedule["id"], enabled=False))["enabled"] is False


def test_a_cron_expression_is_stored_with_single_spaces(api):
    schedule = create(api, define(api), cron=" 0  0\t1 1   * ")
    assert schedule["cron"] == "0 0 1 1 *"


@pytest.mark.parametrize(
    "schedule_id", ["0", "-1", "abc", "99999999999999999999", "1.5", "%00", "01", "+1", " 1"]
)
def test_odd_schedule_ids_are_404(api, schedule_id):
    assert_error(api.get(f"/api/schedules/{schedule_id}"), 404)
    assert_error(patch(api, schedule_id, enabled=False), 404)
    assert_error(api.delete(f"/api/schedules/{schedule_id}"), 404)


def test_pause_and_resume_recompute_the_next_tick_from_now(api, sql):
    schedule = create(api, define(api), cron="*/5 * * * *")
    # As if it had been paused for a day: its stored next tick is long past.
    past = dt.datetime(2026, 1, 1)
    queue.update_schedule(sql, schedule["id"], {"next_fire_at": past})
    paused = assert_success(patch(api, schedule["id"], enabled=False))
    assert paused["enabled"] is False and paused["next_fires"] == []
    resumed = assert_success(patch(api, schedule["id"], enabled=True))
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    next_at = dt.datetime.fromisoformat(resumed["next_fire_at"]).replace(tzinfo=None)
    assert now < next_at <= now + dt.timedelta(minutes=5) and next_at.minute % 5 == 0
    # A change that is no resume leaves the next tick as it is.
    same = assert_success(patch(api, schedule["id"], description="still"))
    assert same["next_fire_at"] == resumed["next_fire_at"]


def test_changing_cron_timezone_or_parameters_is_checked_and_applied(api):
    schedule = create(api, define(api))
    changed = assert_success(
        patch(api, schedule["id"], cron="0 9 * * MON-FRI", timezone="Asia/Tokyo", overlap="queue")
    )
    assert changed["cron"] == "0 9 * * MON-FRI" and changed["overlap"] == "queue"
    assert all(t["local"].endswith("T09:00:00+09:00") for t in changed["next_fires"])
    # Parameters merge over the stored ones: the secret stays unless removed (null).
    merged = assert_success(patch(api, schedule["id"], parameters={"rows": 5}))
    assert merged["parameters"] == {"day": "2026-11-30", "rows": 5, "token": "********"}
    removed = assert_success(patch(api, schedule["id"], parameters={"token": None}))
    assert removed["parameters"] == {"day": "2026-11-30", "rows": 5}
    response = patch(api, schedule["id"], parameters={"day": None})
    assert_error(response, 400, mentions="parameters.day: missing")
    assert_error(patch(api, schedule["id"], cron="@reboot"), 400, mentions="cron")
    assert_error(patch(api, schedule["id"]), 400, mentions="nothing to change")
    assert_error(patch(api, schedule["id"], definition="other"), 400)


def test_delete_removes_the_schedule_and_keeps_its_jobs(api, sql, cfg, paused_executor):
    schedule = create(api, define(api), cron="* * * * *", parameters={"day": "2026-11-30"})
    due = dt.datetime.fromisoformat(schedule["next_fire_at"]).replace(tzinfo=None)
    scheduler = Scheduler(cfg, sql, list(available_shells(cfg["jobs.shells"])))
    assert scheduler.run_once(due).fired == 1
    jobs = assert_success(api.get(f"/api/jobs?schedule={schedule['id']}"))
    assert [job["schedule_id"] for job in jobs] == [schedule["id"]]
    shown = assert_success(api.get(f"/api/schedules/{schedule['id']}"))
    assert [(f["job_id"], f["job_status"]) for f in shown["last_fires"]] == [
        (jobs[0]["id"], "QUEUED")
    ]
    assert_success(api.delete(f"/api/schedules/{schedule['id']}"))
    assert_error(api.get(f"/api/schedules/{schedule['id']}"), 404)
    # The job keeps the schedule's id, and is still listed by it.
    assert assert_success(api.get(f"/api/jobs/{jobs[0]['id']}"))["schedule_id"] == schedule["id"]
    listed = assert_success(api.get(f"/api/jobs?schedule={schedule['id']}"))
    assert [job["id"] for job in listed] == [jobs[0]["id"]]
    api.post(f"/api/jobs/{jobs[0]['id']}/cancel")


def test_no_answer_holds_a_secret_value(api, admin_api, sql, cfg, paused_executor):
    schedule = create(api, define(api), cron="* * * * *")
    sid = schedule["id"]
    due = dt.datetime.fromisoformat(schedule["next_fire_at"]).replace(tzinfo=None)
    Scheduler(cfg, sql, list(available_shells(cfg["jobs.shells"]))).run_once(due)
    answers = [
        api.get("/api/schedules"),
        api.get(f"/api/schedules/{sid}"),
        admin_api.get("/api/schedules"),
        patch(api, sid, description="x"),
        api.get(f"/api/jobs?schedule={sid}"),
    ]
    [job] = answers[-1].json()["data"]
    answers += [api.get(f"/api/jobs/{job['id']}"), api.get(f"/api/jobs/{job['id']}/events")]
    for response in answers:
        assert response.status_code == 200, response.text
        assert SECRET not in response.text
    assert job["parameters"]["token"] == "********"
    api.post(f"/api/jobs/{job['id']}/cancel")


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
HOSTILE_TEXT = st.sampled_from(
    ["@daily", "* * * * *", "30 2 * * *", "@reboot", "0 0 30 2 *", "*/0 * * * *", "UTC",
     "Europe/Berlin", "../../etc/shadow", "localtime", "\x00", "\ud800", "x" * 300, "", " "]
) | st.text(max_size=30)  # fmt: skip
VALID = {
    "cron": st.sampled_from(["@daily", "* * * * *", "30 2 * * 1-5", "@HOURLY"]),
    "timezone": st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"]),
    "version": st.sampled_from([1, "latest"]),
    "parameters": st.sampled_from([{}, {"rows": 5}, {"rows": "7", "token": "t"}]),
    "overrides": st.sampled_from([{}, {"priority": 3}, {"env": {"A": "b"}, "timeout": 30}]),
    "overlap": st.sampled_from(["skip", "queue", "allow"]),
    "catch_up": st.sampled_from(["none", "latest"]),
    "enabled": st.booleans(),
    "description": st.text(max_size=20),
}
HOSTILE = {
    "cron": HOSTILE_TEXT | JSON,
    "timezone": HOSTILE_TEXT | JSON,
    "version": st.sampled_from([0, -1, 2, 2**31, 2**63, "1", 1.0, True]) | JSON,
    "parameters": st.dictionaries(
        st.sampled_from(["day", "rows", "token", "other", "\x00"]),
        JSON | HOSTILE_TEXT | st.integers(min_value=-(2**70), max_value=2**70),
        max_size=4,
    )
    | JSON,
    "overrides": st.dictionaries(
        st.sampled_from(["queue", "timeout", "cpus", "memory_mb", "priority", "env", "shell"]),
        JSON | st.integers(min_value=-(2**40), max_value=2**40) | HOSTILE_TEXT,
        max_size=3,
    )
    | JSON,
    "overlap": st.sampled_from(["SKIP", "never"]) | JSON,
    "catch_up": st.sampled_from(["all", ""]) | JSON,
    "enabled": JSON,
    "description": HOSTILE_TEXT | JSON,
    "owner": HOSTILE_TEXT | JSON,
}


def body_strategy(hostile_share: float = 0.2):
    """Bodies mostly valid field by field, each field hostile now and then: so that
    some creates succeed and their PATCHes are fuzzed too."""
    fields = {
        name: st.one_of(
            *([VALID[name]] * round((1 - hostile_share) * 10) if name in VALID else []),
            *([strategy] * round(hostile_share * 10)),
        )
        for name, strategy in HOSTILE.items()
    }
    return st.fixed_dictionaries({}, optional=fields)


@pytest.fixture
def fuzz_definition(api):
    # No required parameter: many drawn bodies are valid, and go on to a PATCH.
    return define(api, parameters=PARAMETERS[1:])


@given(data=st.data())
@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_fuzzed_creates_and_changes_are_answered_4xx_or_200_never_5xx(api, fuzz_definition, data):
    body = data.draw(body_strategy())
    body.setdefault("cron", "@daily")
    body["definition"] = data.draw(st.sampled_from([fuzz_definition, "nope", 5, None]))
    response = api.post("/api/schedules", json=body)
    event(f"create answered {response.status_code}")
    assert response.status_code in (200, 400, 404, 413), response.text
    if response.status_code == 200:
        assert_success(response)
        schedule_id = response.json()["data"]["id"]
        change = data.draw(body_strategy(hostile_share=0.5))
        changed = patch(api, schedule_id, **change)
        event(f"change answered {changed.status_code}")
        assert changed.status_code in (200, 400, 413), changed.text
        assert_success(api.delete(f"/api/schedules/{schedule_id}"))
    else:
        assert_error(response, response.status_code)


def test_a_user_may_have_at_most_max_per_user_schedules(api, other, server):
    saved = server.cfg["scheduler"].get("max_per_user")
    server.cfg["scheduler"]["max_per_user"] = 2
    try:
        name = define(api)
        create(api, name)
        create(api, name)
        body = assert_error(create(api, name, expect=409), 409, mentions="scheduler.max_per_user")
        assert "2 schedules" in body["message"]
        # Another user's count is their own.
        create(other, define(other))
    finally:
        if saved is None:
            del server.cfg["scheduler"]["max_per_user"]
        else:
            server.cfg["scheduler"]["max_per_user"] = saved
