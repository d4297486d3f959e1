"""The dashboard's definitions and schedules: who sees what, the run form made from the
typed parameters (widgets, constraints, errors beside their fields, secrets never
written into a page), escaping, XSRF, and pausing and resuming schedules."""

import html
import json
import re
import uuid
from html.parser import HTMLParser

from sqlalchemy import text
from tornado.escape import xhtml_escape

from shell_service.handlers.ui.definitions import (
    browser_pattern,
    errors_by_field,
    flat_errors,
    run_body,
)
from shell_service.handlers.ui.schedules import safe_next

from .. import factories
from ..conftest import Client
from ..helpers import wait_for_job
from .conftest import Browser

SECRET_VALUE = "s3cret-value-never-shown"

#: One parameter of each type the definitions accept, with their constraints.
EVERY_TYPE = [
    {
        "name": "DAY",
        "type": "string",
        "required": True,
        "pattern": r"\d{4}-\d{2}-\d{2}",
        "description": "The day to load",
    },
    {"name": "ROWS", "type": "integer", "default": 10, "min": 1, "max": 1000},
    {"name": "RATIO", "type": "number", "min": 0, "max": 1.5},
    {"name": "DRY", "type": "boolean", "default": True},
    {"name": "MODE", "type": "choice", "choices": ["full", "delta"], "required": True},
    {"name": "TAGS", "type": "multichoice", "choices": ["a", "b", "c"], "default": ["b"]},
    {"name": "PASSWORD", "type": "secret", "required": True},
    {"name": "target", "type": "string", "pass_as": "arg", "default": "staging"},
]
CODE = 'echo "day=$DAY rows=$ROWS ratio=$RATIO dry=$DRY mode=$MODE tags=$TAGS pw=${#PASSWORD} $1"'


def unique(prefix: str = "uidef") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def api_of(web: Browser) -> Client:
    return Client(web.base_url, web.token)


def create_definition(client: Client, name: str | None = None, **fields) -> dict:
    body = {"name": name or unique(), "code": CODE, "parameters": EVERY_TYPE, **fields}
    response = client.post("/api/definitions", json=body)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def create_schedule(client: Client, definition: str, **fields) -> dict:
    body = {
        "definition": definition,
        "cron": "30 2 * * *",
        "timezone": "Europe/Berlin",
        "parameters": {"DAY": "2026-11-30", "MODE": "full", "PASSWORD": SECRET_VALUE},
        **fields,
    }
    response = client.post("/api/schedules", json=body)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def other_user_client(server) -> Client:
    token = factories.TokenFactory()
    client = Client(server.url, token.secret)
    client.user = token.user
    return client


class Elements(HTMLParser):
    """Every element with an id: its tag and attributes; and each <option> under a
    <select> with an id."""

    def __init__(self, page: str):
        super().__init__()
        self.by_id: dict[str, tuple[str, dict]] = {}
        self.options: dict[str, list[dict]] = {}
        self._select: str | None = None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            self.by_id[attributes["id"]] = (tag, attributes)
        if tag == "select":
            self._select = attributes.get("id")
            self.options[self._select or ""] = []
        elif tag == "option" and self._select is not None:
            self.options[self._select].append(attributes)

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None

    def attrs(self, element_id: str) -> dict:
        return self.by_id[element_id][1]


def listed(web: Browser) -> set[str]:
    names: set[str] = set()
    offset = 0
    while True:
        page = web.get(f"/ui/definitions?limit=1000&offset={offset}")
        assert page.status_code == 200
        found = re.findall(r'<tr data-definition="([^"]*)"', page.text)
        names.update(found)
        if len(found) < 1000:
            return names
        offset += 1000


def error_text(page: str, field: str) -> str:
    found = re.search(rf'id="error-{re.escape(field)}">([^<]*)<', page)
    assert found, f"no error beside {field}"
    return html.unescape(found.group(1))


def test_the_list_shows_mine_and_shared_ones_not_another_users_private_one(web, server):
    mine = create_definition(api_of(web))
    other = other_user_client(server)
    shared = create_definition(other, shared=True)
    private = create_definition(other)
    names = listed(web)
    assert {mine["name"], shared["name"]} <= names
    assert private["name"] not in names
    page = web.get("/ui/definitions?limit=1000").text
    row = re.search(rf'<tr data-definition="{mine["name"]}">(.*?)</tr>', page, re.S).group(1)
    assert f">{len(EVERY_TYPE)}</td>" in row  # its parameters
    assert f"?owner={web.user.username}" in row  # a link naming its owner


def test_an_admin_lists_every_definition(server):
    admin = factories.TokenFactory(user=factories.UserFactory(admin=True))
    browser = Browser(server.url)
    browser.sign_in(admin.secret)
    private = create_definition(other_user_client(server))
    assert private["name"] in listed(browser)


def test_the_last_run_shown_is_one_of_mine(web, server):
    other = other_user_client(server)
    shared = create_definition(other, shared=True, code="true", parameters=[])
    theirs = other.post(f"/api/definitions/{shared['name']}/run", json={}).json()["data"]["id"]
    page = web.get("/ui/definitions?limit=1000").text
    row = re.search(rf'<tr data-definition="{shared["name"]}">(.*?)</tr>', page, re.S).group(1)
    assert theirs not in row and "–" in row
    mine = api_of(web).post(
        f"/api/definitions/{shared['name']}/run", json={"owner": shared["owner"]}
    )
    mine_id = mine.json()["data"]["id"]
    page = web.get("/ui/definitions?limit=1000").text
    row = re.search(rf'<tr data-definition="{shared["name"]}">(.*?)</tr>', page, re.S).group(1)
    assert f"/ui/jobs/{mine_id}" in row and theirs not in row


def test_another_users_private_definition_is_a_404_to_read_and_to_run(web, server):
    private = create_definition(other_user_client(server))
    name = private["name"]
    assert web.get(f"/ui/definitions/{name}").status_code == 404
    assert web.get(f"/ui/definitions/{name}?owner={private['owner']}").status_code == 404
    assert web.get(f"/ui/definitions/{name}/versions/1").status_code == 404
    response = web.post(
        f"/ui/definitions/{name}/run?owner={private['owner']}",
        {"version": "1", "param-DAY": "2026-11-30", "param-MODE": "full"},
    )
    assert response.status_code == 404
    assert "<h1>404</h1>" in response.text


def test_every_parameter_type_gets_its_widget_and_its_constraints(web):
    definition = create_definition(api_of(web), description="Loads a day")
    page = web.get(f"/ui/definitions/{definition['name']}")
    assert page.status_code == 200
    found = Elements(page.text)
    day = found.attrs("param-DAY")
    assert found.by_id["param-DAY"][0] == "input" and day["type"] == "text"
    assert day["pattern"] == r"\d{4}-\d{2}-\d{2}" and "required" in day
    assert "The day to load" in page.text
    rows = found.attrs("param-ROWS")
    assert (rows["type"], rows["step"], rows["min"], rows["max"], rows["value"]) == (
        "number", "1", "1", "1000", "10",
    )  # fmt: skip
    assert "required" not in rows
    ratio = found.attrs("param-RATIO")
    assert (ratio["type"], ratio["step"], ratio["min"], ratio["max"]) == (
        "number", "any", "0", "1.5",
    )  # fmt: skip
    dry = found.attrs("param-DRY")
    assert dry["type"] == "checkbox" and "checked" in dry  # default true
    assert 'type="hidden" name="param-DRY" value="false"' in page.text
    assert found.by_id["param-MODE"][0] == "select" and "required" in found.attrs("param-MODE")
    assert [o["value"] for o in found.options["param-MODE"]] == ["", "full", "delta"]
    tags = found.attrs("param-TAGS")
    assert found.by_id["param-TAGS"][0] == "select" and "multiple" in tags
    assert [("selected" in o) for o in found.options["param-TAGS"]] == [False, True, False]
    password = found.attrs("param-PASSWORD")
    assert password["type"] == "password" and "required" in password
    assert password["value"] == ""
    assert found.attrs("param-target")["value"] == "staging"
    # Required ones are marked; the run options mirror the API's bounds.
    assert re.search(r'for="param-DAY">DAY <abbr title="required"', page.text)
    assert not re.search(r'for="param-ROWS">ROWS <abbr', page.text)
    priority = found.attrs("priority")
    assert (priority["min"], priority["max"]) == ("-100", "100")
    assert found.attrs("memory_mb")["min"] == "16"
    assert "pattern" in found.attrs("job-id")


def test_a_run_from_the_form_queues_the_job_with_its_values(web, db_session):
    definition = create_definition(api_of(web), timeout=60)
    response = web.post(
        f"/ui/definitions/{definition['name']}/run?owner={definition['owner']}",
        {
            "version": "1",
            "param-DAY": "2026-11-30",
            "param-ROWS": "42",
            "param-RATIO": "0.25",
            "param-DRY": ["false"],  # unticked: the hidden false alone
            "param-MODE": "delta",
            "param-TAGS": ["a", "c"],
            "param-PASSWORD": SECRET_VALUE,
            "param-target": "prod",
            "priority": "7",
            "retry_attempts": "2",
        },
    )
    assert response.status_code == 302, response.text
    job_id = response.headers["Location"].rsplit("/", 1)[1]
    job = wait_for_job(api_of(web), job_id)
    assert job["status"] == "COMPLETE", job
    assert job["stdout"] == (
        f"day=2026-11-30 rows=42 ratio=0.25 dry=false mode=delta tags=a,c "
        f"pw={len(SECRET_VALUE)} prod\n"
    )
    assert job["parameters"]["PASSWORD"] == "********"
    assert (job["priority"], job["retry"]["attempts"], job["definition_version"]) == (7, 2, 1)
    assert job["submitter_id"] == web.user.id
    # The job's page and the definition's page never hold the secret.
    assert SECRET_VALUE not in web.get(f"/ui/jobs/{job_id}").text
    page = web.get(f"/ui/definitions/{definition['name']}").text
    assert f"/ui/jobs/{job_id}" in page  # among its recent jobs
    assert SECRET_VALUE not in page


def test_a_bad_value_is_shown_beside_its_field_with_the_values_kept(web):
    definition = create_definition(api_of(web))
    response = web.post(
        f"/ui/definitions/{definition['name']}/run?owner={definition['owner']}",
        {
            "version": "1",
            "param-DAY": "30/11/2026",
            "param-ROWS": "5000",
            "param-RATIO": "a lot",
            "param-MODE": "full",
            "param-TAGS": ["a", "b"],
            "param-PASSWORD": SECRET_VALUE,
        },
    )
    assert response.status_code == 400
    page = response.text
    assert error_text(page, "param-DAY") == r"must match the pattern \d{4}-\d{2}-\d{2}"
    assert error_text(page, "param-ROWS") == "must be at most 1000"
    assert error_text(page, "param-RATIO") == "must be a number"
    assert 'id="error-param-MODE"' not in page
    found = Elements(page)
    assert found.attrs("param-DAY")["value"] == "30/11/2026"
    assert found.attrs("param-DAY")["aria-invalid"] == "true"
    assert found.attrs("param-ROWS")["value"] == "5000"
    assert [("selected" in o) for o in found.options["param-TAGS"]] == [True, True, False]
    assert [o["value"] for o in found.options["param-MODE"] if "selected" in o] == ["full"]
    assert SECRET_VALUE not in page  # the secret is typed again, never written back
    assert found.attrs("param-PASSWORD")["value"] == ""


def test_a_run_option_refused_is_shown_beside_it(web):
    definition = create_definition(api_of(web), parameters=[], code="true")
    url = f"/ui/definitions/{definition['name']}/run?owner={definition['owner']}"
    response = web.post(url, {"version": "1", "timeout": "soon", "array": "9-1"})
    assert response.status_code == 400
    assert "Not a valid integer" in error_text(response.text, "timeout")
    response = web.post(url, {"version": "1", "timeout": str(10**7)})
    assert response.status_code == 400
    assert "at most" in error_text(response.text, "timeout")
    assert Elements(response.text).attrs("timeout")["value"] == str(10**7)
    response = web.post(url, {"version": "1", "retry_attempts": "500"})
    assert response.status_code == 400
    assert "attempts" in error_text(response.text, "retry_attempts")
    response = web.post(url, {"version": "1", "array": "9-1"})
    assert response.status_code == 400
    assert error_text(response.text, "array")
    response = web.post(url, {"version": "1", "depends_on": "no_such_job_" + uuid.uuid4().hex})
    assert response.status_code == 400
    assert "there is no job" in error_text(response.text, "depends_on")


def test_a_job_id_in_use_is_shown_beside_the_id(web):
    definition = create_definition(api_of(web), parameters=[], code="true")
    job = factories.JobFactory(submitter=web.user)
    response = web.post(
        f"/ui/definitions/{definition['name']}/run?owner={definition['owner']}",
        {"version": "1", "id": job.id},
    )
    assert response.status_code == 409
    assert "exists already" in error_text(response.text, "id")


def test_names_descriptions_and_parameter_labels_are_escaped(web):
    evil = '<script>alert("x")</script>'
    definition = create_definition(
        api_of(web),
        description=f"desc {evil} 'q'",
        code=f"echo '{evil}'",
        parameters=[
            {"name": "PICK", "type": "choice", "choices": ['a"><img src=x onerror=1>', evil]},
            {"name": "TEXT", "type": "string", "description": evil, "pattern": '[a-z"<>]+'},
        ],
    )
    for path in ("/ui/definitions?limit=1000", f"/ui/definitions/{definition['name']}"):
        page = web.get(path).text
        assert "<script>alert" not in page and "<img src=x" not in page
    page = web.get(f"/ui/definitions/{definition['name']}").text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    found = Elements(page)
    assert [o["value"] for o in found.options["param-PICK"]][1:] == [
        'a"><img src=x onerror=1>',
        evil,
    ]
    assert found.attrs("param-TEXT")["pattern"] == '[a-z"<>]+'


def test_running_and_pausing_need_the_xsrf_token(web):
    client = api_of(web)
    definition = create_definition(client, parameters=[], code="true")
    url = f"/ui/definitions/{definition['name']}/run?owner={definition['owner']}"
    assert web.post(url, {"version": "1"}, xsrf=False).status_code == 403
    schedule = create_schedule(client, definition["name"], parameters={})
    assert web.post(f"/ui/schedules/{schedule['id']}/pause", xsrf=False).status_code == 403
    assert client.get(f"/api/schedules/{schedule['id']}").json()["data"]["enabled"] is True


def test_an_older_version_is_shown_and_its_form_runs_it(web):
    client = api_of(web)
    definition = create_definition(client, parameters=[], code="echo one", description="first")
    response = client.request(
        "PATCH",
        f"/api/definitions/{definition['name']}",
        json={"code": "echo two", "description": "second"},
    )
    assert response.status_code == 200, response.text
    latest = web.get(f"/ui/definitions/{definition['name']}").text
    assert "echo two" in latest and 'id="definition-version">2<' in latest
    assert f"/ui/definitions/{definition['name']}/versions/1?owner=" in latest
    older = web.get(f"/ui/definitions/{definition['name']}/versions/1")
    assert older.status_code == 200
    assert "echo one" in older.text and "echo two" not in older.text
    assert 'name="version" value="1"' in older.text
    assert web.get(f"/ui/definitions/{definition['name']}/versions/3").status_code == 404
    response = web.post(
        f"/ui/definitions/{definition['name']}/run?owner={definition['owner']}", {"version": "1"}
    )
    job_id = response.headers["Location"].rsplit("/", 1)[1]
    job = wait_for_job(client, job_id)
    assert (job["definition_version"], job["stdout"]) == (1, "one\n")


def test_the_schedules_list_shows_mine_with_the_apis_next_fire_and_masks_secrets(web, server):
    client = api_of(web)
    definition = create_definition(client)
    schedule = create_schedule(client, definition["name"], description="nightly <b>load</b>")
    other = other_user_client(server)
    theirs_def = create_definition(other)
    theirs = create_schedule(other, theirs_def["name"])
    page = web.get("/ui/schedules?limit=1000").text
    ids = re.findall(r'<tr data-schedule="(\d+)"', page)
    assert str(schedule["id"]) in ids and str(theirs["id"]) not in ids
    row = re.search(rf'<tr data-schedule="{schedule["id"]}">(.*?)</tr>', page, re.S).group(1)
    api_next = client.get(f"/api/schedules/{schedule['id']}").json()["data"]["next_fires"][0]
    # The API's own next tick: UTC in the <time>, and the schedule's local time.
    assert api_next["utc"].replace("+00:00", "") in row.replace(".000Z", "")
    assert api_next["local"] in row
    assert "nightly &lt;b&gt;load&lt;/b&gt;" in row
    assert SECRET_VALUE not in page
    detail = web.get(f"/ui/schedules/{schedule['id']}").text
    assert "********" in detail and SECRET_VALUE not in detail
    # Its definition's page lists it.
    assert (
        f'/ui/schedules/{schedule["id"]}"' in web.get(f"/ui/definitions/{definition['name']}").text
    )


def test_pause_and_resume_change_the_schedule(web):
    client = api_of(web)
    definition = create_definition(client)
    schedule = create_schedule(client, definition["name"])
    response = web.post(f"/ui/schedules/{schedule['id']}/pause", {"next": "/ui/schedules?offset=0"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/ui/schedules?offset=0"
    assert client.get(f"/api/schedules/{schedule['id']}").json()["data"]["enabled"] is False
    page = web.get(f"/ui/schedules/{schedule['id']}").text
    assert 'id="schedule-state">paused<' in page and 'id="resume-' in page
    response = web.post(f"/ui/schedules/{schedule['id']}/resume", {"next": "https://evil.example/"})
    assert response.headers["Location"] == f"/ui/schedules/{schedule['id']}"
    after = client.get(f"/api/schedules/{schedule['id']}").json()["data"]
    assert after["enabled"] is True and after["next_fires"]


def test_another_users_schedule_cannot_be_paused_nor_read(web, server, db_session):
    other = other_user_client(server)
    theirs = create_schedule(other, create_definition(other)["name"])
    assert web.post(f"/ui/schedules/{theirs['id']}/pause").status_code == 404
    assert web.get(f"/ui/schedules/{theirs['id']}").status_code == 404
    db_session.expire_all()
    enabled = db_session.execute(
        text("SELECT enabled FROM schedules WHERE id = :id"), {"id": theirs["id"]}
    ).scalar_one()
    assert enabled is True


def test_the_forms_fields_become_the_runs_body():
    specs = EVERY_TYPE
    body = run_body(
        specs,
        {
            "param-DAY": ["2026-11-30"],
            "param-ROWS": [""],
            "param-DRY": ["false", "true"],  # ticked: the checkbox's true after the hidden false
            "param-TAGS": ["a", "c"],
            "param-MODE": [""],
            "priority": ["-3"],
            "timeout": ["soon"],
            "array": ["4"],
            "depends_on": [" afterok:x "],
            "id": [""],
        },
        version=2,
        owner="ada",
    )
    assert body == {
        "parameters": {"DAY": "2026-11-30", "DRY": True, "TAGS": ["a", "c"]},
        "overrides": {"priority": -3, "timeout": "soon"},
        "version": 2,
        "owner": "ada",
        "array": 4,
        "depends_on": "afterok:x",
    }
    # Unticked: false when it has a default; an optional one without is left unset.
    optional = [{"name": "B", "type": "boolean"}]
    assert run_body(optional, {"param-B": ["false"]}, 1, "ada")["parameters"] == {}
    assert run_body(specs, {"param-DRY": ["false"]}, 1, "ada")["parameters"] == {"DRY": False}
    # Job ids alone wait for each to end COMPLETE.
    assert run_body([], {"depends_on": ["a, b c"]}, 1, None)["depends_on"] == [
        {"job": "a"},
        {"job": "b"},
        {"job": "c"},
    ]


def test_errors_map_to_their_fields():
    errors = {
        "parameters.DAY": ["bad"],
        "overrides": {"timeout": ["Not a valid integer."]},
        "retry": ["attempts: too many"],
        "owner": ["whose?"],
    }
    assert flat_errors({"a": {"b": ["x"]}, "c": "y"}) == {"a.b": ["x"], "c": ["y"]}
    beside, above = errors_by_field(errors, EVERY_TYPE)
    assert beside == {
        "param-DAY": ["bad"],
        "timeout": ["Not a valid integer."],
        "retry_attempts": ["attempts: too many"],
    }
    assert above == ["owner: whose?"]


def test_patterns_javascript_reads_otherwise_are_left_to_the_server():
    assert browser_pattern(r"\d{4}-\d{2}") == r"\d{4}-\d{2}"
    assert browser_pattern(r"(?i)abc") is None
    assert browser_pattern(r"\pL+") is None
    assert safe_next("/ui/schedules?offset=0", "/x") == "/ui/schedules?offset=0"
    for target in ("https://evil.example/ui/", "//evil.example/", "/api/jobs", "/ui\\..\\x"):
        assert safe_next(target, "/x") == "/x"


def test_a_definition_made_from_its_yaml_text_opens_its_page(web):
    name = unique("typed")
    text_body = (
        f"name: {name}\n"
        "description: made in the browser\n"
        "code: |\n"
        '  echo "day $day"\n'
        "parameters:\n"
        "  - {name: day, type: string, default: 2026-11-30}\n"
        "  - {name: ok, type: choice, choices: [yes, no], default: yes}\n"
    )
    assert 'id="definition-body"' in web.get("/ui/new-definition").text
    response = web.post("/ui/new-definition", {"body": text_body})
    assert response.status_code == 302, response.text
    assert response.headers["Location"] == f"/ui/definitions/{name}?owner={web.user.username}"
    shown = api_of(web).get(f"/api/definitions/{name}").json()["data"]
    assert shown["owner"] == web.user.username and shown["code"] == 'echo "day $day"\n'
    # Dates and yes/no stay text, as `def create` reads its files.
    assert [p["default"] for p in shown["parameters"]] == ["2026-11-30", "yes"]


def test_a_refused_definition_text_lists_the_errors_beside_it_and_keeps_it(web):
    kept = "name: 1bad\ncode: ''\nparameters: [{name: x, type: colour}]\n"
    response = web.post("/ui/new-definition", {"body": kept})
    assert response.status_code == 400
    errors = html.unescape(re.search(r'id="error-body">(.*?)</small>', response.text, re.S)[1])
    assert "name: must be one word" in errors
    assert "code: must not be empty" in errors
    assert "parameters.0.type: Must be one of" in errors
    assert xhtml_escape(kept) in response.text
    aliases = "a: &x [1, 2]\nb: [*x, *x]\n"
    response = web.post("/ui/new-definition", {"body": aliases})
    assert response.status_code == 400 and "aliases" in response.text
    response = web.post("/ui/new-definition", {"body": '{"name": "x", '})
    assert response.status_code == 400 and "not JSON or YAML" in response.text
    # A control character typed into YAML: where it is and how to write it.
    for typed, where in (
        ('name: x\ncode: "echo \x1b[31mred"\n', "line 2, column 13"),
        ("name: x\ncode: |\n  a\x07b\n", "line 3, column 4"),
    ):
        response = web.post("/ui/new-definition", {"body": typed})
        shown = html.unescape(response.text)
        assert response.status_code == 400 and where in shown, shown
        assert "escape inside double quotes" in shown and "\\e" in shown
    name = f"esc_{uuid.uuid4().hex[:8]}"
    escaped = {"body": f'name: {name}\ncode: "echo \\e[31mred"\n'}
    assert web.post("/ui/new-definition", escaped).status_code == 302
    existing = create_definition(api_of(web))
    response = web.post(
        "/ui/new-definition", {"body": json.dumps({"name": existing["name"], "code": "true"})}
    )
    assert response.status_code == 409 and "already" in response.text
    assert web.post("/ui/new-definition", {"body": kept}, xsrf=False).status_code == 403


def test_a_schedule_made_from_its_form_runs_the_definition_with_its_values(web):
    client = api_of(web)
    definition = create_definition(client)
    url = f"/ui/definitions/{definition['name']}/new-schedule?owner={definition['owner']}"
    form = Elements(web.get(url).text)
    assert form.attrs("param-DAY")["pattern"] == r"\d{4}-\d{2}-\d{2}"  # the run form's widgets
    assert "required" in form.attrs("cron")
    response = web.post(
        url,
        {
            "cron": "30 2 * * MON-FRI",
            "timezone": "Europe/Berlin",
            "overlap": "queue",
            "catch_up": "latest",
            "version": "latest",
            "description": "weekday load",
            "param-DAY": "2026-11-30",
            "param-MODE": "full",
            "param-DRY": ["false"],
            "param-PASSWORD": SECRET_VALUE,
            "paused": "on",
        },
    )
    assert response.status_code == 302, response.text
    schedule_id = response.headers["Location"].rsplit("/", 1)[1]
    shown = client.get(f"/api/schedules/{schedule_id}").json()["data"]
    assert (shown["cron"], shown["timezone"], shown["overlap"], shown["catch_up"]) == (
        "30 2 * * MON-FRI", "Europe/Berlin", "queue", "latest",
    )  # fmt: skip
    assert shown["definition"] == definition["name"] and shown["version"] is None
    assert shown["enabled"] is False and shown["description"] == "weekday load"
    assert shown["parameters"] == {
        "DAY": "2026-11-30",
        "MODE": "full",
        "DRY": False,
        "PASSWORD": "********",
    }
    assert SECRET_VALUE not in web.get(f"/ui/schedules/{schedule_id}").text


def test_a_refused_schedule_shows_its_errors_beside_their_fields(web):
    definition = create_definition(api_of(web))
    url = f"/ui/definitions/{definition['name']}/new-schedule?owner={definition['owner']}"
    values = {
        "cron": "0 30 2 * * *",
        "timezone": "Europe/Berlin",
        "param-DAY": "2026-11-30",
        "param-MODE": "full",
        "param-PASSWORD": SECRET_VALUE,
    }
    response = web.post(url, values)
    assert response.status_code == 400
    assert "must have five fields" in error_text(response.text, "cron")
    found = Elements(response.text)
    assert found.attrs("cron")["value"] == "0 30 2 * * *"
    assert found.attrs("param-DAY")["value"] == "2026-11-30"
    assert SECRET_VALUE not in response.text
    response = web.post(url, {**values, "cron": "@daily", "timezone": "Mars/Olympus"})
    assert response.status_code == 400 and error_text(response.text, "timezone")
    response = web.post(url, {**values, "cron": "@daily", "param-DAY": "soon"})
    assert response.status_code == 400
    assert error_text(response.text, "param-DAY").startswith("must match the pattern")
    assert web.post(url, {**values, "cron": "@daily"}, xsrf=False).status_code == 403


def test_another_users_private_definition_cannot_be_scheduled(web, server):
    private = create_definition(other_user_client(server))
    url = f"/ui/definitions/{private['name']}/new-schedule?owner={private['owner']}"
    assert web.get(url).status_code == 404
    response = web.post(url, {"cron": "@daily", "param-DAY": "2026-11-30", "param-MODE": "full"})
    assert response.status_code == 404


def test_numbers_no_int_reads_are_refused_beside_their_fields_never_a_500(web):
    # "²" is a digit to str.isdigit, not to int(); int() refuses over 4,300 digits;
    # "３" is a digit to both: none is an ASCII number, so each is the schema's "not
    # a valid integer" (or the parameter's "must be an integer"), beside its field.
    definition = create_definition(api_of(web), parameters=[], code="true")
    run = f"/ui/definitions/{definition['name']}/run?owner={definition['owner']}"
    for bad in ("²", "9" * 5000, "３", "-²"):
        for field in ("timeout", "priority", "cpus", "retry_attempts"):
            response = web.post(run, {"version": "1", field: bad})
            assert response.status_code == 400, (field, bad)
            assert error_text(response.text, field), (field, bad)
        response = web.post(run, {"version": bad})  # the version: an unknown one
        assert response.status_code == 400, bad
        response = web.post("/ui/submit", {"code": "true", "timeout": bad})
        assert response.status_code == 400, bad
        assert "Not a valid integer" in error_text(response.text, "timeout")
        response = web.post("/ui/submit", {"code": "true", "array": bad})
        assert response.status_code == 400, bad
        assert error_text(response.text, "array")
    typed = create_definition(api_of(web))
    response = web.post(
        f"/ui/definitions/{typed['name']}/run?owner={typed['owner']}",
        {"version": "1", "param-DAY": "2026-11-30", "param-MODE": "full", "param-ROWS": "²",
         "param-PASSWORD": "x"},
    )  # fmt: skip
    assert response.status_code == 400
    assert error_text(response.text, "param-ROWS")
    schedule = f"/ui/definitions/{typed['name']}/new-schedule?owner={typed['owner']}"
    response = web.post(schedule, {"cron": "0 3 * * *", "version": "²", "param-MODE": "full"})
    assert response.status_code == 400
