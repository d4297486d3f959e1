"""The admin pages and tokens in a real browser (chromium), through nginx: an admin
makes a user and a token for them, copies its secret, the new user signs in with it
in another browser; the token revoked stops working, the user disabled is thrown out."""

import re
import time

import requests
from playwright.sync_api import expect

from .screenshots import screenshot


def sign_in(page, stack: str, token: str) -> None:
    page.goto(f"{stack}/ui/signin")
    page.fill("#token", token)
    page.click("#sign-in")
    expect(page.locator("#signed-in-as")).to_be_visible()


def api_status(stack: str, secret: str) -> int:
    return requests.get(
        f"{stack}/api/tokens", headers={"Authorization": f"token {secret}"}, timeout=30
    ).status_code


def test_an_admin_makes_a_user_and_their_token_which_signs_in_until_revoked(
    page, browser, stack, stack_admin
):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack)
    sign_in(page, stack, stack_admin.token)
    page.click("#nav-admin")
    page.wait_for_url(f"{stack}/ui/admin/users")

    # A bad username: the API's 400 beside the field, then fixed.
    page.fill("#field-username", "not valid!")
    page.click("#make-user")
    expect(page.locator("#error-username")).to_contain_text("must be 1-64 characters")
    username = f"ui_{time.time_ns()}"
    page.fill("#field-username", username)
    page.click("#make-user")
    # notice.js takes "?notice=created" off the address bar once it is shown.
    page.wait_for_url(re.compile(r"/ui/admin/users/\d+(\?notice=created)?$"))
    user_id = int(re.search(r"/users/(\d+)", page.url).group(1))
    expect(page.locator("#user-name")).to_have_text(username)

    page.click("#admin-nav-users")
    row = page.locator(f'tr[data-user="{user_id}"]')
    expect(row).to_contain_text(username)
    expect(row).to_contain_text("enabled")
    screenshot(page, "admin-users")
    row.locator("td:nth-child(2) a").click()
    page.wait_for_url(f"{stack}/ui/admin/users/{user_id}")

    # A token for them: its secret shown once, copied with the button.
    page.fill("#field-name", "laptop")
    page.select_option("#field-expires-in", "7d")
    page.click("#make-token")
    expect(page.locator("#shown-once")).to_contain_text("only time it is shown")
    expect(page.locator("#token-owner")).to_have_text(username)
    # The page's history entry is the user's page already: a reload shows that.
    page.wait_for_url(f"{stack}/ui/admin/users/{user_id}")
    secret = page.input_value("#token-secret")
    assert len(secret) > 30
    page.click("#copy-token")
    expect(page.locator("#copy-status")).to_have_text("Copied.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == secret
    screenshot(page, "token-created", mask=[page.locator("#token-secret")])

    newcomer_context = browser.new_context()
    try:
        newcomer = newcomer_context.new_page()
        sign_in(newcomer, stack, copied)
        expect(newcomer.locator("#signed-in-as")).to_have_text(username)
        expect(newcomer.locator("#nav-admin")).to_have_count(0)
        assert newcomer.goto(f"{stack}/ui/admin/users").status == 404

        # Never shown again: the reload is the user's page, without it.
        page.reload()
        expect(page.locator("#user-name")).to_have_text(username)
        expect(page.locator("#token-secret")).to_have_count(0)
        assert secret not in page.content()
        laptop = page.locator("#tokens tbody tr", has_text="laptop")
        expect(laptop).to_contain_text("API token")
        expect(page.locator("#tokens tbody tr", has_text="web session")).to_have_count(1)

        # Revoked (confirmed): the API answers 401 to it.
        assert api_status(stack, secret) == 200
        page.once("dialog", lambda dialog: dialog.accept())
        with page.expect_navigation():
            laptop.locator("button").click()
        expect(page.locator("#tokens tbody tr", has_text="laptop")).to_have_count(0)
        assert api_status(stack, secret) == 401

        # Disabled (confirmed): their web session is thrown out to sign-in.
        page.once("dialog", lambda dialog: dialog.accept())
        with page.expect_navigation():
            page.click("#disable")
        expect(page.locator("#user-state")).to_have_text("disabled")
        newcomer.goto(f"{stack}/ui/tokens")
        newcomer.wait_for_url(re.compile(r"/ui/signin\?next="))
    finally:
        newcomer_context.close()


def test_a_users_own_tokens_page_shows_a_new_secret_once(signed_in, stack):
    page = signed_in
    page.click("#nav-tokens")
    page.wait_for_url(f"{stack}/ui/tokens")
    expect(page.locator("#tokens tbody tr", has_text="this browser")).to_have_count(1)
    page.fill("#field-name", "ci-runner")
    page.click("#make-token")
    secret = page.input_value("#token-secret")
    page.wait_for_url(f"{stack}/ui/tokens")
    assert api_status(stack, secret) == 200
    page.reload()
    expect(page.locator("#tokens tbody tr", has_text="ci-runner")).to_have_count(1)
    expect(page.locator("#token-secret")).to_have_count(0)
    assert secret not in page.content()
    # A dismissed confirmation revokes nothing.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator("#tokens tbody tr", has_text="ci-runner").locator("button").click()
    page.wait_for_timeout(500)  # a revoke's round trip, had the form been sent
    expect(page.locator("#tokens tbody tr", has_text="ci-runner")).to_have_count(1)
    assert api_status(stack, secret) == 200


def test_the_system_page_shows_the_stacks_executors_queues_and_isolation(page, stack, stack_admin):
    sign_in(page, stack, stack_admin.token)
    page.click("#nav-admin")
    page.click("#admin-nav-system")
    page.wait_for_url(f"{stack}/ui/admin/system")
    sysinfo = stack_admin.get("/api/sysinfo").json()["data"]
    expect(page.locator("#version")).to_have_text(sysinfo["version"])
    for executor_id in (e["id"] for e in sysinfo["executors"]):
        row = page.locator(f'#executors tr[data-executor="{executor_id}"]')
        expect(row).to_contain_text("alive")
    for name, kind in (
        (q["name"], q["executor"]) for q in stack_admin.get("/api/queues").json()["data"]
    ):
        expect(page.locator(f'#queues tr[data-queue="{name}"]')).to_contain_text(kind)
    expect(page.locator("#isolation")).to_contain_text("containment")
    screenshot(page, "admin-system")
