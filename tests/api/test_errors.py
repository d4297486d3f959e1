"""The envelope and honest error codes: unknown paths, wrong methods, unexpected failures."""

import asyncio
import json
import re
import subprocess
import time

import pytest
import tornado.httpserver
import tornado.web
from tornado.httpclient import AsyncHTTPClient
from tornado.testing import bind_unused_port

from baselayer.app.handlers.base import BaseHandler
from shell_service import __version__

from .envelope import assert_error, assert_success


@pytest.mark.parametrize(
    "path", ["/api", "/api/", "/api/nothing", "/api/jobs/", "/api/jobs/x/y/z", "/api/v2/jobs"]
)
def test_unknown_api_path_is_404_envelope(api, path):
    assert_error(api.get(path), 404)
    assert_error(api.post(path, json={}), 404)


def test_unknown_api_path_is_404_even_without_token(anon_api):
    assert_error(anon_api.get("/api/nothing"), 404)


@pytest.mark.parametrize(
    "method,path",
    [
        ("PUT", "/api/jobs"),
        ("PATCH", "/api/jobs"),
        ("DELETE", "/api/jobs"),
        ("PUT", "/api/jobs/some_job"),
        ("POST", "/api/jobs/some_job"),
        ("PUT", "/api/jobs/some_job/execute"),
        ("POST", "/api/jobs/some_job/events"),
        ("DELETE", "/api/users"),
        ("PUT", "/api/users/1"),
        ("PATCH", "/api/tokens"),
        ("OPTIONS", "/api/jobs"),
        ("BREW", "/api/jobs"),
    ],
)
def test_unsupported_method_is_405_envelope(api, method, path):
    assert_error(api.request(method, path), 405)


def test_version_is_package_version_with_git_hash(api):
    version = api.get("/api/jobs").json()["version"]
    assert version.startswith(__version__), version
    in_git = subprocess.run(["git", "rev-parse", "--git-dir"], capture_output=True).returncode == 0
    if in_git:
        assert re.fullmatch(rf"{re.escape(__version__)}\+g[0-9a-f]{{4,40}}", version), version


def test_success_and_error_carry_the_same_version(api):
    ok = api.get("/api/jobs").json()
    error = api.get("/api/nothing").json()
    assert ok["version"] == error["version"] != ""


def test_success_envelope_has_empty_message_and_data(api):
    body = api.get("/api/jobs").json()
    assert body["status"] == "success"
    assert body["message"] == ""
    assert body["data"] == []  # a new user has no jobs


def test_invalid_utf8_in_path_is_a_client_error_not_500(api):
    response = api.get("/api/jobs/%FF%FE")
    assert response.status_code in (400, 404), response.text
    assert_error(response, response.status_code)


def test_invalid_utf8_in_query_is_400(api):
    assert_error(api.get("/api/jobs", params={"limit": b"\xff"}), 400, field="limit")


def test_non_latin1_authorization_header_is_401(anon_api):
    headers = {"Authorization": b"token \xff\xfe"}
    assert_error(anon_api.get("/api/jobs", headers=headers), 401)


def test_unexpected_exception_is_500_envelope_without_traceback_or_details(session_factory):
    class Exploding(BaseHandler):
        auth_required = False

        async def get(self):
            raise RuntimeError("internal detail 8c1f")

    app = tornado.web.Application(
        [(r"/api/explode", Exploding)], session_factory=session_factory, version="test-version"
    )

    async def fetch():
        sock, port = bind_unused_port()
        server = tornado.httpserver.HTTPServer(app)
        server.add_sockets([sock])
        try:
            return await AsyncHTTPClient().fetch(
                f"http://127.0.0.1:{port}/api/explode", raise_error=False
            )
        finally:
            server.stop()

    response = asyncio.run(fetch())
    assert response.code == 500
    body = response.body.decode()
    assert "Traceback" not in body
    assert "internal detail 8c1f" not in body and "RuntimeError" not in body
    assert response.headers["Content-Type"].startswith("application/json")
    envelope = json.loads(body)
    assert set(envelope) == {"status", "data", "message", "version"}
    assert envelope["status"] == "error"
    assert envelope["version"] == "test-version"
    assert envelope["message"]


def test_health_check_answers_without_a_token(anon_api):
    data = assert_success(anon_api.get("/api/sysinfo"))
    assert data["version"].startswith(__version__)
    assert "READY" in data["jobs_by_status"]


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000,
        b'{"code": "true", "nested": ' + b"{" * 100_000 + b"}",
        b'{"name": "x", "user_id": ' + b"9" * 5000 + b"}",
    ],
    ids=["deeply-nested-array", "deeply-nested-object", "5000-digit-integer"],
)
def test_json_python_cannot_parse_is_400_not_500(api, raw):
    assert_error(api.post("/api/tokens", data=raw), 400, mentions="JSON")


@pytest.mark.parametrize("path", ["/api/users/", "/api/tokens/"])
def test_integer_id_of_thousands_of_digits_is_404_not_500(admin_api, path):
    method = "DELETE" if "tokens" in path else "GET"
    assert_error(admin_api.request(method, path + "9" * 5000), 404)


def test_json_body_is_read_whatever_the_content_type(admin_api):
    # `curl -d` (as in the README) sends application/x-www-form-urlencoded.
    response = admin_api.post(
        "/api/tokens",
        data='{"name": "from curl"}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert assert_success(response)["token"]


def test_an_error_is_logged_with_the_clients_address_from_nginx(api, caplog):
    def logged():
        return [record.getMessage() for record in caplog.records]

    with caplog.at_level("WARNING", logger="tornado.access"):
        response = api.get("/api/jobs/no_such_job", headers={"X-Real-IP": "203.0.113.7"})
        # The line is written on the server's thread just after the answer went out.
        deadline = time.monotonic() + 5
        while not logged() and time.monotonic() < deadline:
            time.sleep(0.01)
    assert response.status_code == 404
    assert any("404 GET /api/jobs/no_such_job (203.0.113.7)" in line for line in logged()), logged()
