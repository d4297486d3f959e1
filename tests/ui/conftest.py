"""The dashboard tests' fixtures: a browser-like client (cookies, XSRF) on the in-process app."""

import re

import pytest
import requests

from .. import factories

XSRF_FIELD = re.compile(r'name="_xsrf" value="([^"]+)"')


class Browser:
    """A ``requests.Session`` as a browser uses the dashboard: cookies kept, forms
    posted with the page's XSRF token, redirects not followed (tests look at them)."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.http = requests.Session()
        self.xsrf = ""

    def get(self, path: str, **kwargs) -> requests.Response:
        response = self.http.get(self.base_url + path, allow_redirects=False, timeout=30, **kwargs)
        found = XSRF_FIELD.search(response.text)
        if found:
            self.xsrf = found.group(1)
        return response

    def post(self, path: str, data: dict | None = None, xsrf: bool = True, **kwargs):
        data = dict(data or {})
        if xsrf:
            if not self.xsrf:
                self.get("/ui/signin")
            data["_xsrf"] = self.xsrf
        return self.http.post(
            self.base_url + path, data=data, allow_redirects=False, timeout=30, **kwargs
        )

    def sign_in(self, token: str) -> requests.Response:
        self.get("/ui/signin")
        response = self.post("/ui/signin", {"token": token, "next": "/ui/jobs"})
        assert response.status_code == 302, response.text
        # As a browser: the page it goes to carries the session's XSRF token.
        self.get(response.headers["Location"])
        return response

    @property
    def session_cookie(self) -> str | None:
        return self.http.cookies.get("shell_service_session")


@pytest.fixture
def web(server):
    """A browser-like client signed in as a new normal user (``web.user``, ``web.token``)."""
    token = factories.TokenFactory()
    client = Browser(server.url)
    client.sign_in(token.secret)
    client.user, client.token = token.user, token.secret
    return client


@pytest.fixture
def anon_browser(server):
    return Browser(server.url)


@pytest.fixture(autouse=True)
def no_open_transaction(db_session):
    """End the transaction a test's reads began: a connection held open across the
    stack tests' PostgreSQL restarts would fail every later test."""
    yield
    db_session.rollback()
