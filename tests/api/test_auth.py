"""Authentication: `Authorization: token <secret>`, tokens stored hashed, revocation."""

import time

import pytest
from sqlalchemy import delete, select, update

from baselayer.app.models import Token, User

from ..factories import TokenFactory
from .envelope import assert_error, assert_success

PROTECTED = [
    ("GET", "/api/jobs"),
    ("POST", "/api/jobs"),
    ("GET", "/api/jobs/some_job"),
    ("POST", "/api/jobs/some_job/execute"),
    ("GET", "/api/jobs/some_job/events"),
    ("GET", "/api/execute/some_job"),
    ("GET", "/api/users"),
    ("POST", "/api/users"),
    ("GET", "/api/users/1"),
    ("GET", "/api/tokens"),
    ("POST", "/api/tokens"),
    ("DELETE", "/api/tokens/1"),
]


@pytest.mark.parametrize("method,path", PROTECTED)
def test_request_without_authorization_header_is_401(anon_api, method, path):
    assert_error(anon_api.request(method, path, json={}), 401, mentions="token")


@pytest.mark.parametrize(
    "header",
    [
        "",
        "token",
        "token ",
        "Bearer {secret}",
        "{secret}",
        "tokenx {secret}",
        "token {secret}x",
        "token x{secret}",
    ],
)
def test_malformed_authorization_header_is_401(anon_api, user_token, header):
    headers = {"Authorization": header.format(secret=user_token.secret)}
    assert_error(anon_api.get("/api/jobs", headers=headers), 401)


def test_unknown_token_is_401(anon_api):
    assert_error(anon_api.get("/api/jobs", token="not-a-real-token"), 401)


def test_valid_token_authenticates_as_its_user(api):
    job_id = assert_success(api.post("/api/jobs", json={"code": "true"}))["id"]
    assert assert_success(api.get(f"/api/jobs/{job_id}"))["submitter_id"] == api.user.id


def test_token_scheme_is_case_insensitive(anon_api, user_token):
    headers = {"Authorization": f"Token {user_token.secret}"}
    assert_success(anon_api.get("/api/jobs", headers=headers))


def test_revoked_token_stops_working_at_once(api):
    created = assert_success(api.post("/api/tokens", json={"name": "short-lived"}))
    secret = created["token"]
    assert_success(api.get("/api/jobs", token=secret))

    assert_success(api.delete(f"/api/tokens/{created['id']}"))

    assert_error(api.get("/api/jobs", token=secret), 401)
    # The token used to revoke it still works.
    assert_success(api.get("/api/jobs"))


def test_token_can_revoke_itself(api):
    created = assert_success(api.post("/api/tokens", json={"name": "self-revoking"}))
    assert_success(api.delete(f"/api/tokens/{created['id']}", token=created["token"]))
    assert_error(api.get("/api/tokens", token=created["token"]), 401)


def test_token_is_stored_hashed_never_as_its_secret(api, session_factory):
    created = assert_success(api.post("/api/tokens", json={"name": "hashed"}))
    secret = created["token"]
    with session_factory() as session:
        row = session.scalar(select(Token).where(Token.id == created["id"]))
        stored = [str(getattr(row, column.key)) for column in Token.__table__.columns]
    assert row is not None
    assert all(secret not in value for value in stored), stored
    assert row.secret_hash != secret


def test_unknown_token_on_unauthenticated_endpoint_is_not_an_error(anon_api):
    # Health checks must answer whatever header a load balancer sends.
    assert_success(anon_api.get("/api/sysinfo", token="garbage"))


def _refused_soon(client, token: str, wait: float = 5.0) -> bool:
    """Whether requests with ``token`` turn 401 within ``wait`` seconds (a change made
    in the database reaches the app worker's token cache by NOTIFY, not by a request)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if client.get("/api/jobs", token=token).status_code == 401:
            return True
        time.sleep(0.05)
    return False


def test_token_deleted_in_the_database_stops_working(anon_api, session_factory):
    token = TokenFactory()
    assert anon_api.get("/api/jobs", token=token.secret).status_code == 200  # now cached
    with session_factory() as session:
        session.execute(delete(Token).where(Token.id == token.id))
        session.commit()
    assert _refused_soon(anon_api, token.secret)


def test_user_disabled_in_the_database_is_refused(anon_api, session_factory):
    token = TokenFactory()
    assert anon_api.get("/api/jobs", token=token.secret).status_code == 200  # now cached
    with session_factory() as session:
        session.execute(update(User).where(User.id == token.user_id).values(disabled=True))
        session.commit()
    assert _refused_soon(anon_api, token.secret)
