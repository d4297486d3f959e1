"""Job workflows in a real browser (chromium), through nginx: an array with a retry
submitted from the form, its task counts and a task; a job with a dependency waiting
then running; an earlier attempt's log; rerun with changes; the reconnecting banner
of a 503 (answered for real by the page's own requests being refused with 503); a
401 of a refresh and of the live log back through sign-in; the keyboard."""

import re
import time

from playwright.sync_api import expect

from .screenshots import screenshot

#: Each task fails its first attempt (exit 75) and completes its second.
RETRIED_TASK = (
    'echo "task $SHELL_SERVICE_ARRAY_INDEX attempt $SHELL_SERVICE_ATTEMPT"\n'
    '[ "$SHELL_SERVICE_ATTEMPT" -ge 2 ] || exit 75\n'
)


def create(client, code: str, execute: bool = True, **fields) -> str:
    response = client.post("/api/jobs", json={"code": code, "execute": execute, **fields})
    assert response.status_code == 200, response.text
    return response.json()["data"]["id"]


def wait_status(client, job_id: str, statuses, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/jobs/{job_id}").json()["data"]
        if job["status"] in statuses:
            return job
        assert time.monotonic() < deadline, f"{job_id} still {job['status']}"
        time.sleep(0.2)


def sign_in_again(page, stack, token: str) -> None:
    page.fill("#token", token)
    page.click("#sign-in")


def test_submit_an_array_with_a_retry_see_its_counts_and_open_a_task(signed_in, stack):
    page, client = signed_in, signed_in.user
    page.goto(f"{stack}/ui/submit")
    page.fill("#field-code", RETRIED_TASK)
    page.fill("#field-retry_attempts", "2")
    page.fill("#field-retry_exit_codes", "75")
    page.fill("#field-array", "0-4%2")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/ui/jobs/job_[0-9a-f]+$"))
    array_id = page.locator("#job-id").inner_text()
    expect(page.locator("#array")).to_contain_text("5 tasks")
    # The state section refreshes by itself until the array has ended.
    expect(page.locator("#job-status")).to_have_text("COMPLETE", timeout=60000)
    expect(page.locator("#tasks-COMPLETE")).to_have_text("5")
    expect(page.locator("#retry")).to_contain_text(
        "each task on its own: 2 attempts in all; retried on FAILED"
    )
    expect(page.locator("#attempts")).to_have_count(0)  # the array job never runs itself
    screenshot(page, "array")
    page.click("#tasks-COMPLETE")
    page.wait_for_url(re.compile(rf"/ui/jobs\?array={array_id}&status=COMPLETE"))
    expect(page.locator("#job-rows tr[data-job]")).to_have_count(5)
    expect(page.locator(f'tr[data-job="{array_id}:3"] .task-index')).to_have_text("task 3")
    page.click(f'tr[data-job="{array_id}:3"] a')
    page.wait_for_url(re.compile(rf"/ui/jobs/{array_id}(:|%3A)3$"))
    expect(page.locator("#task-index")).to_have_text("3")
    expect(page.locator("#array-link")).to_have_attribute("href", f"/ui/jobs/{array_id}")
    # Its two attempts; the first one's log is readable (and downloadable).
    expect(page.locator("#attempts tbody tr")).to_have_count(2)
    expect(page.locator('tr[data-attempt="1"]')).to_contain_text("FAILED")
    expect(page.locator("#log")).to_contain_text("task 3 attempt 2", timeout=15000)
    page.click("#attempt-1-log")
    page.wait_for_url(re.compile(rf"/ui/jobs/{array_id}(:|%3A)3/attempts/1$"))
    expect(page.locator("#attempt-stdout")).to_have_text("task 3 attempt 1\n")
    with page.expect_download() as download:
        page.click("#download-stdout")
    path = download.value.path()
    with open(path, "rb") as f:
        assert f.read() == b"task 3 attempt 1\n"
    assert client.get(f"/api/jobs/{array_id}").json()["data"]["array_tasks"] == {"COMPLETE": 5}


def test_a_job_with_a_dependency_shows_what_it_waits_for_then_runs(signed_in, stack):
    page, client = signed_in, signed_in.user
    first = create(client, "sleep 4; echo first")
    page.goto(f"{stack}/ui/submit")
    page.fill("#field-code", "echo after the first")
    page.fill("#field-depends_job_1", first)
    page.select_option("#field-depends_condition_1", "afterok")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/ui/jobs/job_[0-9a-f]+$"))
    expect(page.locator("#job-status")).to_have_text("QUEUED")
    expect(page.locator("#waiting-for")).to_contain_text("Waiting for its dependencies")
    row = page.locator(f'tr[data-dependency="{first}"]')
    expect(row).to_contain_text("afterok")
    expect(row).to_contain_text("not yet")
    expect(row.locator("a")).to_have_attribute("href", f"/ui/jobs/{first}")
    # No reload: the section follows the job.
    expect(page.locator("#job-status")).to_have_text("COMPLETE", timeout=30000)
    expect(page.locator("#waiting-for")).to_have_count(0)
    expect(row).to_contain_text("yes")
    expect(page.locator("#log")).to_contain_text("after the first", timeout=15000)


def test_rerun_with_changes_edits_the_script_and_the_new_job_runs_it(signed_in, stack):
    page, client = signed_in, signed_in.user
    retry = {"attempts": 2, "on": ["FAILED", "TIMED_OUT"], "exit_codes": [3],
             "backoff": {"initial": 1, "factor": 2, "max": 60}}  # fmt: skip
    original = create(
        client, 'echo "original $GREETING $1"', env={"GREETING": "hi"}, args=["arg1"],
        timeout=120, priority=7, retry=retry,
    )  # fmt: skip
    wait_status(client, original, {"COMPLETE"})
    page.goto(f"{stack}/ui/jobs/{original}")
    page.click("#rerun-with-changes")
    page.wait_for_url(f"{stack}/ui/submit?from={original}")
    expect(page.locator("#form-notice")).to_contain_text("submits a new job")
    expect(page.locator("#field-code")).to_have_value('echo "original $GREETING $1"')
    expect(page.locator("#field-env")).to_have_value("GREETING=hi")
    expect(page.locator("#field-retry_attempts")).to_have_value("2")
    expect(page.locator("#field-retry_on-TIMED_OUT")).to_be_checked()
    expect(page.locator("#field-id")).to_have_value("")
    page.fill("#field-code", 'echo "changed $GREETING $1"')
    page.click("#submit")
    page.wait_for_url(re.compile(r"/ui/jobs/job_[0-9a-f]+$"))
    new_id = page.locator("#job-id").inner_text()
    assert new_id != original
    expect(page.locator("#log")).to_contain_text("changed hi arg1", timeout=15000)
    job = client.get(f"/api/jobs/{new_id}").json()["data"]
    assert job["code"] == 'echo "changed $GREETING $1"'
    assert (job["timeout"], job["priority"], job["retry"]) == (120, 7, retry)


def test_a_503_shows_the_reconnecting_banner_keeps_the_page_and_it_leaves(signed_in, stack):
    page, client = signed_in, signed_in.user
    refused = {"rows": 0, "submit": 0, "log": 0}

    def unavailable(route, what: str, times: int, method: str = "GET"):
        if route.request.method == method and refused[what] < times:
            refused[what] += 1
            route.fulfill(status=503, headers={"Retry-After": "2"}, body="restarting")
        else:
            route.continue_()

    # The list's refresh: answered 503 once, then by the service again.
    page.route(re.compile(r"/ui/job-rows\?"), lambda route: unavailable(route, "rows", 1))
    page.goto(f"{stack}/ui/jobs")
    page.fill("#filter-id-prefix", "typed-and-kept")
    banner = page.locator("#reconnecting")
    expect(banner).to_be_visible(timeout=15000)
    expect(banner).to_contain_text("Reconnecting")
    expect(banner).to_be_hidden(timeout=15000)
    expect(page.locator("#filter-id-prefix")).to_have_value("typed-and-kept")
    assert refused["rows"] == 1

    # The submit form: refused twice (2 s apart), kept as typed, then sent again.
    page.route(re.compile(r"/ui/submit$"), lambda route: unavailable(route, "submit", 2, "POST"))
    page.goto(f"{stack}/ui/submit")
    page.fill("#field-code", "echo sent after the restart")
    page.fill("#field-retry_attempts", "2")
    page.click("#submit")
    expect(banner).to_be_visible()
    expect(page.locator("#field-code")).to_have_value("echo sent after the restart")
    expect(page.locator("#field-retry_attempts")).to_have_value("2")
    page.wait_for_url(re.compile(r"/ui/jobs/job_[0-9a-f]+$"), timeout=20000)
    assert refused["submit"] == 2  # refused twice, the third went through
    expect(page.locator("#log")).to_contain_text("sent after the restart", timeout=15000)
    expect(page.locator("#reconnecting")).to_be_hidden()
    job_id = page.locator("#job-id").inner_text()
    listed = client.get("/api/jobs", params={"id_prefix": job_id}).json()["data"]
    assert len(listed) == 1  # made once

    # The live log: its stream refused (EventSource gives up on a 503), then back.
    slow = create(client, "sleep 3; echo late line")
    page.route(re.compile(r"/ui/jobs/[^/?]+/log(\?|$)"), lambda route: unavailable(route, "log", 2))
    page.goto(f"{stack}/ui/jobs/{slow}")
    expect(page.locator("#reconnecting")).to_be_visible(timeout=10000)
    expect(page.locator("#log")).to_contain_text("late line", timeout=30000)
    expect(page.locator("#reconnecting")).to_be_hidden()


def test_a_401_of_a_refresh_or_of_the_live_log_signs_in_and_comes_back(signed_in, stack):
    page, client = signed_in, signed_in.user
    # The list's refresh (htmx) finds the session gone.
    page.goto(f"{stack}/ui/jobs?range=7d")
    page.context.clear_cookies()
    page.wait_for_url(re.compile(r"/ui/signin\?next=%2Fui%2Fjobs%3Frange%3D7d"), timeout=15000)
    sign_in_again(page, stack, client.token)
    page.wait_for_url(f"{stack}/ui/jobs?range=7d")
    # The live log reopens (as after a hidden tab) with the session gone; the state
    # section's refresh is answered "unchanged" (204), so the log's failure is what
    # sends the page to sign-in.
    job_id = create(client, "sleep 30")
    page.route(re.compile(r"/ui/jobs/[^/?]+/state\?"), lambda route: route.fulfill(status=204))
    try:
        page.goto(f"{stack}/ui/jobs/{job_id}")
        expect(page.locator("#live-log")).to_have_attribute("data-connection", "open")
        page.context.clear_cookies()
        page.evaluate(
            "() => { const l = document.querySelector('#live-log').liveLog; l.close(); l.open(); }"
        )
        page.wait_for_url(re.compile(rf"/ui/signin\?next=%2Fui%2Fjobs%2F{job_id}$"), timeout=15000)
        sign_in_again(page, stack, client.token)
        page.wait_for_url(f"{stack}/ui/jobs/{job_id}")
    finally:
        client.post(f"/api/jobs/{job_id}/cancel")


def test_every_action_is_reachable_and_usable_with_the_keyboard(signed_in, stack):
    page, client = signed_in, signed_in.user
    job_id = create(client, "sleep 60")
    wait_status(client, job_id, {"RUNNING"})
    try:
        keyboard_through_the_page(page, stack, job_id)
    finally:
        client.post(f"/api/jobs/{job_id}/cancel")
    assert wait_status(client, job_id, {"CANCELLED"})["status"] == "CANCELLED"


def keyboard_through_the_page(page, stack, job_id: str) -> None:
    page.goto(f"{stack}/ui/jobs/{job_id}")
    reached, outlines = [], {}
    for _ in range(80):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => { const e = document.activeElement;
                       const s = getComputedStyle(e);
                       return [e.id, s.outlineStyle, s.outlineWidth, s.boxShadow]; }"""
        )
        if focused[0]:
            reached.append(focused[0])
            outlines[focused[0]] = focused[1:]
    for wanted in ("cancel", "rerun", "rerun-with-changes", "download-stdout", "log"):
        assert wanted in reached, (wanted, reached)
        style, width, shadow = outlines[wanted]
        assert (style != "none" and width != "0px") or shadow != "none", (wanted, outlines[wanted])
    # Back to Cancel with the keyboard only; the confirmation is the browser's own
    # dialog (Enter accepts it, Escape dismisses it).
    page.reload()
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "cancel":
            break
    expect(page.locator("#cancel")).to_be_focused()
    page.once("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("Enter")
    expect(page.locator("#notice")).to_contain_text("Cancel asked for")
