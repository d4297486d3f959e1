"""The dashboard's edit and delete of definitions and schedules: the owner's, another
user's (404, or 403 for a shared one, as the API answers), an admin's; the editor's
text (YAML or JSON) read back as stored; errors beside their fields; escaping; XSRF;
and a schedule's secret never written into a page (empty keeps it)."""

import html
import json
import random
import re

from sqlalchemy import text

from shell_service.handlers.ui.changes import (
    definition_text,
    editable_body,
    schedule_changes,
    schedule_form_values,
)
from shell_service.handlers.ui.definitions import parse_definition_text

from .. import factories
from ..helpers import wait_for_job
from .conftest import Browser
from .test_definitions import (
    EVERY_TYPE,
    SECRET_VALUE,
    Elements,
    api_of,
    create_definition,
    create_schedule,
    error_text,
    other_user_client,
)

#: What differs between two versions of the same fields.
VERSION_KEYS = ("version", "latest_version", "created_at", "modified")
EVIL = "<script>alert(\"x\")</script> 'q'"


def editor_text(page: str) -> str:
    found = re.search(
        r'<textarea name="body" id="definition-body"[^>]*>(.*?)</textarea>', page, re.S
    )
    assert found, "no editor"
    text = html.unescape(found.group(1))
    # What a browser's textarea holds: HTML drops the newline right after the tag.
    return text[1:] if text.startswith("\n") else text


def edit_url(definition: dict, fmt: str | None = None) -> str:
    url = f"/ui/definitions/{definition['name']}/edit?owner={definition['owner']}"
    return url + (f"&format={fmt}" if fmt else "")


def save(web: Browser, definition: dict, body_text: str, base: int | str):
    return web.post(edit_url(definition), {"body": body_text, "base_version": str(base)})


def admin_browser(server) -> Browser:
    admin = factories.TokenFactory(user=factories.UserFactory(admin=True))
    browser = Browser(server.url)
    browser.sign_in(admin.secret)
    browser.user, browser.token = admin.user, admin.secret
    return browser


def stored_secret(db_session, schedule_id: int) -> dict:
    db_session.expire_all()
    return db_session.execute(
        text("SELECT secret_parameters FROM schedules WHERE id = :id"), {"id": schedule_id}
    ).scalar_one()


def test_the_owner_edits_a_definition_in_yaml_and_saves_a_new_version(web):
    client = api_of(web)
    definition = create_definition(
        client, description="Loads a day\nof rows", shared=True, timeout=60, args=["a b"]
    )
    page = web.get(f"/ui/definitions/{definition['name']}?owner={definition['owner']}")
    found = Elements(page.text)
    assert found.attrs("edit-definition")["href"] == edit_url(definition)
    assert "delete-definition" in found.by_id
    editor = web.get(edit_url(definition))
    assert editor.status_code == 200
    typed = editor_text(editor.text)
    assert typed.startswith(f"name: {definition['name']}\n")
    assert "description: |-\n  Loads a day\n  of rows\n" in typed  # a block, as typed
    assert 'name="base_version" value="1"' in editor.text
    shown = client.get(f"/api/definitions/{definition['name']}").json()["data"]
    changed = typed.replace("pw=${#PASSWORD}", "password of ${#PASSWORD}")
    response = save(web, definition, changed, 1)
    assert response.status_code == 302, response.text
    assert (
        response.headers["Location"]
        == f"/ui/definitions/{definition['name']}?owner={web.user.username}"
    )
    after = client.get(f"/api/definitions/{definition['name']}").json()["data"]
    assert after["version"] == 2 and "password of" in after["code"]
    for field in ("description", "parameters", "options", "args", "shared", "shell", "env"):
        assert after[field] == shown[field], field
    # Saved again unchanged: the next version holds the same fields (nothing lost).
    response = save(web, definition, editor_text(web.get(edit_url(definition)).text), 2)
    assert response.status_code == 302, response.text
    third = client.get(f"/api/definitions/{definition['name']}").json()["data"]
    assert third["version"] == 3
    assert {k: v for k, v in third.items() if k not in VERSION_KEYS} == {
        k: v for k, v in after.items() if k not in VERSION_KEYS
    }


def test_the_editor_shows_json_when_asked_and_a_run_takes_the_new_version(web):
    client = api_of(web)
    definition = create_definition(client, parameters=[], code="echo one")
    editor = web.get(edit_url(definition, "json"))
    assert editor.status_code == 200
    body = json.loads(editor_text(editor.text))
    assert body["name"] == definition["name"] and body["code"] == "echo one"
    assert 'id="format-yaml"' in editor.text and 'id="format-json"' not in editor.text
    body["code"] = "echo two"
    response = save(web, definition, json.dumps(body), 1)
    assert response.status_code == 302, response.text
    run = web.post(
        f"/ui/definitions/{definition['name']}/run?owner={definition['owner']}", {"version": "2"}
    )
    job = wait_for_job(client, run.headers["Location"].rsplit("/", 1)[1])
    assert (job["definition_version"], job["stdout"]) == (2, "two\n")
    assert web.get(edit_url(definition, "toml")).status_code == 400


def test_a_refused_edit_lists_the_apis_errors_keeps_the_text_and_stores_nothing(web):
    client = api_of(web)
    definition = create_definition(client, parameters=[], code="true")
    kept = f"name: {definition['name']}\ncode: ''\nparameters: [{{name: x, type: colour}}]\n"
    response = save(web, definition, kept, 1)
    assert response.status_code == 400
    errors = html.unescape(re.search(r'id="error-body">(.*?)</small>', response.text, re.S)[1])
    assert "code: must not be empty" in errors
    assert "parameters.0.type: Must be one of" in errors
    assert editor_text(response.text) == kept
    renamed = f"name: other_{definition['name']}\ncode: 'true'\n"
    response = save(web, definition, renamed, 1)
    assert response.status_code == 400 and "does not change" in html.unescape(response.text)
    response = save(web, definition, '{"code": ', 1)
    assert response.status_code == 400 and "not JSON or YAML" in response.text
    over = f"name: {definition['name']}\ncode: 'true'\ntimeout: 999999999\n"
    response = save(web, definition, over, 1)
    assert response.status_code == 400 and "timeout" in response.text
    assert client.get(f"/api/definitions/{definition['name']}").json()["data"]["version"] == 1


def test_a_refused_save_keeps_the_opened_version_so_a_newer_one_is_still_reported(web):
    client = api_of(web)
    definition = create_definition(client, parameters=[], code="echo mine")
    typed = editor_text(web.get(edit_url(definition)).text).replace("mine", "edited")
    client.request("PATCH", f"/api/definitions/{definition['name']}", json={"code": "echo theirs"})
    for broken in ("code: [unclosed", "code: echo \x1b[31m"):  # YAML refuses both
        response = save(web, definition, broken, 1)
        assert response.status_code == 400, broken
        assert 'name="base_version" value="1"' in response.text  # not moved on to 2
    response = save(web, definition, typed, 1)
    assert response.status_code == 409  # version 2 is still reported, not overwritten
    assert client.get(f"/api/definitions/{definition['name']}").json()["data"]["code"] == (
        "echo theirs"
    )


def test_a_version_stored_meanwhile_is_not_overwritten_unseen(web):
    client = api_of(web)
    definition = create_definition(client, parameters=[], code="echo mine")
    typed = editor_text(web.get(edit_url(definition)).text).replace("mine", "edited")
    client.request("PATCH", f"/api/definitions/{definition['name']}", json={"code": "echo theirs"})
    response = save(web, definition, typed, 1)
    assert response.status_code == 409
    assert "version 2 was stored since this editor opened version 1" in html.unescape(response.text)
    assert editor_text(response.text) == typed
    assert 'name="base_version" value="2"' in response.text
    assert client.get(f"/api/definitions/{definition['name']}").json()["data"]["code"] == (
        "echo theirs"
    )
    response = save(web, definition, typed, 2)  # saved again: stored over it
    assert response.status_code == 302
    assert client.get(f"/api/definitions/{definition['name']}").json()["data"]["code"] == (
        "echo edited"
    )


def test_someone_elses_shared_definition_has_no_buttons_and_refuses_a_forged_post(web, server):
    other = other_user_client(server)
    shared = create_definition(other, shared=True, parameters=[], code="echo theirs")
    page = web.get(f"/ui/definitions/{shared['name']}?owner={shared['owner']}")
    assert page.status_code == 200
    assert 'id="edit-definition"' not in page.text and 'id="delete-definition"' not in page.text
    assert web.get(edit_url(shared)).status_code == 403
    response = save(web, shared, "code: echo mine\n", 1)
    assert response.status_code == 403 and "only they or an admin" in html.unescape(response.text)
    delete = web.post(f"/ui/definitions/{shared['name']}/delete?owner={shared['owner']}")
    assert delete.status_code == 403
    after = other.get(f"/api/definitions/{shared['name']}").json()["data"]
    assert (after["version"], after["code"]) == (1, "echo theirs")
    # A private one of theirs: not found, as for the API.
    private = create_definition(other, parameters=[], code="true")
    assert web.get(edit_url(private)).status_code == 404
    assert save(web, private, "code: 'false'\n", 1).status_code == 404
    assert (
        web.post(f"/ui/definitions/{private['name']}/delete?owner={private['owner']}").status_code
        == 404
    )
    assert other.get(f"/api/definitions/{private['name']}").json()["data"]["version"] == 1


def test_an_admin_edits_and_deletes_another_users_definition(server):
    admin = admin_browser(server)
    other = other_user_client(server)
    theirs = create_definition(other, parameters=[], code="echo one")
    page = admin.get(f"/ui/definitions/{theirs['name']}?owner={theirs['owner']}").text
    assert 'id="edit-definition"' in page and 'id="delete-definition"' in page
    typed = editor_text(admin.get(edit_url(theirs)).text).replace("one", "two")
    assert save(admin, theirs, typed, 1).status_code == 302
    after = other.get(f"/api/definitions/{theirs['name']}").json()["data"]
    assert (after["version"], after["code"], after["owner"]) == (2, "echo two", theirs["owner"])
    versions = other.get(f"/api/definitions/{theirs['name']}/versions").json()["data"]
    assert versions[0]["author"] == admin.user.username
    response = admin.post(f"/ui/definitions/{theirs['name']}/delete?owner={theirs['owner']}")
    assert response.status_code == 302
    assert other.get(f"/api/definitions/{theirs['name']}").status_code == 404


def test_deleting_a_definition_says_what_goes_and_its_jobs_stay(web, server):
    client = api_of(web)
    definition = create_definition(client, shared=True, parameters=[], code="echo ran")
    mine = create_schedule(client, definition["name"], parameters={})
    other = other_user_client(server)
    theirs = create_schedule(
        other, definition["name"], owner=definition["owner"], parameters={}, version="latest"
    )
    run = web.post(
        f"/ui/definitions/{definition['name']}/run?owner={definition['owner']}", {"version": "1"}
    )
    job_id = run.headers["Location"].rsplit("/", 1)[1]
    wait_for_job(client, job_id)
    page = web.get(f"/ui/definitions/{definition['name']}?owner={definition['owner']}").text
    question = html.unescape(re.search(r'onsubmit="return confirm\(([^"]*)\)"', page)[1])
    assert json.loads(question) == (
        f"Delete the definition {definition['name']} and its 1 version? Its 2 schedules "
        "(1 of other users) go with it. The jobs that ran from it stay, with its name and "
        "version."
    )
    response = web.post(f"/ui/definitions/{definition['name']}/delete?owner={definition['owner']}")
    assert response.status_code == 302 and response.headers["Location"] == "/ui/definitions"
    assert client.get(f"/api/definitions/{definition['name']}").status_code == 404
    assert client.get(f"/api/schedules/{mine['id']}").status_code == 404
    assert other.get(f"/api/schedules/{theirs['id']}").status_code == 404
    job = client.get(f"/api/jobs/{job_id}").json()["data"]
    assert (job["definition_name"], job["definition_version"], job["stdout"]) == (
        definition["name"], 1, "ran\n",
    )  # fmt: skip


def test_the_editor_and_the_delete_question_escape_what_users_wrote(web):
    definition = create_definition(
        api_of(web), description=EVIL, code=f"echo '{EVIL}'", parameters=[]
    )
    editor = web.get(edit_url(definition)).text
    assert "<script>alert" not in editor
    assert EVIL in editor_text(editor)
    page = web.get(f"/ui/definitions/{definition['name']}").text
    assert "<script>alert" not in page
    for path in (edit_url(definition, "json"),):
        assert "<script>alert" not in web.get(path).text


def test_edits_and_deletes_need_the_xsrf_token(web):
    client = api_of(web)
    definition = create_definition(client, parameters=[], code="true")
    typed = editor_text(web.get(edit_url(definition)).text)
    response = web.post(edit_url(definition), {"body": typed, "base_version": "1"}, xsrf=False)
    assert response.status_code == 403
    delete = f"/ui/definitions/{definition['name']}/delete?owner={definition['owner']}"
    assert web.post(delete, xsrf=False).status_code == 403
    assert client.get(f"/api/definitions/{definition['name']}").json()["data"]["version"] == 1
    schedule = create_schedule(client, definition["name"], parameters={})
    edit = f"/ui/schedules/{schedule['id']}/edit"
    assert web.post(edit, {"cron": "@daily"}, xsrf=False).status_code == 403
    assert web.post(f"/ui/schedules/{schedule['id']}/delete", xsrf=False).status_code == 403
    assert client.get(f"/api/schedules/{schedule['id']}").json()["data"]["cron"] == "30 2 * * *"


def schedule_form(web: Browser, schedule_id: int) -> dict[str, str | list[str]]:
    """The edit form's fields as the browser would send them unchanged."""
    page = web.get(f"/ui/schedules/{schedule_id}/edit")
    assert page.status_code == 200
    found = Elements(page.text)
    form: dict[str, str | list[str]] = {}
    for name in ("cron", "timezone", "description"):
        form[name] = found.attrs(name)["value"]
    for name in ("overlap", "catch_up", "version"):
        form[name] = [o["value"] for o in found.options[name] if "selected" in o][0]
    for spec in EVERY_TYPE:
        field = "param-" + spec["name"]
        if spec["type"] in ("choice", "multichoice"):
            form[field] = [o["value"] for o in found.options[field] if "selected" in o]
        elif spec["type"] == "boolean":
            checked = "checked" in found.attrs(field)
            form[field] = ["false", "true"] if checked else ["false"]
        else:
            form[field] = found.attrs(field).get("value", "")
    return form


def test_a_schedules_edit_form_is_filled_with_it_but_never_its_secret(web, db_session):
    client = api_of(web)
    definition = create_definition(client)
    schedule = create_schedule(
        client,
        definition["name"],
        description="nightly",
        overlap="queue",
        catch_up="latest",
        parameters={"DAY": "2026-11-30", "MODE": "full", "ROWS": 42, "PASSWORD": SECRET_VALUE},
    )
    page = web.get(f"/ui/schedules/{schedule['id']}").text
    assert Elements(page).attrs("edit-schedule")["href"] == f"/ui/schedules/{schedule['id']}/edit"
    editor = web.get(f"/ui/schedules/{schedule['id']}/edit")
    assert editor.status_code == 200 and SECRET_VALUE not in editor.text
    found = Elements(editor.text)
    assert found.attrs("cron")["value"] == "30 2 * * *"
    assert found.attrs("timezone")["value"] == "Europe/Berlin"
    assert found.attrs("description")["value"] == "nightly"
    assert found.attrs("param-DAY")["value"] == "2026-11-30"
    assert found.attrs("param-ROWS")["value"] == "42"
    assert [o["value"] for o in found.options["param-MODE"] if "selected" in o] == ["full"]
    assert [o["value"] for o in found.options["overlap"] if "selected" in o] == ["queue"]
    assert [o["value"] for o in found.options["catch_up"] if "selected" in o] == ["latest"]
    assert [o["value"] for o in found.options["version"] if "selected" in o] == ["latest"]
    password = found.attrs("param-PASSWORD")
    assert password["value"] == "" and "required" not in password  # empty keeps it
    assert "a value is stored: leave empty to keep it" in editor.text
    # Sent back unchanged: nothing is stored (a cron sent again would restart the ticks).
    before = client.get(f"/api/schedules/{schedule['id']}").json()["data"]
    response = web.post(f"/ui/schedules/{schedule['id']}/edit", schedule_form(web, schedule["id"]))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/ui/schedules/{schedule['id']}"
    assert client.get(f"/api/schedules/{schedule['id']}").json()["data"] == before
    assert stored_secret(db_session, schedule["id"]) == {"PASSWORD": SECRET_VALUE}


def test_saving_a_schedules_form_patches_what_changed_and_keeps_the_secret(web, db_session):
    client = api_of(web)
    definition = create_definition(client)
    schedule = create_schedule(
        client,
        definition["name"],
        parameters={"DAY": "2026-11-30", "MODE": "full", "ROWS": 42, "PASSWORD": SECRET_VALUE},
    )
    form = schedule_form(web, schedule["id"])
    form.update(
        {
            "cron": " 15  3 * * MON ",
            "timezone": "America/New_York",
            "description": "changed <b>",
            "param-MODE": "delta",
            "param-ROWS": "",  # emptied: removed, its default applies
        }
    )
    response = web.post(f"/ui/schedules/{schedule['id']}/edit", form)
    assert response.status_code == 302, response.text
    after = client.get(f"/api/schedules/{schedule['id']}").json()["data"]
    assert (after["cron"], after["timezone"], after["description"]) == (
        "15 3 * * MON", "America/New_York", "changed <b>",
    )  # fmt: skip
    assert after["parameters"] == {"DAY": "2026-11-30", "MODE": "delta", "PASSWORD": "********"}
    assert after["next_fires"][0]["local"].endswith("03:15:00-05:00")
    assert stored_secret(db_session, schedule["id"]) == {"PASSWORD": SECRET_VALUE}
    # A secret typed replaces the stored one.
    form = schedule_form(web, schedule["id"])
    form["param-PASSWORD"] = "new-" + SECRET_VALUE
    assert web.post(f"/ui/schedules/{schedule['id']}/edit", form).status_code == 302
    assert stored_secret(db_session, schedule["id"]) == {"PASSWORD": "new-" + SECRET_VALUE}
    assert SECRET_VALUE not in web.get(f"/ui/schedules/{schedule['id']}/edit").text


def test_a_refused_schedule_edit_shows_errors_beside_fields_and_stores_nothing(web):
    client = api_of(web)
    definition = create_definition(client)
    schedule = create_schedule(client, definition["name"])
    url = f"/ui/schedules/{schedule['id']}/edit"
    before = client.get(f"/api/schedules/{schedule['id']}").json()["data"]
    form = schedule_form(web, schedule["id"])
    response = web.post(url, {**form, "cron": "0 30 2 * * *", "param-PASSWORD": SECRET_VALUE})
    assert response.status_code == 400
    assert "must have five fields" in error_text(response.text, "cron")
    found = Elements(response.text)
    assert found.attrs("cron")["value"] == "0 30 2 * * *"
    assert found.attrs("param-DAY")["value"] == "2026-11-30"
    assert SECRET_VALUE not in response.text
    response = web.post(url, {**form, "timezone": "Mars/Olympus"})
    assert response.status_code == 400 and error_text(response.text, "timezone")
    response = web.post(url, {**form, "param-DAY": "soon", "param-ROWS": "5000"})
    assert response.status_code == 400
    assert error_text(response.text, "param-DAY").startswith("must match the pattern")
    assert error_text(response.text, "param-ROWS") == "must be at most 1000"
    response = web.post(url, {**form, "version": "7"})
    assert response.status_code == 400 and "no version 7" in error_text(response.text, "version")
    assert client.get(f"/api/schedules/{schedule['id']}").json()["data"] == before


def test_another_users_schedule_is_a_404_to_edit_and_delete_and_an_admin_may(web, server):
    other = other_user_client(server)
    theirs = create_schedule(other, create_definition(other)["name"], description=EVIL)
    assert web.get(f"/ui/schedules/{theirs['id']}/edit").status_code == 404
    assert web.post(f"/ui/schedules/{theirs['id']}/edit", {"cron": "@daily"}).status_code == 404
    assert web.post(f"/ui/schedules/{theirs['id']}/delete").status_code == 404
    assert other.get(f"/api/schedules/{theirs['id']}").json()["data"]["cron"] == "30 2 * * *"
    admin = admin_browser(server)
    editor = admin.get(f"/ui/schedules/{theirs['id']}/edit")
    assert editor.status_code == 200
    assert "<script>alert" not in editor.text and SECRET_VALUE not in editor.text
    assert Elements(editor.text).attrs("description")["value"] == EVIL
    form = schedule_form(admin, theirs["id"])
    assert (
        admin.post(f"/ui/schedules/{theirs['id']}/edit", {**form, "cron": "@hourly"}).status_code
        == 302
    )
    assert other.get(f"/api/schedules/{theirs['id']}").json()["data"]["cron"] == "@hourly"
    response = admin.post(f"/ui/schedules/{theirs['id']}/delete")
    assert response.status_code == 302 and response.headers["Location"] == "/ui/schedules"
    assert other.get(f"/api/schedules/{theirs['id']}").status_code == 404


def test_deleting_a_schedule_keeps_the_jobs_it_fired(web, db_session):
    client = api_of(web)
    definition = create_definition(client, parameters=[], code="true")
    schedule = create_schedule(client, definition["name"], parameters={})
    job = factories.JobFactory(submitter=web.user)
    db_session.execute(
        text("UPDATE jobs SET schedule_id = :s WHERE id = :j"), {"s": schedule["id"], "j": job.id}
    )
    db_session.commit()
    page = web.get(f"/ui/schedules/{schedule['id']}").text
    assert "Delete schedule" in html.unescape(page) and 'id="delete-schedule"' in page
    response = web.post(f"/ui/schedules/{schedule['id']}/delete")
    assert response.status_code == 302
    assert client.get(f"/api/schedules/{schedule['id']}").status_code == 404
    assert web.get(f"/ui/schedules/{schedule['id']}").status_code == 404
    assert client.get(f"/api/jobs/{job.id}").json()["data"]["schedule_id"] == schedule["id"]
    listed = client.get(f"/api/jobs?schedule={schedule['id']}").json()["data"]
    assert [row["id"] for row in listed] == [job.id]


def test_the_editors_text_reads_back_as_the_stored_body():
    pieces = ["\t", " ", "\n", "a", "#", ":", "- ", "'", '"', "\\", "ü", "\r", "|", "{", "}"]
    pieces += ["\x1b", "\u2028", "\x85", "yes", "2026-11-30", "1e3", "null", "~", "0x1"]
    rnd = random.Random(17)
    for _ in range(3000):

        def word():
            return "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 8)))

        body = {"name": "n", "description": word(), "code": word(), "args": [word()]}
        body |= {"env": {"A": word()}, "stdin": word(), "shared": False}
        body["parameters"] = [{"name": "p", "type": "choice", "choices": [word() or "x"]}]
        for fmt in ("yaml", "json"):
            assert parse_definition_text(definition_text(body, fmt)) == body, (fmt, body)
    script = {"name": "n", "code": "for x in a b; do\n\techo $x\ndone\n"}
    assert (
        definition_text(script, "yaml")
        == "name: n\ncode: |\n  for x in a b; do\n  \techo $x\n  done\n"
    )


def test_an_unchanged_form_changes_nothing_and_emptied_fields_are_removed():
    specs = EVERY_TYPE
    row = {
        "cron": "30 2 * * *", "timezone": "UTC", "overlap": "skip", "catch_up": "none",
        "description": None, "version": None,
        "parameters": {"DAY": "2026-11-30", "RATIO": 0.5, "TAGS": ["a"], "DRY": False},
        "secret_parameters": {"PASSWORD": "x"},
    }  # fmt: skip
    values = schedule_form_values(row, specs)
    assert "param-PASSWORD" not in values
    assert values["param-RATIO"] == ["0.5"] and values["param-ROWS"] == ["10"]  # its default
    form = dict(values)
    form["param-DRY"] = ["false"]  # unticked: the hidden false alone
    assert schedule_changes(row, specs, form) == {}
    form |= {"param-RATIO": [""], "param-ROWS": ["11"], "param-PASSWORD": ["y"]}
    assert schedule_changes(row, specs, form) == {
        "parameters": {"RATIO": None, "ROWS": "11", "PASSWORD": "y"}
    }
    assert schedule_changes(row, specs, {**values, "param-DRY": ["false"], "version": ["3"]}) == {
        "version": 3
    }
    # What an <input> cannot show (line breaks) or a list cannot (an order) is no change.
    lines = {**row, "description": "two\nlines", "parameters": {"DAY": "a\nb", "TAGS": ["c", "a"]}}
    sent = {**schedule_form_values(lines, specs), "param-DRY": ["true"]}
    sent |= {"description": ["twolines"], "param-DAY": ["ab"], "param-TAGS": ["a", "c"]}
    assert schedule_changes(lines, specs, sent) == {}
    sent |= {"description": ["two lines"], "param-TAGS": ["a"]}
    assert schedule_changes(lines, specs, sent) == {
        "description": "two lines",
        "parameters": {"TAGS": ["a"]},
    }
    assert editable_body({"name": "n", "shared": False}, {
        "description": None, "shell": None, "code": "true", "args": [], "env": {},
        "stdin": None, "options": {"timeout": 5}, "parameters": [],
    }) == {"name": "n", "code": "true", "timeout": 5, "shared": False}  # fmt: skip
