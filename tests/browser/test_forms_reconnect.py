"""Every POST form of the dashboard keeps what was typed while the service restarts:
the app workers stopped for real (nginx answers 503), the new-definition form's YAML
is kept under the reconnecting banner and goes through once they are back. A body
over nginx's limit shows the limit's message, not its JSON."""

import re
import uuid

from playwright.sync_api import expect


def app_workers(supervisorctl, action: str) -> None:
    done = supervisorctl(action, "app:*")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_form_sent_while_the_app_workers_are_stopped_is_kept_and_goes_through(
    signed_in, stack, supervisorctl
):
    page = signed_in
    name = f"kept_{uuid.uuid4().hex[:8]}"
    body = (
        f"name: {name}\n"
        "description: typed while the service restarts\n"
        "code: |\n"
        '  echo "hello $WHO"\n'
        "parameters:\n"
        "  - {name: WHO, type: string, default: world}\n"
    )
    page.goto(f"{stack}/ui/new-definition")
    page.fill("#definition-body", body)
    app_workers(supervisorctl, "stop")
    try:
        page.click("#create-definition")
        banner = page.locator("#reconnecting")
        expect(banner).to_be_visible(timeout=15000)
        expect(page.locator("#definition-body")).to_have_value(body)
        assert "/ui/new-definition" in page.url
    finally:
        app_workers(supervisorctl, "start")
    page.wait_for_url(re.compile(rf"/ui/definitions/{name}"), timeout=30000)
    expect(page.locator("#reconnecting")).to_be_hidden()
    made = page.user.get(f"/api/definitions/{name}")
    assert made.status_code == 200, made.text


def test_a_body_over_the_limit_shows_its_message(signed_in, stack):
    page = signed_in
    page.goto(f"{stack}/ui/submit")
    # Over the 2 MiB of config.yaml.defaults' server.max_body_bytes.
    page.evaluate("n => { document.querySelector('#field-code').value = 'x'.repeat(n); }", 3 << 20)
    page.click("#submit")
    alert = page.locator("main > p.error[role=alert]").first
    expect(alert).to_contain_text("Request body too large: the limit is")
    expect(alert).not_to_contain_text("{")
    assert page.url.endswith("/ui/submit")
