"""A READY job in a real browser (chromium), through nginx: submitted unqueued from
the form, edited with a field error then fixed, queued from its page, watched to
COMPLETE."""

import re

from playwright.sync_api import expect


def test_submit_unqueued_edit_with_an_error_then_fixed_queue_it_and_watch_it_end(signed_in, stack):
    page, client = signed_in, signed_in.user
    page.click("#nav-submit")
    page.wait_for_url(f"{stack}/ui/submit")
    page.fill("#field-code", 'echo "first draft $1"')
    page.fill("#field-args", "one")
    page.uncheck("#field-execute")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/ui/jobs/job_[0-9a-f]+$"))
    job_id = page.locator("#job-id").inner_text()
    expect(page.locator("#job-status")).to_have_text("READY")
    expect(page.locator("#queue-it")).to_be_visible()

    page.click("#edit")
    page.wait_for_url(f"{stack}/ui/jobs/{job_id}/edit")
    expect(page.locator("#field-code")).to_have_value('echo "first draft $1"')
    expect(page.locator("#field-args")).to_have_value("one")
    page.fill("#field-code", 'echo "edited $1, priority $2"')
    page.fill("#field-args", "one\ntwo")
    page.fill("#field-priority", "500")
    page.click("#save")
    expect(page.locator("#error-priority")).to_contain_text("-100")
    expect(page.locator("#field-priority")).to_have_attribute("aria-invalid", "true")
    # The values typed are kept; nothing was stored.
    expect(page.locator("#field-code")).to_have_value('echo "edited $1, priority $2"')
    assert client.get(f"/api/jobs/{job_id}").json()["data"]["code"] == 'echo "first draft $1"'
    page.fill("#field-priority", "5")
    with page.expect_navigation():
        page.click("#save")
    expect(page.locator("#notice")).to_have_text("Changed: args, code, priority.")
    # Said once: the address bar lost it (a reload does not repeat it).
    page.wait_for_url(f"{stack}/ui/jobs/{job_id}")
    job = client.get(f"/api/jobs/{job_id}").json()["data"]
    assert (job["status"], job["priority"], job["args"]) == ("READY", 5, ["one", "two"])

    with page.expect_navigation():
        page.click("#queue-it")
    expect(page.locator("#notice")).to_have_text("Queued.")
    # The state section follows the job by itself until it ends.
    expect(page.locator("#job-status")).to_have_text("COMPLETE", timeout=60000)
    expect(page.locator("#log")).to_contain_text("edited one, priority two", timeout=15000)
    expect(page.locator("#queue-it")).to_have_count(0)
    expect(page.locator("#edit")).to_have_count(0)
    # The edit page of a job that ran is the API's 409.
    response = page.goto(f"{stack}/ui/jobs/{job_id}/edit")
    assert response.status == 409
    expect(page.locator("#error-message")).to_contain_text("only a READY job can change")
