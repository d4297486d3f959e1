"""Webhooks in a real browser (chromium), through nginx, delivered by the stack's own
deliverer: make a webhook to a receiver on 127.0.0.1 (a refused target first, its
error beside the URL), its secret shown once; a job's end appears among its
deliveries by itself, signed with that secret; send a test, disable, delete."""

import re

import orjson
from playwright.sync_api import expect

from shell_service.webhooks import payload

from ..helpers import run_job, wait_until
from ..webhook_receiver import Receiver
from .screenshots import screenshot


def test_make_a_webhook_see_a_job_s_delivery_send_a_test_and_delete(signed_in, stack):
    page, client = signed_in, signed_in.user
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack)
    receiver = Receiver()
    try:
        page.click("#nav-webhooks")
        page.wait_for_url(f"{stack}/ui/webhooks")
        expect(page.locator("#no-webhooks")).to_be_visible()

        # A private address is refused beside the URL; the other fields are kept.
        page.fill("#field-url", "http://10.20.30.40/hook")
        page.check("#field-events-failed")
        page.fill("#field-description", "CI <b>pager</b>")
        page.click("#make-webhook")
        expect(page.locator("#error-url")).to_contain_text("refused: 10.20.30.40 is private")
        expect(page.locator("#field-description")).to_have_value("CI <b>pager</b>")
        expect(page.locator("#field-events-failed")).to_be_checked()
        expect(page.locator("#field-events-finished")).to_be_checked()

        page.fill("#field-url", receiver.url)
        page.uncheck("#field-events-failed")
        page.click("#make-webhook")
        expect(page.locator("#shown-once")).to_contain_text("only time it is shown")
        secret = page.input_value("#token-secret")
        assert len(secret) >= 40
        page.click("#copy-token")
        expect(page.locator("#copy-status")).to_have_text("Copied.")
        assert page.evaluate("navigator.clipboard.readText()") == secret
        webhook_id = int(page.locator("#webhook-made").inner_text())
        # The history entry is the webhook's page already: a reload never shows the secret.
        page.wait_for_url(f"{stack}/ui/webhooks/{webhook_id}")

        job = run_job(client, "echo hi; exit 3")
        assert job["status"] == "FAILED"
        page.click("#webhook-done")
        page.wait_for_url(f"{stack}/ui/webhooks/{webhook_id}")
        assert secret not in page.content()
        expect(page.locator("#webhook-description")).to_have_text("CI <b>pager</b>")
        # The deliveries' section refreshes itself: the job's end appears, delivered.
        delivery = page.locator("tr.delivery").first
        expect(delivery.locator(".delivery-job")).to_have_text(job["id"], timeout=30_000)
        expect(delivery.locator(".delivery-event")).to_have_text("finished")
        expect(delivery.locator(".delivery-status")).to_have_text("delivered", timeout=30_000)
        expect(delivery.locator(".attempt-number")).to_have_text("#1")
        expect(delivery.locator(".attempt-code")).to_have_text("200")
        (request,) = receiver.received
        signature = request.headers["x-shell-service-signature"]
        assert payload.verify(secret, request.body, signature)
        assert orjson.loads(request.body)["job_id"] == job["id"]
        screenshot(page, "webhook", height=1100)

        # Send a test: a ping, delivered, shown on top.
        page.click("#send-test")
        expect(page.locator("#notice")).to_contain_text("Test ping queued")
        newest = page.locator("tr.delivery").first
        expect(newest.locator(".delivery-event")).to_have_text("ping")
        expect(newest.locator(".delivery-status")).to_have_text("delivered", timeout=30_000)
        wait_until(lambda: len(receiver.received) == 2, "the ping's POST", timeout=10)
        assert receiver.received[1].headers["x-shell-service-event"] == "ping"

        # Disable: the list says so; then delete, after the confirmation.
        page.click(f"#disable-{webhook_id}")
        expect(page.locator("#webhook-state")).to_have_text("disabled")
        page.click("#nav-webhooks")
        row = page.locator(f'tr[data-webhook="{webhook_id}"]')
        expect(row.locator(".state")).to_contain_text("disabled")
        expect(row.locator(".last-delivery")).to_contain_text("delivered (HTTP 200)")
        row.locator("td:first-child a").click()
        page.wait_for_url(f"{stack}/ui/webhooks/{webhook_id}")
        page.once("dialog", lambda dialog: dialog.dismiss())
        page.click("#delete-webhook")
        expect(page.locator("#webhook-state")).to_be_visible()
        assert client.get(f"/api/webhooks/{webhook_id}").status_code == 200
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#delete-webhook")
        page.wait_for_url(re.compile(r"/ui/webhooks(\?notice=deleted)?$"))
        expect(page.locator("#notice")).to_contain_text("Webhook deleted")
        expect(page.locator(f'tr[data-webhook="{webhook_id}"]')).to_have_count(0)
        assert client.get(f"/api/webhooks/{webhook_id}").status_code == 404
    finally:
        receiver.close()
