"""Dashboard forms arrive exactly as sent: control characters (ESC, NUL) reach the
API's checks instead of becoming spaces, and bytes that are not UTF-8 are a 400."""

import html
import re
import uuid

from sqlalchemy import text

from ..helpers import wait_for_job
from .test_definitions import api_of, create_definition

ESC_SCRIPT = "printf '\x1b[31mred\x1b[0m\\n'\n"


def job_column(db_session, job_id: str, column: str):
    db_session.expire_all()
    return db_session.execute(
        text(f"SELECT {column} FROM jobs WHERE id = :id"), {"id": job_id}
    ).scalar_one()


def test_a_submitted_script_keeps_its_escape_characters(web, db_session):
    response = web.post("/ui/submit", {"code": ESC_SCRIPT, "args": "a\x1bb", "execute": "off"})
    assert response.status_code == 302, response.text
    job_id = response.headers["Location"].rsplit("/", 1)[1]
    assert job_column(db_session, job_id, "code") == ESC_SCRIPT
    assert job_column(db_session, job_id, "args") == ["a\x1bb"]


def test_rerun_with_changes_round_trips_an_escape_character(web, db_session):
    first = web.post("/ui/submit", {"code": ESC_SCRIPT, "execute": "off"})
    job_id = first.headers["Location"].rsplit("/", 1)[1]
    form = web.get(f"/ui/submit?from={job_id}")
    assert form.status_code == 200
    # The page holds the script as text (the ESC itself, escaped as HTML needs).
    shown = re.search(r'<textarea[^>]*name="code"[^>]*>(.*?)</textarea>', form.text, re.S)
    assert shown and "\x1b[31m" in shown.group(1)
    # As a browser sends it back: without the newline HTML drops after <textarea>.
    text = html.unescape(shown.group(1)).removeprefix("\n")
    again = web.post("/ui/submit", {"code": text, "execute": "off"})
    assert again.status_code == 302, again.text
    rerun_id = again.headers["Location"].rsplit("/", 1)[1]
    assert job_column(db_session, rerun_id, "code") == ESC_SCRIPT


def test_a_nul_is_refused_beside_its_field_as_the_api_refuses_it(web, db_session):
    job_id = f"nul_{uuid.uuid4().hex[:8]}"
    cases = [
        ("code", "echo a\x00b"),
        ("args", "ok\na\x00b"),
        ("stdin", "x\x00"),
        ("env", "A=x\x00y"),
    ]
    pages = {}
    for field, value in cases:
        response = web.post("/ui/submit", {"id": job_id, "code": "echo", field: value})
        assert response.status_code == 400, (field, response.text)
        assert re.search(rf'id="error-{field}">[^<]*must not contain NUL', response.text), field
        pages[field] = response.text
    assert 'id="error-args">Line 2: must not contain NUL' in pages["args"]
    assert 'id="error-env">A: must not contain NUL' in pages["env"]
    db_session.expire_all()
    assert (
        db_session.execute(
            text("SELECT count(*) FROM jobs WHERE id = :id"), {"id": job_id}
        ).scalar_one()
        == 0
    )


def test_bytes_that_are_not_utf8_are_a_400_page_not_a_500(web):
    response = web.http.post(
        web.base_url + "/ui/submit",
        data=b"_xsrf=" + web.xsrf.encode() + b"&code=echo+%FF%FE",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 400
    assert "<main" in response.text and "not valid UTF-8" in response.text


def test_a_definitions_string_parameter_keeps_its_escape_and_bad_bytes_are_a_400(web):
    definition = create_definition(
        api_of(web),
        parameters=[{"name": "TEXT", "type": "string"}],
        code='printf %s "$TEXT" | od -An -c | tr -s " "\n',
    )
    run_url = f"/ui/definitions/{definition['name']}/run?owner={definition['owner']}"
    response = web.post(run_url, {"version": "1", "param-TEXT": "a\x1bb"})
    assert response.status_code == 302, response.text
    job = wait_for_job(api_of(web), response.headers["Location"].rsplit("/", 1)[1])
    assert job["status"] == "COMPLETE", job
    assert job["parameters"]["TEXT"] == "a\x1bb"
    assert "033" in job["stdout"]  # od's name for ESC
    bad = web.http.post(
        web.base_url + run_url,
        data=b"_xsrf=" + web.xsrf.encode() + b"&version=1&param-TEXT=%C3",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        allow_redirects=False,
        timeout=30,
    )
    assert bad.status_code == 400
    assert "not valid UTF-8" in bad.text
