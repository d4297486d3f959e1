"""The dashboard's job workflows: a job's attempts, what it waits for, its dependencies
and array tasks on its page; retry, dependencies and array in the submit form (the
400's errors beside each field, a retry's parts too); "Rerun with changes"; a 401 of
an htmx request or of the live log."""

import datetime
import re
import uuid

from sqlalchemy import text

from shell_service.handlers.ui.jobs import holds_text, retry_summary
from shell_service.handlers.ui.submit import errors_by_field, form_to_body

from .. import factories
from ..conftest import Client
from ..helpers import create_job, wait_for_job
from .conftest import Browser

#: Exits 75 until its third attempt, saying which attempt it is on both streams.
FLAKY = 'echo "attempt $SHELL_SERVICE_ATTEMPT"; echo "err $SHELL_SERVICE_ATTEMPT" >&2\n'
FLAKY += '[ "$SHELL_SERVICE_ATTEMPT" -ge 3 ] || exit 75'
EVIL = "<script>alert('x')</script>\"'"
ESCAPED = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&quot;&#x27;"


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def api_of(web) -> Client:
    """The API as the signed-in user (their token)."""
    return Client(web.base_url, web.token)


def section(page: str, start: str, end: str = "</table>") -> str:
    at = page.index(start)
    return page[at : page.index(end, at)]


def test_a_retried_jobs_page_lists_each_attempt_and_each_earlier_attempts_log(web):
    api = api_of(web)
    job_id = create_job(
        api, FLAKY, execute=True, retry={"attempts": 3, "exit_codes": [75], "backoff": {}}
    )
    assert wait_for_job(api, job_id)["status"] == "COMPLETE"
    page = web.get(f"/ui/jobs/{job_id}").text
    attempts = section(page, 'id="attempts"')
    rows = re.findall(r'<tr data-attempt="(\d+)">(.*?)</tr>', attempts, re.S)
    assert [number for number, _ in rows] == ["1", "2", "3"]
    for number, row in rows:
        status, code = ("COMPLETE", "0") if number == "3" else ("FAILED", "75")
        assert f'class="status-{status}">{status}</td>' in row and f"<td>{code}</td>" in row
        assert row.count("<time ") == 2  # started and ended, in the viewer's zone
        if number == "3":  # the current one: its log is the page's live log
            assert 'href="#live-log"' in row and "/attempts/" not in row
        else:
            assert f'href="/ui/jobs/{job_id}/attempts/{number}" id="attempt-{number}-log"' in row
            assert f"/attempts/{number}/download/stdout" in row
    assert "3 attempts in all; retried on FAILED (exit codes 75); no back-off" in page
    assert "attempt 3 of 3" in page
    # An earlier attempt's output, as /log?attempt=N reads it: a page, and downloads.
    one = web.get(f"/ui/jobs/{job_id}/attempts/1")
    assert one.status_code == 200
    assert '<pre class="log" id="attempt-stdout" tabindex="0">attempt 1\n</pre>' in one.text
    assert '<pre class="log" id="attempt-stderr" tabindex="0">err 1\n</pre>' in one.text
    download = web.get(f"/ui/jobs/{job_id}/attempts/2/download/stderr")
    assert download.status_code == 200 and download.content == b"err 2\n"
    assert f'filename="{job_id}.attempt2.stderr"' in download.headers["Content-Disposition"]
    # The current (here the last) attempt's output is the job's own: its page's live
    # log and downloads; an attempt never made is a 404.
    current = web.get(f"/ui/jobs/{job_id}/attempts/3")
    assert current.status_code == 302
    assert current.headers["Location"] == f"/ui/jobs/{job_id}#live-log"
    current = web.get(f"/ui/jobs/{job_id}/attempts/3/download/stdout")
    assert current.headers["Location"] == f"/ui/jobs/{job_id}/download/stdout"
    assert web.get(f"/ui/jobs/{job_id}/attempts/4").status_code == 404
    assert web.get(f"/ui/jobs/{job_id}/attempts/9").status_code == 404


def test_another_users_attempt_log_is_a_404(web, db_session):
    theirs = factories.JobFactory(status="COMPLETE", attempt=2)
    db_session.execute(
        text(
            "INSERT INTO job_attempts (job_id, number, status, stdout, stderr)"
            " VALUES (:id, 1, 'FAILED', 'their secret output', '')"
        ),
        {"id": theirs.id},
    )
    db_session.commit()
    for path in ("", "/download/stdout"):
        response = web.get(f"/ui/jobs/{theirs.id}/attempts/1{path}")
        assert response.status_code == 404 and "their secret output" not in response.text


def test_a_job_waiting_out_a_back_off_says_until_when(web):
    eligible = now() + datetime.timedelta(minutes=5)
    job = factories.JobFactory(
        submitter=web.user,
        status="QUEUED",
        queued_at=now(),
        attempt=2,
        waiting_for="backoff",
        eligible_at=eligible,
        retry={"attempts": 3, "on": ["FAILED"], "exit_codes": None,
               "backoff": {"initial": 300, "factor": 2, "max": 3600}},
    )  # fmt: skip
    page = web.get(f"/ui/jobs/{job.id}").text
    waiting = re.search(r'<p id="waiting-for">(.*?)</p>', page, re.S).group(1)
    assert "retry's back-off: attempt 2 may start at <time " in waiting
    assert eligible.strftime("%Y-%m-%d %H:%M:%S UTC") in waiting
    assert "back-off 300 s, x2, at most 3600 s" in page


def test_a_job_waiting_for_a_dependency_says_so_and_links_it(web):
    api = api_of(web)
    first = create_job(api, "true")  # READY: its dependent waits until it is executed
    second = create_job(api, "echo after", execute=True, depends_on=f"afterany:{first}")
    page = web.get(f"/ui/jobs/{second}").text
    assert 'id="job-status">QUEUED' in page
    assert '<p id="waiting-for">Waiting for its dependencies' in page
    row = re.search(rf'<tr data-dependency="{first}">(.*?)</tr>', page, re.S).group(1)
    assert f'<a href="/ui/jobs/{first}">{first}</a>' in row
    assert "<td>afterany</td>" in row and "not yet" in row and "status-READY" in row
    # The section keeps looking while the job waits; it moves on once the other ran.
    assert re.search(rf'hx-get="/ui/jobs/{second}/state\?v=[0-9a-f]+"', page)
    assert api.post(f"/api/jobs/{first}/execute").status_code == 200
    assert wait_for_job(api, second)["status"] == "COMPLETE"
    page = web.get(f"/ui/jobs/{second}").text
    assert 'id="waiting-for"' not in page
    row = re.search(rf'<tr data-dependency="{first}">(.*?)</tr>', page, re.S).group(1)
    assert "<td>yes</td>" in row and "status-COMPLETE" in row
    assert "hx-get=" not in section(page, 'id="job-state"', ">")  # ended: no more looks


def test_a_dependency_on_a_job_the_viewer_may_not_see_is_neither_linked_nor_shown_more(
    web, db_session, server, admin_token
):
    theirs = factories.JobFactory(status="READY", code="echo their-code")
    mine = factories.JobFactory(submitter=web.user, status="QUEUED", waiting_for="dependencies")
    gone = factories.JobFactory(submitter=web.user, status="COMPLETE")
    for other in (theirs, gone):
        db_session.execute(
            text(
                "INSERT INTO job_dependencies (job_id, depends_on, depends_on_number, condition)"
                " SELECT :job, id, number, 'afterok' FROM jobs WHERE id = :other"
            ),
            {"job": mine.id, "other": other.id},
        )
    db_session.commit()
    # The other job is deleted and its id taken by someone else's job: not that job.
    db_session.execute(text("DELETE FROM jobs WHERE id = :id"), {"id": gone.id})
    db_session.commit()
    db_session.expunge(gone)
    factories.JobFactory(id=gone.id, status="FAILED")
    page = web.get(f"/ui/jobs/{mine.id}").text
    deps = section(page, 'id="dependencies"')
    assert f"<code>{theirs.id}</code>" in deps and f'href="/ui/jobs/{theirs.id}"' not in deps
    assert "status-READY" in deps  # its state: what GET /api/jobs/<id> shows too
    assert f"<code>{gone.id}</code>" in deps and f'href="/ui/jobs/{gone.id}"' not in deps
    assert "deleted" in deps and "status-FAILED" not in deps
    assert "their-code" not in page
    api_deps = api_of(web).get(f"/api/jobs/{mine.id}").json()["data"]["depends_on"]
    assert {d["job"]: d["status"] for d in api_deps} == {theirs.id: "READY", gone.id: None}
    # An admin may open the one that exists.
    admin = Browser(server.url)
    admin.sign_in(admin_token.secret)
    assert f'href="/ui/jobs/{theirs.id}"' in admin.get(f"/ui/jobs/{mine.id}").text


def test_an_array_jobs_page_counts_its_tasks_each_count_listing_them(web):
    api = api_of(web)
    array_id = f"arr_{uuid.uuid4().hex[:8]}"
    create_job(api, "echo $SHELL_SERVICE_ARRAY_INDEX", id=array_id, array="0-4", execute=True)
    assert wait_for_job(api, array_id)["status"] == "COMPLETE"
    page = web.get(f"/ui/jobs/{array_id}").text
    counts = section(page, 'id="task-counts"')
    assert (
        f'<a href="/ui/jobs?array={array_id}&amp;status=COMPLETE&amp;range=all"'
        ' id="tasks-COMPLETE">5</a>'
    ) in counts
    assert "indexes <code>0-4</code>" in page
    assert 'id="attempts"' not in page  # its tasks run, each with its attempts
    listing = web.get(f"/ui/jobs?array={array_id}&status=COMPLETE&range=all").text
    tasks = re.findall(r'<tr data-job="([^"]*)"', listing)
    assert sorted(tasks) == [f"{array_id}:{i}" for i in range(5)]
    assert '<small class="task-index">task 3</small>' in listing
    assert f'value="{array_id}" id="filter-array"' in listing
    task = web.get(f"/ui/jobs/{array_id}:3").text
    assert '<strong id="task-index">3</strong>' in task
    assert f'<a href="/ui/jobs/{array_id}" id="array-link">{array_id}</a>' in task


def test_tasks_not_made_yet_are_counted_but_not_linked(web):
    api = api_of(web)
    array_id = create_job(api, "true", array="0-9")  # READY: no task is made yet
    page = web.get(f"/ui/jobs/{array_id}").text
    assert '<span id="tasks-PENDING">10</span> (not made yet)' in page
    assert "status=PENDING" not in page


def test_user_text_in_attempts_dependencies_and_the_attempt_log_is_escaped(web, db_session):
    job = factories.JobFactory(
        submitter=web.user,
        status="FAILED",
        status_message=EVIL,
        host=EVIL,
        started_at=now(),
        finished_at=now(),
        attempt=2,
        retry={"attempts": 2, "on": ["FAILED"], "exit_codes": None,
               "backoff": {"initial": 0, "factor": 2, "max": 3600}},
    )  # fmt: skip
    db_session.execute(
        text(
            "INSERT INTO job_attempts (job_id, number, status, status_message, host, stdout,"
            " stderr) VALUES (:id, 1, 'FAILED', :evil, :evil, :evil, :evil)"
        ),
        {"id": job.id, "evil": EVIL},
    )
    db_session.commit()
    page = web.get(f"/ui/jobs/{job.id}").text
    assert "<script>alert" not in page
    assert section(page, 'id="attempts"').count(ESCAPED) == 4  # message and host, twice
    attempt = web.get(f"/ui/jobs/{job.id}/attempts/1").text
    assert "<script>alert" not in attempt and attempt.count(ESCAPED) == 2


def test_the_refreshed_section_carries_the_timeline_and_fields_and_no_stale_notice(web):
    api = api_of(web)
    job_id = create_job(api, "echo hi")  # READY: nothing ran, nothing to rerun
    page = web.get(f"/ui/jobs/{job_id}?notice=queued").text
    assert 'id="rerun"' not in page and 'id="queue-it"' in page
    assert page.index('id="job-state"') < page.index('id="notice"') < page.index('id="timeline"')
    version = re.search(r'hx-get="/ui/jobs/[^"]+/state\?v=([0-9a-f]+)"', page).group(1)
    assert api.post(f"/api/jobs/{job_id}/execute").status_code == 200
    wait_for_job(api, job_id)
    section = web.get(f"/ui/jobs/{job_id}/state?v={version}").text
    timeline = section[section.index('id="timeline"') : section.index('id="fields"')]
    assert "RUNNING → COMPLETE" in timeline
    fields = section[section.index('id="fields"') :]
    assert re.search(r'<th scope="row">return_code</th><td>0</td>', fields)
    assert re.search(r'<th scope="row">finished_at</th><td><time', fields)
    assert 'id="notice"' not in section and 'id="rerun"' in section


def test_the_state_section_answers_204_while_unchanged(web, db_session):
    job = factories.JobFactory(submitter=web.user)  # READY: it stays so
    page = web.get(f"/ui/jobs/{job.id}").text
    version = re.search(r'hx-get="/ui/jobs/[^"]+/state\?v=([0-9a-f]+)"', page).group(1)
    same = web.get(f"/ui/jobs/{job.id}/state?v={version}")
    assert same.status_code == 204 and same.text == ""
    db_session.execute(
        text("UPDATE jobs SET status_message = 'moved on' WHERE id = :id"), {"id": job.id}
    )
    db_session.commit()
    changed = web.get(f"/ui/jobs/{job.id}/state?v={version}")
    assert changed.status_code == 200
    assert changed.text.lstrip().startswith('<div id="job-state"')
    assert '<p id="status-message">moved on</p>' in changed.text
    assert "<html" not in changed.text
    assert web.get(f"/ui/jobs/{factories.JobFactory().id}/state").status_code == 404


def test_retry_summary_says_the_strategy_in_words():
    assert retry_summary(None) == "No retry"
    strategy = {"attempts": 4, "on": ["FAILED", "TIMED_OUT"], "exit_codes": [1, 75],
                "backoff": {"initial": 10, "factor": 2, "max": 600}}  # fmt: skip
    assert retry_summary(strategy) == (
        "4 attempts in all; retried on FAILED, TIMED_OUT (exit codes 1, 75); "
        "back-off 10 s, x2, at most 600 s"
    )


# ---- the submit form ---------------------------------------------------------------


def submit(web, **fields):
    return web.post("/ui/submit", {"code": "echo", **fields})


def error_of(page: str, key: str) -> str:
    found = re.search(rf'<small class="error" id="error-{key}">(.*?)</small>', page, re.S)
    assert found, f"no error-{key} in the page"
    return found.group(1)


def test_a_bad_retry_is_shown_beside_the_part_it_names(web):
    cases = [
        ({"retry_backoff_initial": "-5"}, "retry-backoff-initial", "must be 0-86400"),
        ({"retry_backoff_factor": "fast"}, "retry-backoff-factor", "must be a number"),
        ({"retry_backoff_initial": "60", "retry_backoff_max": "10"}, "retry-backoff-max",
         "must be at least backoff.initial"),
        ({"retry_attempts": "50"}, "retry-attempts",
         "must be at most 10 (config jobs.max_attempts)"),
        ({"retry_exit_codes": "75, 300"}, "retry-exit_codes", "each must be an integer 1-255"),
        ({"retry_exit_codes": "75", "retry_on": "TIMED_OUT"}, "retry-exit_codes",
         "add FAILED to on"),
    ]  # fmt: skip
    for fields, key, message in cases:
        response = submit(web, **fields)
        assert response.status_code == 400, (fields, response.text)
        assert message in error_of(response.text, key), fields
        assert 'aria-invalid="true"' in response.text
        for name, value in fields.items():
            if name != "retry_on":
                assert f'value="{value}"' in response.text  # kept as typed
    kept = submit(web, retry_on="TIMED_OUT", retry_exit_codes="75").text
    assert re.search(r'value="TIMED_OUT" id="field-retry_on-TIMED_OUT"\s+checked', kept)


def test_bad_dependencies_and_arrays_are_shown_beside_their_fields(web):
    page = submit(web, depends_on_text="afterok:no_such_job_here").text
    assert "there is no job &#x27;no_such_job_here&#x27;" in error_of(page, "depends_on")
    assert 'value="afterok:no_such_job_here"' in page
    page = submit(web, depends_on_text="afterwhen:x").text
    assert error_of(page, "depends_on")
    # Another user's job is "no job" as the API says it (404), beside the field.
    theirs = factories.JobFactory()
    response = submit(web, depends_job_1=theirs.id, depends_condition_1="afterany")
    assert response.status_code == 404
    assert f"No job with id &#x27;{theirs.id}&#x27;" in error_of(response.text, "depends_on")
    assert re.search(r"<option\s+selected\s*>afterany</option>", response.text)
    page = submit(web, depends_job_1="a", depends_on_text="afterok:b").text
    assert "not both" in error_of(page, "depends_on")
    response = submit(web, array="0-99%x")
    assert response.status_code == 400 and error_of(response.text, "array")
    assert 'value="0-99%x"' in response.text


def test_a_form_with_retry_dependencies_and_an_array_makes_that_job(web, db_session):
    first = factories.JobFactory(submitter=web.user, status="COMPLETE")
    job_id = f"wf_{uuid.uuid4().hex[:8]}"
    response = submit(
        web,
        id=job_id,
        retry_attempts="4",
        retry_on=["FAILED", "HOST_LOST"],
        retry_exit_codes="1 75",
        retry_backoff_initial="1.5",
        retry_backoff_factor="3",
        depends_job_1=first.id,
        depends_condition_1="afterany",
        array="0-3%2",
    )
    assert response.status_code == 302, response.text
    db_session.expire_all()
    row = db_session.execute(
        text("SELECT retry, array_spec, array_size FROM jobs WHERE id = :id"), {"id": job_id}
    ).one()
    assert row.retry == {"attempts": 4, "on": ["FAILED", "HOST_LOST"], "exit_codes": [1, 75],
                         "backoff": {"initial": 1.5, "factor": 3, "max": 3600}}  # fmt: skip
    assert (row.array_spec, row.array_size) == ("0-3%2", 4)
    deps = db_session.execute(
        text("SELECT depends_on, condition FROM job_dependencies WHERE job_id = :id"),
        {"id": job_id},
    ).all()
    assert [tuple(d) for d in deps] == [(first.id, "afterany")]


def test_the_forms_retry_dependency_and_array_fields_become_the_apis_body():
    form = {
        "code": "x",
        "retry_attempts": "3",
        "retry_on": ["TIMED_OUT"],
        "retry_exit_codes": "",
        "retry_backoff_max": "60",
        "depends_job_2": " a ",
        "depends_condition_2": "afternotok",
        "array": "10",
    }
    body, errors = form_to_body(form, True)
    assert errors == {}
    assert body["retry"] == {"attempts": 3, "on": ["TIMED_OUT"], "backoff": {"max": 60}}
    assert body["depends_on"] == [{"job": "a", "condition": "afternotok"}]
    assert body["array"] == 10
    body, _ = form_to_body({"code": "x", "depends_on_text": "afterok:a:b"}, False)
    assert body["depends_on"] == "afterok:a:b" and "retry" not in body and "array" not in body


def test_errors_by_field_names_a_retrys_parts_and_nested_errors():
    assert errors_by_field(
        {
            "retry": ["backoff.initial: must be 0-86400", "must be an object"],
            "timeout": ["Not a valid integer."],
            "env": {"X Y": {"key": ["bad name"]}},
        }
    ) == {
        "retry.backoff.initial": ["must be 0-86400"],
        "retry": ["must be an object"],
        "timeout": ["Not a valid integer."],
        "env": ["X Y: bad name"],  # beside the env box, naming the variable
    }


# ---- rerun with changes ------------------------------------------------------------


def test_rerun_with_changes_fills_the_form_from_the_job_without_its_secrets(web, db_session):
    job = factories.JobFactory(
        submitter=web.user,
        status="FAILED",
        code=f"echo {EVIL}",
        shell="bash",
        args=["one", EVIL],
        env={"GREETING": "hello", "QUOTED": EVIL},
        stdin="some input",
        timeout=77,
        priority=5,
        cpus=1,
        memory_mb=64,
        queue="default",
        retry={"attempts": 3, "on": ["FAILED", "TIMED_OUT"], "exit_codes": [75],
               "backoff": {"initial": 5, "factor": 2, "max": 60}},
    )  # fmt: skip
    db_session.execute(
        text("""UPDATE jobs SET secret_env = '{"PASSWORD": "hunter2"}' WHERE id = :id"""),
        {"id": job.id},
    )
    db_session.commit()
    page = web.get(f"/ui/jobs/{job.id}").text
    assert f'href="/ui/submit?from={job.id}"' in page and 'id="rerun-with-changes"' in page
    form = web.get(f"/ui/submit?from={job.id}")
    assert form.status_code == 200
    text_ = form.text
    assert "hunter2" not in text_ and "PASSWORD" not in text_
    assert "<script>alert" not in text_
    assert f"echo {ESCAPED}</textarea>" in text_
    assert f"one\n{ESCAPED}</textarea>" in text_
    assert f"GREETING=hello\nQUOTED={ESCAPED}</textarea>" in text_
    assert "some input</textarea>" in text_
    for name, value in (("timeout", "77"), ("priority", "5"), ("cpus", "1"), ("memory_mb", "64"),
                        ("retry_attempts", "3"), ("retry_exit_codes", "75"),
                        ("retry_backoff_initial", "5"), ("retry_backoff_max", "60")):  # fmt: skip
        assert f'name="{name}" id="field-{name}" value="{value}"' in text_, name
    assert re.search(r'value="TIMED_OUT" id="field-retry_on-TIMED_OUT"\s+checked', text_)
    assert not re.search(r'value="HOST_LOST" id="field-retry_on-HOST_LOST"\s+checked', text_)
    assert re.search(r"<option\s+selected\s*>bash</option>", text_)
    assert 'name="id" id="field-id" value=""' in text_  # a new job: no id of its own
    assert "submits a new job" in text_


def test_rerun_with_changes_of_a_definitions_run_goes_through_its_definition(web, db_session):
    job = factories.JobFactory(
        submitter=web.user,
        code="echo definition-code",
        env={"NAME": "x"},
        definition_name="nightly",
        definition_version=3,
        parameters={"token": "********"},
    )
    page = web.get(f"/ui/submit?from={job.id}").text
    assert "a run of definition nightly (version 3)" in page
    assert "definition-code" not in page and "NAME=x" not in page


def test_rerun_with_changes_of_a_task_keeps_its_array_values_as_a_rerun_does(web, db_session):
    array = factories.JobFactory(submitter=web.user, status="COMPLETE", array_spec="0-1",
                                 array_size=2)  # fmt: skip
    task = factories.JobFactory(
        id=f"{array.id}:1",
        submitter=web.user,
        status="COMPLETE",
        array_id=array.id,
        array_index=1,
        array_size=2,
        env={"A": "b"},
    )
    page = web.get(f"/ui/submit?from={task.id}").text
    expected = f"SHELL_SERVICE_ARRAY_ID={array.id}\nSHELL_SERVICE_ARRAY_INDEX=1\n"
    assert expected + "SHELL_SERVICE_ARRAY_SIZE=2\nA=b</textarea>" in page
    assert (
        'name="array" id="field-array" value="0-1"' in web.get(f"/ui/submit?from={array.id}").text
    )


def test_rerun_with_changes_of_another_users_job_is_a_404(web):
    theirs = factories.JobFactory(code="echo their-code")
    response = web.get(f"/ui/submit?from={theirs.id}")
    assert response.status_code == 404 and "their-code" not in response.text


# ---- a 401 of htmx or of the live log ------------------------------------------------


def test_an_htmx_request_without_a_session_goes_to_sign_in_and_back_to_its_page(anon_browser, web):
    job = factories.JobFactory(submitter=web.user)
    page_url = f"{web.base_url}/ui/jobs/{job.id}?notice=x"
    headers = {"HX-Request": "true", "HX-Current-URL": page_url}
    for path in (f"/ui/jobs/{job.id}/state", f"/ui/jobs/{job.id}/log", "/ui/job-rows"):
        response = anon_browser.get(path, headers=headers)
        assert response.status_code == 401, path
        assert response.headers["HX-Redirect"] == (
            f"/ui/signin?next=%2Fui%2Fjobs%2F{job.id}%3Fnotice%3Dx"
        )
    # And sign-in goes back there.
    anon_browser.get("/ui/signin")
    back = anon_browser.post(
        "/ui/signin", {"token": web.token, "next": f"/ui/jobs/{job.id}?notice=x"}
    )
    assert back.status_code == 302 and back.headers["Location"] == f"/ui/jobs/{job.id}?notice=x"


def test_a_dependency_says_whether_it_holds_and_never_that_an_ended_job_has_not_ended():
    def holds(satisfied, status):
        return holds_text({"satisfied": satisfied, "status": status})

    assert holds(True, "COMPLETE") == "yes"
    assert holds(False, "FAILED") == "no: it can no longer hold"
    assert holds(False, None) == "no: it can no longer hold"  # deleted
    for status in ("READY", "QUEUED", "RUNNING"):
        assert holds(None, status) == "not yet (it has not ended)"
    # Ended, and the waiting-jobs service has not looked yet.
    for status in ("COMPLETE", "FAILED", "TIMED_OUT", "CANCELLED", "SERVER_ERROR"):
        assert holds(None, status) == "being checked (it has ended)"


def test_a_form_keeps_a_scripts_and_stdins_leading_blank_lines(web):
    # HTML drops one newline right after <textarea>: the templates write one there.
    job = factories.JobFactory(
        submitter=web.user, status="FAILED", code="\n\necho x", stdin="\nline two"
    )
    form = web.get(f"/ui/submit?from={job.id}").text
    for field, value in (("code", "\n\necho x"), ("stdin", "\nline two")):
        found = re.search(rf'<textarea name="{field}"[^>]*>(.*?)</textarea>', form, re.S)
        assert found.group(1) == "\n" + value, field
    # And the job's page shows them in <pre>s, where HTML drops a first newline too.
    page = web.get(f"/ui/jobs/{job.id}").text
    assert '<pre class="script" id="script">\n\n\necho x</pre>' in page
    assert '<pre id="stdin">\n\nline two</pre>' in page
