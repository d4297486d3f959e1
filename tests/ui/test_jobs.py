"""The dashboard's jobs: the list (filters, paging, refresh), a job's page and its actions."""

import datetime
import re
import uuid

from sqlalchemy import text

from shell_service.handlers.ui.jobs import PAGE_SIZE, duration

from .. import factories
from .conftest import Browser


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def make_job(user, **fields):
    fields.setdefault("id", f"ui_{uuid.uuid4().hex[:12]}")
    return factories.JobFactory(submitter=user, **fields)


def listed(page: str) -> list[str]:
    return re.findall(r'<tr data-job="([^"]*)"', page)


def test_the_default_list_is_my_jobs_of_the_last_24_hours_newest_first(web):
    other = factories.UserFactory()
    old = make_job(web.user, created_at=now() - datetime.timedelta(hours=25))
    first = make_job(web.user, created_at=now() - datetime.timedelta(minutes=2))
    second = make_job(web.user, created_at=now() - datetime.timedelta(minutes=1))
    theirs = make_job(other)
    page = web.get("/ui/jobs")
    assert page.status_code == 200
    assert listed(page.text) == [second.id, first.id]
    assert old.id not in page.text and theirs.id not in page.text
    # "7d" reaches the older one.
    assert listed(web.get("/ui/jobs?range=7d").text) == [second.id, first.id, old.id]


def test_the_failed_preset_lists_failed_timed_out_and_server_errors(web):
    jobs = {
        s: make_job(web.user, status=s)
        for s in ("COMPLETE", "FAILED", "TIMED_OUT", "SERVER_ERROR", "CANCELLED", "READY")
    }
    shown = set(listed(web.get("/ui/jobs?preset=failed").text))
    assert shown == {jobs[s].id for s in ("FAILED", "TIMED_OUT", "SERVER_ERROR")}
    shown = set(listed(web.get("/ui/jobs?status=COMPLETE&status=READY").text))
    assert shown == {jobs["COMPLETE"].id, jobs["READY"].id}


def test_filters_by_id_prefix_queue_and_definition(web):
    tag = uuid.uuid4().hex[:8]
    a = make_job(web.user, id=f"{tag}_a", queue="default")
    b = make_job(web.user, id=f"{tag}_b", queue="other", definition_name="nightly")
    make_job(web.user)
    assert set(listed(web.get(f"/ui/jobs?id_prefix={tag}").text)) == {a.id, b.id}
    assert listed(web.get(f"/ui/jobs?id_prefix={tag}&queue=other").text) == [b.id]
    assert listed(web.get("/ui/jobs?definition=nightly").text) == [b.id]


def test_a_bad_filter_is_a_400_page_naming_it(web):
    page = web.get("/ui/jobs?status=NOPE&created_after=yesterday")
    assert page.status_code == 400
    assert "status" in page.text and "<html" in page.text
    # One readable message per field, not a Python repr.
    message = re.search(r'id="error-message">([^<]*)<', page.text).group(1)
    assert re.fullmatch(
        r"Invalid filter: (status: Must be one of: [^;]+|created_after: Not a valid datetime\.)"
        r"; (status: Must be one of: [^;]+|created_after: Not a valid datetime\.)",
        message,
    ), message
    assert "{" not in message and "[" not in message


def test_cursor_paging_shows_every_job_once(web):
    base = now() - datetime.timedelta(minutes=30)
    made = [
        make_job(web.user, created_at=base + datetime.timedelta(seconds=i))
        for i in range(PAGE_SIZE + 7)
    ]
    first = web.get("/ui/jobs")
    assert len(listed(first.text)) == PAGE_SIZE
    assert f"{PAGE_SIZE + 7} jobs" in first.text
    more = re.search(r'href="([^"]+)" id="next-page"', first.text).group(1).replace("&amp;", "&")
    second = web.get(more)
    assert len(listed(second.text)) == 7
    assert 'id="next-page"' not in second.text
    seen = listed(first.text) + listed(second.text)
    assert seen == [job.id for job in reversed(made)]


def test_the_refresh_answers_the_same_rows_and_count_as_the_list_alone(web):
    for i in range(3):
        make_job(web.user, status="FAILED" if i else "COMPLETE")
    page = web.get("/ui/jobs?preset=failed").text
    refresh_url = re.search(r'hx-get="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert refresh_url.startswith("/ui/job-rows?") and "preset=failed" in refresh_url
    rows = web.get(refresh_url)
    assert rows.status_code == 200
    assert rows.text.lstrip().startswith('<div id="job-list"')
    assert "<form" not in rows.text and "<html" not in rows.text  # the filters stay untouched
    assert listed(rows.text) == listed(page)
    assert len(listed(rows.text)) == 2
    assert '<p id="job-count">2 jobs</p>' in rows.text
    # A job more: the refresh counts it too.
    make_job(web.user, status="TIMED_OUT")
    again = web.get(refresh_url).text
    assert len(listed(again)) == 3 and '<p id="job-count">3 jobs</p>' in again


def test_admins_list_anyones_jobs_only_when_asked(server, admin_token):
    admin = Browser(server.url)
    admin.sign_in(admin_token.secret)
    someone = factories.UserFactory()
    theirs = make_job(someone)
    mine = make_job(admin_token.user)
    assert listed(admin.get("/ui/jobs").text) == [mine.id]
    assert theirs.id in listed(admin.get("/ui/jobs?submitter=all").text)
    assert listed(admin.get(f"/ui/jobs?submitter={someone.id}").text) == [theirs.id]
    # Whose each job is, by name, linking to their jobs.
    row = admin.get("/ui/jobs?submitter=all").text.split(f'<tr data-job="{theirs.id}"')[1]
    row = row.split("</tr>")[0]
    assert f'href="/ui/jobs?submitter={someone.id}&amp;range=all"' in row
    assert f">{someone.username}</a>" in row


def test_the_timeline_names_who_changed_the_job(web, server, admin_token):
    job_id = web.post("/ui/submit", {"code": "sleep 60", "execute": "on"})
    job_id = job_id.headers["Location"].rsplit("/", 1)[1]
    admin = Browser(server.url)
    admin.sign_in(admin_token.secret)
    assert admin.post(f"/ui/jobs/{job_id}/cancel").status_code == 302
    timeline = web.get(f"/ui/jobs/{job_id}").text.split('id="timeline"')[1].split("</table>")[0]
    assert f"<td>{web.user.username}</td>" in timeline  # made it
    assert f"<td>{admin_token.user.username}</td>" in timeline  # cancelled it
    assert "<td>user " not in timeline


def test_a_user_cannot_list_another_users_jobs(web):
    someone = factories.UserFactory()
    theirs = make_job(someone)
    assert theirs.id not in web.get(f"/ui/jobs?submitter={someone.id}").text
    assert theirs.id not in web.get("/ui/jobs?submitter=all").text


def test_another_users_job_page_is_a_404(web, server, admin_token):
    theirs = make_job(factories.UserFactory(), code="echo secret-of-b")
    page = web.get(f"/ui/jobs/{theirs.id}")
    assert page.status_code == 404
    assert "secret-of-b" not in page.text
    for action in ("cancel", "rerun", "delete"):
        assert web.post(f"/ui/jobs/{theirs.id}/{action}").status_code == 404
    assert web.get("/ui/jobs/no-such-job").status_code == 404
    admin = Browser(server.url)
    admin.sign_in(admin_token.secret)
    assert admin.get(f"/ui/jobs/{theirs.id}").status_code == 200


def notice_of(page: str) -> str | None:
    found = re.search(r'<p role="status" id="notice">([^<]*)</p>', page)
    return found and found.group(1)


def test_the_job_page_says_only_its_own_notices_never_the_links_words(web):
    mine, other = make_job(web.user), make_job(web.user)
    theirs = make_job(factories.UserFactory())
    here = f"/ui/jobs/{mine.id}"
    assert notice_of(web.get(f"{here}?notice=queued").text) == "Queued."
    assert notice_of(web.get(f"{here}?notice=rerun&of={other.id}").text) == f"Rerun of {other.id}."
    assert notice_of(web.get(f"{here}?notice=changed&fields=code,env").text) == (
        "Changed: code, env."
    )
    for query in (
        "notice=Your+session+ended%3A+paste+your+token+at+evil.example",
        "notice=Queued.",  # the text itself is no key
        f"notice=rerun&of={theirs.id}",  # another user's job: not even its id
        "notice=rerun&of=no-such-job",
        "notice=rerun",
        "notice=changed&fields=code,paste+your+token",
        "notice=changed",
    ):
        page = web.get(f"{here}?{query}")
        assert page.status_code == 200 and notice_of(page.text) is None, query


def test_every_user_text_on_the_job_page_and_list_is_escaped(web, db_session):
    evil = "<img src=x onerror=alert(1)>"
    job = make_job(
        web.user,
        code=f"echo '{evil}'",
        args=[evil],
        env={"EVIL": evil, "X<Y": "1"},
        stdin=evil,
        status="FAILED",
        status_message=evil,
        stdout=evil,
        stderr=evil,
        queue="default",
    )
    # Job ids are [A-Za-z0-9_.-] only (ck_jobs_id_name); everything else is the user's text.
    page = web.get(f"/ui/jobs/{job.id}")
    assert page.status_code == 200
    assert "<img" not in page.text
    assert page.text.count("&lt;img src=x onerror=alert(1)&gt;") >= 6
    assert "X&lt;Y" in page.text
    listing = web.get("/ui/jobs").text
    assert job.id in listing and "<img" not in listing
    assert 'title="&lt;img src=x onerror=alert(1)&gt;"' in listing  # the status message


def test_the_job_page_shows_fields_and_a_timeline_with_durations(web, api):
    job_id = f"ui_{uuid.uuid4().hex[:8]}"
    client = web.http
    made = client.post(
        web.base_url + "/api/jobs",
        json={"id": job_id, "code": "echo hi", "env": {"GREETING": "hello"}, "args": ["a1"]},
        headers={"Authorization": f"token {web.token}"},
        timeout=30,
    )
    assert made.status_code == 200, made.text
    page = web.get(f"/ui/jobs/{job_id}").text
    assert 'id="job-status">READY' in page
    timeline = page[page.index('id="timeline"') : page.index('id="fields"')]
    assert "made → READY" in timeline
    for name in ("queue", "timeout", "priority", "cpus", "memory_mb", "created_at"):
        assert f'<th scope="row">{name}</th>' in page
    assert "<code>GREETING</code>" in page and "<code>hello</code>" in page
    assert "<li><code>a1</code></li>" in page


def test_secret_parameters_are_never_on_the_job_page(web, db_session):
    job = make_job(web.user, parameters={"password": "***"})
    db_session.execute(
        text('UPDATE jobs SET secret_env = \'{"PASSWORD": "hunter2"}\' WHERE id = :id'),
        {"id": job.id},
    )
    db_session.commit()
    page = web.get(f"/ui/jobs/{job.id}").text
    assert "hunter2" not in page and "PASSWORD" not in page
    assert "***" in page


def test_cancel_rerun_and_delete_from_the_job_page(web, db_session):
    job = make_job(web.user, code="echo again")
    page = web.get(f"/ui/jobs/{job.id}").text
    assert 'id="cancel"' in page and "confirm(" in page
    response = web.post(f"/ui/jobs/{job.id}/cancel")
    assert response.status_code == 302
    page = web.get(response.headers["Location"]).text
    assert 'id="job-status">CANCELLED' in page
    assert 'id="cancel"' not in page
    assert web.post(f"/ui/jobs/{job.id}/cancel").status_code == 409  # the API's check

    response = web.post(f"/ui/jobs/{job.id}/rerun")
    assert response.status_code == 302
    new_id = re.match(r"/ui/jobs/([^?]+)\?", response.headers["Location"]).group(1)
    assert new_id != job.id
    rerun = web.get(response.headers["Location"]).text
    assert f"Rerun of {job.id}" in rerun and "echo again" in rerun
    db_session.expire_all()
    submitter, code = db_session.execute(
        text("SELECT submitter_id, code FROM jobs WHERE id = :id"), {"id": new_id}
    ).one()
    assert (submitter, code) == (web.user.id, "echo again")

    response = web.post(f"/ui/jobs/{job.id}/delete")
    assert response.status_code == 302 and response.headers["Location"] == "/ui/jobs"
    assert web.get(f"/ui/jobs/{job.id}").status_code == 404


def test_actions_need_the_xsrf_token(web):
    job = make_job(web.user)
    assert web.post(f"/ui/jobs/{job.id}/cancel", xsrf=False).status_code == 403
    assert web.post(f"/ui/jobs/{job.id}/delete", xsrf=False).status_code == 403
    assert 'id="job-status">READY' in web.get(f"/ui/jobs/{job.id}").text


def test_a_running_job_cannot_be_deleted_from_the_page(web):
    job = make_job(web.user, status="RUNNING", started_at=now(), queued_at=now())
    page = web.get(f"/ui/jobs/{job.id}").text
    assert 'id="delete"' not in page
    assert web.post(f"/ui/jobs/{job.id}/delete").status_code == 409


def test_durations_read_as_people_say_them():
    assert duration(None) == ""
    assert duration(0.25) == "250 ms"
    assert duration(12.34) == "12.3 s"
    assert duration(245) == "4 min 05 s"
    assert duration(7380) == "2 h 03 min"


def test_times_are_utc_time_elements_the_browser_shows_in_its_zone(web):
    created = datetime.datetime(2026, 11, 30, 18, 5, 9, 123456)
    job = make_job(web.user, created_at=created)
    expected = (
        '<time datetime="2026-11-30T18:05:09.123Z" title="2026-11-30 18:05:09 UTC">'
        "2026-11-30 18:05:09 UTC</time>"
    )
    page = web.get(f"/ui/jobs/{job.id}").text
    assert f'<th scope="row">created_at</th><td>{expected}</td>' in page
    rows = web.get("/ui/jobs?created_after=2026-11-30T00:00:00&created_before=2026-12-01").text
    assert f"<td>{expected}</td>" in rows
    assert "/ui/static/time.js?v=" in page


def test_timestamp_reads_stored_times_and_their_json_text():
    from shell_service.handlers.ui.base import timestamp

    stored = datetime.datetime(2026, 1, 2, 3, 4, 5)
    assert timestamp(stored) == timestamp("2026-01-02T03:04:05")
    assert 'datetime="2026-01-02T03:04:05.000Z"' in timestamp(stored)
    assert timestamp(None) == "" and timestamp("") == ""
