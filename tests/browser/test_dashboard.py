"""The dashboard in a real browser (chromium), through nginx: sign in, filter, open a
job, watch its live log grow with colours, cancel, rerun, sign out, and a revoked
session thrown out."""

import datetime
import re
import time

from playwright.sync_api import expect

from .screenshots import screenshot

#: A job that writes coloured lines (a basic colour, 256 colours, true colour), a
#: carriage-return progress bar and a line on stderr, half a second apart.
GROWING = (
    "for i in 1 2 3 4 5 6; do printf '\\033[31mred %s\\033[0m \\033[38;5;46mgreen\\033[0m "
    "\\033[38;2;0;0;255mblue\\033[0m\\n' $i; sleep 0.5; done; "
    "printf 'bar 10%%\\rbar 60%%\\rbar 100%%\\n'; echo 'to stderr' >&2"
)


def create(client, code: str, execute: bool = True, **fields) -> str:
    response = client.post("/api/jobs", json={"code": code, "execute": execute, **fields})
    assert response.status_code == 200, response.text
    return response.json()["data"]["id"]


def wait_status(client, job_id: str, statuses, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = client.get(f"/api/jobs/{job_id}").json()["data"]["status"]
        if status in statuses:
            return status
        assert time.monotonic() < deadline, f"{job_id} still {status}"
        time.sleep(0.1)


def test_sign_in_shows_my_jobs_and_a_wrong_token_is_refused(page, stack, stack_user, stack_admin):
    username = stack_admin.get(f"/api/users/{stack_user.user_id}").json()["data"]["username"]
    page.goto(f"{stack}/ui/jobs")
    page.wait_for_url(re.compile(r"/ui/signin\?next="))
    page.fill("#token", "wrong")
    page.click("#sign-in")
    expect(page.locator("#signin-error")).to_contain_text("not valid")
    page.fill("#token", stack_user.token)
    page.click("#sign-in")
    page.wait_for_url(f"{stack}/ui/jobs")
    expect(page.locator("#signed-in-as")).to_have_text(username)
    cookie = next(c for c in page.context.cookies() if c["name"] == "shell_service_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/ui"
    assert page.evaluate("document.cookie").find("shell_service_session") == -1


def test_filter_the_list_and_its_refresh_keeps_the_form_and_the_scroll(signed_in, stack):
    page, client = signed_in, signed_in.user
    ok = create(client, "true")
    bad = create(client, "exit 3")
    wait_status(client, ok, {"COMPLETE"})
    wait_status(client, bad, {"FAILED"})
    page.goto(f"{stack}/ui/jobs")
    expect(page.locator(f'tr[data-job="{bad}"]')).to_be_visible()
    expect(page.locator(f'tr[data-job="{ok}"]')).to_be_visible()
    page.click("#preset-failed")
    page.wait_for_url(re.compile(r"preset=failed"))
    expect(page.locator(f'tr[data-job="{bad}"]')).to_be_visible()
    expect(page.locator(f'tr[data-job="{ok}"]')).to_have_count(0)
    screenshot(page, "jobs")
    # While the reader types a filter, refreshes (every 5 s) swap the rows only.
    page.set_viewport_size({"width": 1000, "height": 300})
    page.fill("#filter-id-prefix", "typed-not-sent")
    page.evaluate("window.scrollTo(0, 120)")
    scrolled = page.evaluate("window.scrollY")
    with page.expect_response(lambda r: "/ui/job-rows?" in r.url, timeout=15000):
        pass
    page.wait_for_timeout(300)
    expect(page.locator("#filter-id-prefix")).to_have_value("typed-not-sent")
    expect(page.locator("#filter-id-prefix")).to_be_focused()
    assert page.evaluate("window.scrollY") == scrolled
    expect(page.locator(f'tr[data-job="{bad}"]')).to_have_count(1)  # no duplicate rows


def test_open_a_job_and_watch_its_live_log_grow_with_colours(signed_in, stack):
    page, client = signed_in, signed_in.user
    job_id = create(client, GROWING)
    page.goto(f"{stack}/ui/jobs")
    page.click(f'tr[data-job="{job_id}"] a')
    page.wait_for_url(f"{stack}/ui/jobs/{job_id}")
    log = page.locator("#log")
    expect(log).to_contain_text("red 1", timeout=15000)
    expect(log).not_to_contain_text("red 6")  # it grows while we watch
    expect(log).to_contain_text("red 6", timeout=15000)
    expect(page.locator("#live-log")).to_have_attribute("data-connection", "ended", timeout=15000)
    colours = page.evaluate(
        """() => [...document.querySelectorAll('#log span[style]')]
              .slice(0, 3).map(s => getComputedStyle(s).color)"""
    )
    assert colours == ["rgb(187, 0, 0)", "rgb(0, 255, 0)", "rgb(0, 0, 255)"], colours
    text = log.inner_text()
    assert "bar 100%" in text and "bar 10%" not in text and "bar 60%" not in text
    expect(page.locator("#log .log-err")).to_have_text("to stderr\n")
    assert text.count("red 1 ") == 1  # no duplicate
    page.locator("#live-log").scroll_into_view_if_needed()
    screenshot(page, "live-log")


def test_follow_pauses_when_scrolled_up(signed_in, stack):
    page, client = signed_in, signed_in.user
    job_id = create(
        client, "i=0; while [ $i -lt 400 ]; do echo line $i; i=$((i+1)); sleep 0.01; done"
    )
    page.goto(f"{stack}/ui/jobs/{job_id}")
    expect(page.locator("#log")).to_contain_text("line 100", timeout=15000)
    page.evaluate(
        "const l = document.querySelector('#log'); l.scrollTop = 0; "
        "l.dispatchEvent(new Event('scroll'))"
    )
    expect(page.locator("#live-log")).to_have_attribute("data-follow", "paused")
    expect(page.locator("#log-paused")).to_be_visible()  # the reader is told
    expect(page.locator("#live-log")).to_have_attribute("data-connection", "ended", timeout=20000)
    assert page.evaluate("document.querySelector('#log').scrollTop") == 0
    expect(page.locator("#log")).to_contain_text("line 399")
    page.evaluate(
        "const l = document.querySelector('#log'); l.scrollTop = l.scrollHeight; "
        "l.dispatchEvent(new Event('scroll'))"
    )
    expect(page.locator("#live-log")).to_have_attribute("data-follow", "on")
    expect(page.locator("#log-paused")).to_be_hidden()


def test_a_big_log_says_what_it_leaves_out_and_dark_colours_stay_readable(signed_in, stack):
    page, client = signed_in, signed_in.user
    # 1,288,895 bytes of numbered lines, then ANSI black and blue (30m, 34m).
    job_id = create(
        client, "seq 1 200000; printf '\\033[30mblack\\033[0m \\033[34mblue\\033[0m\\n'"
    )
    wait_status(client, job_id, {"COMPLETE"})
    page.goto(f"{stack}/ui/jobs/{job_id}")
    expect(page.locator("#live-log")).to_have_attribute("data-connection", "ended", timeout=20000)
    whole = len("".join(f"{i}\n" for i in range(1, 200001))) + len("black blue\n")
    shown = page.evaluate("document.querySelector('#log').textContent")
    first = shown.split("\n", 1)[0]
    assert first.isdigit() and shown.startswith(f"{first}\n{int(first) + 1}\n")  # a whole line
    note = page.locator("#log-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("bytes of stdout")
    left_out = re.search(r"the first ([\d,.\s]+) bytes of stdout", note.inner_text()).group(1)
    assert int(re.sub(r"\D", "", left_out)) == whole - len(shown)  # in the viewer's digits
    colours = page.evaluate(
        """() => [...document.querySelectorAll('#log span[style]')]
              .map(s => [s.textContent, getComputedStyle(s).color])"""
    )
    assert colours == [["black", "rgb(118, 118, 118)"], ["blue", "rgb(59, 120, 255)"]], colours


def test_cancel_and_rerun_from_the_job_page(signed_in, stack):
    page, client = signed_in, signed_in.user
    job_id = create(client, "sleep 60")
    wait_status(client, job_id, {"RUNNING"})
    page.goto(f"{stack}/ui/jobs/{job_id}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#cancel")
    expect(page.locator("#notice")).to_contain_text("Cancel asked for")
    assert wait_status(client, job_id, {"CANCELLED"}) == "CANCELLED"
    # The notice is said once: the address bar lost it, so a reload does not repeat it.
    assert page.url == f"{stack}/ui/jobs/{job_id}"
    page.reload()
    expect(page.locator("#job-status")).to_have_text("CANCELLED")
    expect(page.locator("#notice")).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#rerun")
    expect(page.locator("#notice")).to_have_text(f"Rerun of {job_id}.")
    new_id = page.locator("#job-id").inner_text()
    assert new_id != job_id
    assert client.get(f"/api/jobs/{new_id}").json()["data"]["code"] == "sleep 60"
    client.post(f"/api/jobs/{new_id}/cancel")


def test_a_dismissed_confirmation_does_nothing(signed_in, stack):
    page, client = signed_in, signed_in.user
    job_id = create(client, "echo", execute=False)
    page.goto(f"{stack}/ui/jobs/{job_id}")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#delete")
    page.wait_for_timeout(300)
    assert client.get(f"/api/jobs/{job_id}").status_code == 200


def test_sign_out_and_a_revoked_session_is_thrown_out(signed_in, stack, browser):
    page, client = signed_in, signed_in.user
    other_context = browser.new_context()
    other = other_context.new_page()
    other.goto(f"{stack}/ui/signin")
    other.fill("#token", client.token)
    other.click("#sign-in")
    other.wait_for_url(f"{stack}/ui/")
    # The first browser revokes the other's session from its sessions page.
    page.goto(f"{stack}/ui/sessions")
    rows = page.locator("#sessions tbody tr")
    expect(rows).to_have_count(2)
    rows.filter(has_not_text="this browser").get_by_role("button", name="Revoke").click()
    expect(page.locator("#sessions tbody tr")).to_have_count(1)
    other.goto(f"{stack}/ui/jobs")
    other.wait_for_url(re.compile(r"/ui/signin\?next="))
    other_context.close()
    # Sign out: back to sign-in, and the pages need signing in again.
    page.click("#sign-out")
    page.wait_for_url(f"{stack}/ui/signin")
    page.goto(f"{stack}/ui/jobs")
    page.wait_for_url(re.compile(r"/ui/signin\?next="))


def test_submit_with_a_field_error_then_fixed(signed_in, stack):
    page, client = signed_in, signed_in.user
    page.click("#nav-submit")
    page.wait_for_url(f"{stack}/ui/submit")
    page.fill("#field-code", "printf '\\033[32mok %s\\033[0m\\n' \"$1\"")
    page.fill("#field-args", "from-the-form")
    page.fill("#field-timeout", "soon")
    page.click("#submit")
    expect(page.locator("#error-timeout")).to_contain_text("Not a valid integer")
    expect(page.locator("#field-timeout")).to_have_attribute("aria-invalid", "true")
    page.locator("#field-timeout").scroll_into_view_if_needed()
    screenshot(page, "submit")
    expect(page.locator("#field-args")).to_have_value("from-the-form")
    page.fill("#field-timeout", "30")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/ui/jobs/job_[0-9a-f]+$"))
    expect(page.locator("#log")).to_contain_text("ok from-the-form", timeout=15000)
    job_id = page.locator("#job-id").inner_text()
    assert client.get(f"/api/jobs/{job_id}").json()["data"]["timeout"] == 30


def test_times_are_in_the_viewers_zone_with_utc_on_hover(stack, stack_user, browser):
    # Asia/Kolkata: UTC+5:30 all year, so the expected text needs no calendar.
    context = browser.new_context(timezone_id="Asia/Kolkata", locale="en-US")
    page = context.new_page()
    job_id = create(stack_user, "true")
    page.goto(f"{stack}/ui/signin")
    page.fill("#token", stack_user.token)
    page.click("#sign-in")
    page.wait_for_url(f"{stack}/ui/")
    page.goto(f"{stack}/ui/jobs")
    for where in (f'tr[data-job="{job_id}"] time', "#fields time"):
        if where.startswith("#"):
            page.goto(f"{stack}/ui/jobs/{job_id}")
        shown = page.locator(where).first
        expect(shown).to_have_attribute("data-local", "")
        utc_text = shown.get_attribute("title")
        at = datetime.datetime.strptime(utc_text, "%Y-%m-%d %H:%M:%S UTC")
        local = at + datetime.timedelta(hours=5, minutes=30)
        assert shown.inner_text() == local.strftime("%Y-%m-%d %H:%M:%S GMT+5:30")
    context.close()
