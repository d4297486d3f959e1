"""The dashboard's READY jobs: "Queue it" and "Edit" on a job's page, through the
API's own execute and PATCH code (its 409s on the page, its 400s beside their
fields, a move to another queue checked against that queue's maxima); someone
else's job a 404; no buttons and a refused forged POST once a job is not READY;
and the jobs list's schedule filter, linked from a schedule's page."""

import copy
import html
import re

import pytest
from sqlalchemy import text

from .. import factories
from ..conftest import Client
from ..helpers import create_job, wait_for_job
from .conftest import Browser
from .test_definitions import create_definition, create_schedule

EVIL = "<script>alert('x')</script>\"'"
ESCAPED = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&quot;&#x27;"
#: A second queue with small maxima (as tests/api/test_queues.py's).
SMALL = {
    "name": "small",
    "description": "Short jobs",
    "executor": "local",
    "max_running": 1,
    "max_running_per_user": 1,
    "default_timeout": 60,
    "max_timeout": 120,
    "max_cpus": 1,
    "max_memory_mb": 512,
}


@pytest.fixture
def two_queues(server):
    """The running service with a second queue, ``small``, after ``default``."""
    saved = copy.deepcopy(server.cfg["queues"])
    server.cfg["queues"] = [*saved, dict(SMALL)]
    yield server.cfg["queues"]
    server.cfg["queues"] = saved


def api_of(web: Browser) -> Client:
    """The API as the signed-in user (their token)."""
    return Client(web.base_url, web.token)


def job_of(client: Client, job_id: str) -> dict:
    response = client.get(f"/api/jobs/{job_id}")
    assert response.status_code == 200, response.text
    return response.json()["data"]


def field_value(page: str, name: str) -> str:
    """An input's value, or a textarea's text, as the browser would show it."""
    found = re.search(rf'<input name="{name}" id="field-{name}" value="([^"]*)"', page)
    if found is None:
        found = re.search(
            rf'<textarea name="{name}" id="field-{name}"[^>]*>(.*?)</textarea>', page, re.S
        )
    assert found is not None, name
    text = html.unescape(found.group(1))
    if found.group(0).startswith("<textarea") and text.startswith("\n"):
        text = text[1:]  # HTML drops the newline right after <textarea>
    return text


def selected(page: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}" id="field-{name}".*?</select>', page, re.S).group(0)
    return re.findall(r"<option selected>([^<]*)</option>", select)


def edit_form(page: str) -> dict:
    """The edit form's fields as the browser would post them unchanged."""
    names = ("code", "args", "env", "stdin", "timeout", "priority", "cpus", "memory_mb",
             "retry_attempts", "retry_exit_codes", "retry_backoff_initial",
             "retry_backoff_factor", "retry_backoff_max")  # fmt: skip
    form = {name: field_value(page, name) for name in names}
    form["shell"] = selected(page, "shell")[0]
    form["queue"] = selected(page, "queue")[0]
    form["retry_on"] = re.findall(r'name="retry_on" value="([A-Z_]+)"[^>]*\n?\s*checked', page)
    return form


def actions(page: str) -> str:
    return re.search(r'<p id="actions">(.*?)</p>', page, re.S).group(1)


def test_a_ready_jobs_page_queues_it_and_it_runs(web):
    api = api_of(web)
    job_id = create_job(api, "echo queued from the page")
    page = web.get(f"/ui/jobs/{job_id}").text
    buttons = actions(page)
    assert f'action="/ui/jobs/{job_id}/execute"' in buttons and 'id="queue-it"' in buttons
    assert f'href="/ui/jobs/{job_id}/edit"' in buttons
    assert web.get(f"/ui/jobs/{job_id}/execute").status_code == 405  # a link queues nothing
    assert job_of(api, job_id)["status"] == "READY"
    response = web.post(f"/ui/jobs/{job_id}/execute")
    assert response.status_code == 302, response.text
    assert response.headers["Location"] == f"/ui/jobs/{job_id}?notice=queued"
    job = wait_for_job(api, job_id)
    assert (job["status"], job["stdout"]) == ("COMPLETE", "queued from the page\n")
    # Executed by the same code as the API's: its event is the execute's.
    events = api.get(f"/api/jobs/{job_id}/events").json()["data"]
    assert [e["to_status"] for e in events][:2] == ["READY", "QUEUED"]
    assert events[1]["actor_id"] == web.user.id
    # Not READY any more: no buttons, and a forged POST is the API's 409, on the page.
    page = web.get(f"/ui/jobs/{job_id}").text
    assert 'id="queue-it"' not in page and 'id="edit"' not in page
    again = web.post(f"/ui/jobs/{job_id}/execute")
    assert again.status_code == 409
    message = re.search(r'<p role="alert" class="error" id="message">(.*?)</p>', again.text)
    assert message.group(1) == html.escape(
        f"Job '{job_id}' is COMPLETE; only a READY job can be executed"
    )
    assert 'id="job-status">COMPLETE' in again.text  # the job's own page


def test_queueing_a_job_whose_queue_was_removed_shows_the_apis_409(web, server, two_queues):
    api = api_of(web)
    job_id = create_job(api, "echo moved", queue="small")
    server.cfg["queues"] = [q for q in two_queues if q["name"] != "small"]
    response = web.post(f"/ui/jobs/{job_id}/execute")
    assert response.status_code == 409
    api_answer = api.post(f"/api/jobs/{job_id}/execute")
    assert api_answer.status_code == 409
    assert html.escape(api_answer.json()["message"]) in response.text
    assert "no queue is called &#x27;small&#x27;" in response.text
    assert job_of(api, job_id)["status"] == "READY"
    # Its edit form still shows the queue it is in (not silently another), and moving
    # it to one that exists lets it run.
    form_page = web.get(f"/ui/jobs/{job_id}/edit").text
    assert selected(form_page, "queue") == ["small"]
    form = edit_form(form_page)
    form["queue"] = "default"
    saved = web.post(f"/ui/jobs/{job_id}/edit", form)
    assert saved.status_code == 302, saved.text
    assert web.post(f"/ui/jobs/{job_id}/execute").status_code == 302
    assert wait_for_job(api, job_id)["status"] == "COMPLETE"


def test_queueing_a_job_over_its_queues_maxima_now_shows_the_apis_409(web, two_queues):
    api = api_of(web)
    job_id = create_job(api, "true", queue="small", timeout=100)
    small = next(q for q in two_queues if q["name"] == "small")
    small.update(default_timeout=40, max_timeout=50)
    response = web.post(f"/ui/jobs/{job_id}/execute")
    assert response.status_code == 409
    assert (
        f"Job &#x27;{job_id}&#x27; no longer fits the config: timeout: must be at most 50"
        in response.text
    )
    assert job_of(api, job_id)["status"] == "READY"


def test_the_edit_form_is_the_submit_form_filled_with_the_job_escaped(web):
    api = api_of(web)
    job_id = create_job(
        api,
        f"echo {EVIL}\n",
        args=[EVIL, "two"],
        env={"GREETING": EVIL, "B": "2"},
        stdin=f"in {EVIL}",
        timeout=300,
        priority=7,
        retry={"attempts": 2, "on": ["FAILED", "TIMED_OUT"], "exit_codes": [75],
               "backoff": {"initial": 5}},
    )  # fmt: skip
    response = web.get(f"/ui/jobs/{job_id}/edit")
    assert response.status_code == 200
    page = response.text
    assert EVIL not in page and ESCAPED in page
    assert f'action="/ui/jobs/{job_id}/edit"' in page and 'id="save"' in page
    form = edit_form(page)
    assert form["code"] == f"echo {EVIL}\n"
    assert form["args"] == f"{EVIL}\ntwo"
    assert form["env"] == f"B=2\nGREETING={EVIL}"
    assert form["stdin"] == f"in {EVIL}"
    assert (form["timeout"], form["priority"], form["shell"], form["queue"]) == (
        "300", "7", job_of(api, job_id)["shell"], "default"
    )  # fmt: skip
    assert (form["retry_attempts"], form["retry_exit_codes"]) == ("2", "75")
    assert sorted(form["retry_on"]) == ["FAILED", "TIMED_OUT"]
    assert form["retry_backoff_initial"] == "5"
    # What PATCH cannot change is not in the form: its id, dependencies, array.
    for absent in ('name="id"', 'name="array"', 'name="depends_job_1"', 'name="execute"'):
        assert absent not in page
    assert '<option value="">default</option>' not in page  # the job's own are selected


def test_saving_the_edit_form_changes_only_what_changed_then_shows_the_job(web):
    api = api_of(web)
    job_id = create_job(
        api, "echo before", env={"KEEP": "1"}, timeout=300,
        retry={"attempts": 3, "exit_codes": [75], "backoff": {"initial": 10}},
    )  # fmt: skip
    before = job_of(api, job_id)
    form = edit_form(web.get(f"/ui/jobs/{job_id}/edit").text)
    form.update(code="echo after\r\n", env="KEEP=1\r\nNEW=two", args="a b\r\n")
    response = web.post(f"/ui/jobs/{job_id}/edit", form)
    assert response.status_code == 302, response.text
    assert response.headers["Location"] == (
        f"/ui/jobs/{job_id}?notice=changed&fields=args%2Ccode%2Cenv"
    )
    after = job_of(api, job_id)
    assert (after["code"], after["env"], after["args"]) == (
        "echo after\n", {"KEEP": "1", "NEW": "two"}, ["a b"]
    )  # fmt: skip
    unchanged = ("timeout", "priority", "cpus", "memory_mb", "queue", "shell", "retry", "stdin")
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    events = api.get(f"/api/jobs/{job_id}/events").json()["data"]
    assert events[-1]["detail"] == "changed: args, code, env"
    assert events[-1]["actor_id"] == web.user.id
    assert "Changed: args, code, env." in web.get(response.headers["Location"]).text
    # The retry emptied is no retry; an empty number is the queue's default.
    form = edit_form(web.get(f"/ui/jobs/{job_id}/edit").text)
    for name in ("retry_attempts", "retry_exit_codes", "retry_backoff_initial",
                 "retry_backoff_factor", "retry_backoff_max", "timeout"):  # fmt: skip
        form[name] = ""
    form["retry_on"] = []
    assert web.post(f"/ui/jobs/{job_id}/edit", form).status_code == 302
    after = job_of(api, job_id)
    queue_default = api.get("/api/queues/default").json()["data"]["limits"]["timeout"]["default"]
    assert (after["retry"], after["timeout"]) == (None, queue_default)
    # Saved unchanged: the API's "nothing to change", above the form.
    form = edit_form(web.get(f"/ui/jobs/{job_id}/edit").text)
    same = web.post(f"/ui/jobs/{job_id}/edit", form)
    assert same.status_code == 400
    assert "Invalid request body: nothing to change" in same.text


def test_arguments_and_environment_holding_newlines_stay_as_they_are(web):
    api = api_of(web)
    job_id = create_job(api, "echo one", args=["two\nlines", "x"], env={"V": "a\nb=c", "W": "1"})
    form = edit_form(web.get(f"/ui/jobs/{job_id}/edit").text)
    form["code"] = "echo two"
    response = web.post(f"/ui/jobs/{job_id}/edit", form)
    assert response.status_code == 302, response.text
    job = job_of(api, job_id)
    assert (job["code"], job["args"], job["env"]) == (
        "echo two", ["two\nlines", "x"], {"V": "a\nb=c", "W": "1"}
    )  # fmt: skip
    # Changed, they read as the form's lines.
    form["env"] = form["env"] + "\nX=3"
    assert web.post(f"/ui/jobs/{job_id}/edit", form).status_code == 302
    assert job_of(api, job_id)["env"] == {"V": "a", "b": "c", "W": "1", "X": "3"}


def test_a_400_is_shown_beside_its_field_with_the_values_kept(web):
    api = api_of(web)
    job_id = create_job(api, "echo kept", priority=1)
    form = edit_form(web.get(f"/ui/jobs/{job_id}/edit").text)
    form.update(code=f"echo {EVIL}", priority="500", retry_backoff_initial="-1")
    response = web.post(f"/ui/jobs/{job_id}/edit", form)
    assert response.status_code == 400
    page = response.text
    priority_error = re.search(r'<small class="error" id="error-priority">(.*?)</small>', page)
    assert "greater than or equal to -100" in priority_error.group(1)
    assert 'id="error-retry-backoff-initial"' in page
    assert field_value(page, "code") == f"echo {EVIL}" and field_value(page, "priority") == "500"
    assert EVIL not in page
    assert job_of(api, job_id)["code"] == "echo kept"  # nothing stored
    # A line of the environment that is not NAME=value: the form's own check.
    form.update(code="echo kept", priority="1", retry_backoff_initial="", env="NOEQUALS")
    response = web.post(f"/ui/jobs/{job_id}/edit", form)
    assert response.status_code == 400
    assert "Line 1: write NAME=value." in response.text


def test_moving_to_another_queue_checks_that_queues_maxima(web, two_queues):
    api = api_of(web)
    job_id = create_job(api, "true", timeout=3600)
    form = edit_form(web.get(f"/ui/jobs/{job_id}/edit").text)
    form["queue"] = "small"
    response = web.post(f"/ui/jobs/{job_id}/edit", form)
    assert response.status_code == 400
    error = re.search(r'<small class="error" id="error-timeout">(.*?)</small>', response.text)
    assert error.group(1) == html.escape("must be at most 120 (queue small's maximum)")
    assert selected(response.text, "queue") == ["small"]  # as the user chose
    assert job_of(api, job_id)["queue"] == "default"
    # Its timeout emptied: small's default.
    form["timeout"] = ""
    assert web.post(f"/ui/jobs/{job_id}/edit", form).status_code == 302
    job = job_of(api, job_id)
    assert (job["queue"], job["timeout"]) == ("small", 60)


def test_a_job_that_is_not_ready_cannot_be_edited(web):
    api = api_of(web)
    job_id = create_job(api, "echo once", execute=True)
    wait_for_job(api, job_id)
    page = web.get(f"/ui/jobs/{job_id}").text
    assert 'id="edit"' not in page
    response = web.get(f"/ui/jobs/{job_id}/edit")
    assert response.status_code == 409
    assert html.escape(f"Job '{job_id}' is COMPLETE; only a READY job can change") in response.text
    # A forged POST: the API's 409, on the form; nothing changed.
    forged = {"code": "echo forged", "shell": "sh", "queue": "default", "timeout": "60",
              "priority": "0", "cpus": "1", "memory_mb": "256"}  # fmt: skip
    response = web.post(f"/ui/jobs/{job_id}/edit", forged)
    assert response.status_code == 409
    assert html.escape(f"Job '{job_id}' is COMPLETE; only a READY job can change") in response.text
    assert job_of(api, job_id)["code"] == "echo once"


def test_another_users_job_is_a_404_to_queue_and_to_edit(web):
    theirs = factories.JobFactory(code="echo theirs <b>")
    for response in (
        web.get(f"/ui/jobs/{theirs.id}/edit"),
        web.post(f"/ui/jobs/{theirs.id}/edit", {"code": "echo mine", "shell": "sh"}),
        web.post(f"/ui/jobs/{theirs.id}/execute"),
    ):
        assert response.status_code == 404
        assert "echo theirs" not in response.text
    admin = Client(
        web.base_url, factories.TokenFactory(user=factories.UserFactory(admin=True)).secret
    )
    job = job_of(admin, theirs.id)
    assert (job["status"], job["code"]) == ("READY", "echo theirs <b>")


def test_an_admin_edits_and_queues_another_users_job_as_the_api_allows(web, server):
    owner = Client(server.url, factories.TokenFactory().secret)
    job_id = create_job(owner, "echo by owner")
    admin_token = factories.TokenFactory(user=factories.UserFactory(admin=True))
    admin = Browser(server.url)
    admin.sign_in(admin_token.secret)
    form = edit_form(admin.get(f"/ui/jobs/{job_id}/edit").text)
    form["code"] = "echo by admin"
    assert admin.post(f"/ui/jobs/{job_id}/edit", form).status_code == 302
    assert admin.post(f"/ui/jobs/{job_id}/execute").status_code == 302
    job = wait_for_job(owner, job_id)
    assert (job["status"], job["stdout"]) == ("COMPLETE", "by admin\n")


def test_queue_and_edit_need_the_xsrf_token(web):
    api = api_of(web)
    job_id = create_job(api, "echo xsrf")
    assert web.post(f"/ui/jobs/{job_id}/execute", xsrf=False).status_code == 403
    edit = web.post(f"/ui/jobs/{job_id}/edit", {"code": "echo forged"}, xsrf=False)
    assert edit.status_code == 403
    job = job_of(api, job_id)
    assert (job["status"], job["code"]) == ("READY", "echo xsrf")


def test_a_secret_environment_is_never_written_into_the_pages(web, db_session):
    secret = "s3cret-env-never-shown"
    job = factories.JobFactory(submitter=web.user, env={"PLAIN": "shown"})
    db_session.execute(
        text("UPDATE jobs SET secret_env = CAST(:env AS jsonb) WHERE id = :id"),
        {"env": f'{{"PASSWORD": "{secret}"}}', "id": job.id},
    )
    db_session.commit()
    for path in ("", "/edit"):
        page = web.get(f"/ui/jobs/{job.id}{path}").text
        assert "PLAIN" in page and secret not in page
    form = edit_form(web.get(f"/ui/jobs/{job.id}/edit").text)
    form["code"] = "echo changed"
    assert web.post(f"/ui/jobs/{job.id}/edit", form).status_code == 302
    # The stored secret stays (the form never carried it, nor removed it).
    stored = db_session.execute(
        text("SELECT secret_env FROM jobs WHERE id = :id"), {"id": job.id}
    ).scalar_one()
    db_session.commit()
    assert stored == {"PASSWORD": secret}


def test_the_jobs_list_filters_by_schedule_and_a_schedules_page_links_there(web):
    api = api_of(web)
    definition = create_definition(api)
    schedule = create_schedule(api, definition["name"])
    fired = factories.JobFactory(submitter=web.user, schedule_id=schedule["id"])
    other = factories.JobFactory(submitter=web.user, schedule_id=schedule["id"] + 10**6)
    plain = factories.JobFactory(submitter=web.user)
    page = web.get(f"/ui/schedules/{schedule['id']}").text
    link = re.search(r'<a href="([^"]+)" id="schedule-jobs">', page).group(1)
    assert link == f"/ui/jobs?schedule={schedule['id']}&amp;range=all"
    listed = web.get(html.unescape(link))
    assert listed.status_code == 200
    ids = re.findall(r'<tr data-job="([^"]+)"', listed.text)
    assert ids == [fired.id] and other.id not in ids and plain.id not in ids
    assert 'id="filter-schedule" ' in listed.text
    assert re.search(rf'name="schedule" value="{schedule["id"]}"', listed.text)
    # The rows' refresh keeps the filter; a filter that is not a number is the API's 400.
    rows = web.get(f"/ui/job-rows?schedule={schedule['id']}&range=all").text
    assert re.findall(r'<tr data-job="([^"]+)"', rows) == [fired.id]
    assert web.get("/ui/jobs?schedule=abc").status_code == 400


def test_an_admins_link_to_a_schedules_jobs_lists_its_owners_jobs(server):
    owner_token = factories.TokenFactory()
    owner = Client(server.url, owner_token.secret)
    definition = create_definition(owner)
    schedule = create_schedule(owner, definition["name"])
    fired = factories.JobFactory(submitter=owner_token.user, schedule_id=schedule["id"])
    admin = Browser(server.url)
    admin.sign_in(factories.TokenFactory(user=factories.UserFactory(admin=True)).secret)
    page = admin.get(f"/ui/schedules/{schedule['id']}").text
    link = html.unescape(re.search(r'<a href="([^"]+)" id="schedule-jobs">', page).group(1))
    assert link == f"/ui/jobs?schedule={schedule['id']}&range=all&submitter=all"
    ids = re.findall(r'<tr data-job="([^"]+)"', admin.get(link).text)
    assert ids == [fired.id]
