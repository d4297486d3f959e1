"""Browser tests: pytest-playwright driving Debian's chromium, headless, against the
test stack through nginx (as users reach the dashboard).

The browser is Debian's package (`apt-get install chromium`; `make test` installs it
when root: ``tests.system_commands`` in tests/config.test.yaml), never one that
`playwright install` downloads. A missing browser fails these tests; it never skips them.
"""

import os

import pytest

from ..e2e import conftest as e2e

# The stack's fixtures (tests/e2e/conftest.py).
stack, stack_admin, stack_user = e2e.stack, e2e.stack_admin, e2e.stack_user
supervisorctl = e2e.supervisorctl

CHROMIUM = "/usr/lib/chromium/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"No chromium at {CHROMIUM}: install it with `apt-get install chromium` "
            "(make test does, as root); never `playwright install`"
        )
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True}


@pytest.fixture
def signed_in(page, stack, stack_user, stack_admin):
    """A page signed in to the dashboard as ``stack_user`` (``page.user``: its client)."""
    page.goto(f"{stack}/ui/")
    assert "/ui/signin" in page.url
    page.fill("#token", stack_user.token)
    page.click("#sign-in")
    page.wait_for_url(f"{stack}/ui/")
    page.user = stack_user
    stack_user.username = stack_admin.get(f"/api/users/{stack_user.user_id}").json()["data"][
        "username"
    ]
    return page
