"""The dashboard's submit form: a job as POST /api/jobs makes it; errors beside their fields."""

import re
import uuid

from sqlalchemy import text

from shell_service.handlers.ui.submit import form_to_body, lines_of

from .. import factories


def test_the_form_offers_the_installed_shells_and_the_queues(web):
    page = web.get("/ui/submit")
    assert page.status_code == 200
    assert re.search(r"<option\s*>sh</option>", page.text)
    assert re.search(r"<option\s*>default</option>", page.text)
    assert 'name="execute" value="on" checked' in page.text


def test_a_submitted_form_makes_and_queues_the_job_it_shows(web, db_session):
    job_id = f"form_{uuid.uuid4().hex[:8]}"
    response = web.post(
        "/ui/submit",
        {
            "id": job_id,
            "code": 'echo "$GREETING, $1"\r\ncat\r\n',
            "args": "ada\r\nsecond arg\r\n",
            "env": "GREETING=hello\r\nEMPTY=\r\n",
            "stdin": "from stdin\r\n",
            "timeout": "60",
            "priority": "5",
            "execute": "on",
        },
    )
    assert response.status_code == 302, response.text
    assert response.headers["Location"] == f"/ui/jobs/{job_id}"
    db_session.expire_all()
    row = db_session.execute(
        text(
            "SELECT code, args, env, stdin, timeout, priority, submitter_id, status"
            " FROM jobs WHERE id = :id"
        ),
        {"id": job_id},
    ).one()
    assert row.code == 'echo "$GREETING, $1"\ncat\n'
    assert row.args == ["ada", "second arg"]
    assert row.env == {"GREETING": "hello", "EMPTY": ""}
    assert (row.stdin, row.timeout, row.priority) == ("from stdin\n", 60, 5)
    assert row.submitter_id == web.user.id
    assert row.status != "READY"  # queued (and maybe run already)


def test_without_queue_it_now_the_job_waits_ready(web, db_session):
    response = web.post("/ui/submit", {"code": "echo later"})
    job_id = response.headers["Location"].rsplit("/", 1)[1]
    db_session.expire_all()
    status = db_session.execute(
        text("SELECT status FROM jobs WHERE id = :id"), {"id": job_id}
    ).scalar_one()
    assert status == "READY"


def test_errors_are_shown_beside_their_fields_and_the_values_kept(web):
    response = web.post(
        "/ui/submit",
        {"code": "echo <kept>", "timeout": "soon", "priority": "1", "execute": "on"},
    )
    assert response.status_code == 400
    page = response.text
    assert re.search(r'id="error-timeout">Not a valid integer', page)
    assert 'id="error-priority"' not in page
    assert "echo &lt;kept&gt;</textarea>" in page
    assert 'value="soon"' in page


def test_an_option_over_the_queues_maximum_is_shown_beside_it(web):
    response = web.post("/ui/submit", {"code": "echo", "timeout": str(10**7)})
    assert response.status_code == 400
    assert 'id="error-timeout"' in response.text
    assert "at most" in response.text or "maximum" in response.text


def test_an_env_line_without_equals_is_refused_beside_env(web):
    response = web.post("/ui/submit", {"code": "echo", "env": "GOOD=1\nBAD"})
    assert response.status_code == 400
    assert re.search(r'id="error-env">Line 2: write NAME=value', response.text)


def test_the_forms_and_the_apis_errors_are_marked_at_once(web, db_session):
    # An env line without "=" (the form's own check) beside a bad timeout, priority
    # and retry (the API's body checks): all marked on the first submit.
    before = db_session.execute(text("SELECT count(*) FROM jobs")).scalar_one()
    response = web.post(
        "/ui/submit",
        {
            "code": "echo", "env": "BAD", "timeout": "soon", "priority": "-1000",
            "retry_attempts": "0", "execute": "on",
        },
    )  # fmt: skip
    assert response.status_code == 400
    page = response.text
    for field in ("env", "timeout", "priority", "retry-attempts"):
        assert f'id="error-{field}"' in page, field
    assert re.search(r'id="error-env">Line 1: write NAME=value', page)
    assert db_session.execute(text("SELECT count(*) FROM jobs")).scalar_one() == before


def test_an_id_in_use_is_a_409_above_the_form(web):
    job = factories.JobFactory(submitter=web.user)
    response = web.post("/ui/submit", {"code": "echo", "id": job.id})
    assert response.status_code == 409
    assert re.search(r'id="form-message">A job with id', response.text)


def test_submitting_needs_the_xsrf_token(web):
    assert web.post("/ui/submit", {"code": "echo"}, xsrf=False).status_code == 403


def test_the_forms_text_becomes_the_apis_body():
    body, errors = form_to_body(
        {"code": "x", "args": "", "env": "", "shell": " bash ", "cpus": "2", "memory_mb": "-1"},
        execute=False,
    )
    assert errors == {}
    assert body == {"code": "x", "execute": False, "shell": "bash", "cpus": 2, "memory_mb": -1}
    assert lines_of("a\r\n\r\nb\r\n") == ["a", "", "b"]
    assert lines_of("") == []
