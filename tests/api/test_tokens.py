"""API tokens: made for yourself (or by an admin for anyone), listed without secrets,
revoked by their owner."""

import pytest
from sqlalchemy import select

from baselayer.app.models import Token

from ..factories import TokenFactory, UserFactory
from .envelope import assert_error, assert_success


def test_user_creates_own_token_and_it_works(api, anon_api):
    created = assert_success(api.post("/api/tokens", json={"name": "laptop"}))
    assert isinstance(created["id"], int)
    assert isinstance(created["token"], str) and len(created["token"]) >= 32

    # The new token acts as the same user.
    job_id = assert_success(
        anon_api.post("/api/jobs", json={"code": "true"}, token=created["token"])
    )["id"]
    assert assert_success(api.get(f"/api/jobs/{job_id}"))["submitter_id"] == api.user.id


def test_each_new_token_has_a_different_secret(api):
    first = assert_success(api.post("/api/tokens", json={"name": "a"}))
    second = assert_success(api.post("/api/tokens", json={"name": "a"}))
    assert first["id"] != second["id"]
    assert first["token"] != second["token"]


def test_token_list_shows_own_tokens_without_secrets(api):
    created = assert_success(api.post("/api/tokens", json={"name": "listed"}))
    response = api.get("/api/tokens")
    tokens = assert_success(response)

    by_id = {t["id"]: t for t in tokens}
    assert by_id[created["id"]]["name"] == "listed"
    assert by_id[created["id"]]["user_id"] == api.user.id
    assert created["token"] not in response.text
    assert api.token not in response.text
    assert all(set(t) == {"id", "name", "user_id", "expires_at", "created_at"} for t in tokens), (
        tokens
    )


def test_token_list_excludes_other_users_tokens(api):
    other = TokenFactory()
    tokens = assert_success(api.get("/api/tokens"))
    assert other.id not in {t["id"] for t in tokens}
    assert {t["user_id"] for t in tokens} == {api.user.id}


def test_user_may_name_themself_as_user_id(api):
    created = assert_success(
        api.post("/api/tokens", json={"name": "explicit", "user_id": api.user.id})
    )
    tokens = assert_success(api.get("/api/tokens"))
    assert created["id"] in {t["id"] for t in tokens}


def test_admin_creates_token_for_another_user(admin_api, api, anon_api):
    created = assert_success(
        admin_api.post("/api/tokens", json={"name": "issued", "user_id": api.user.id})
    )
    # It belongs to the user, not to the admin.
    assert created["id"] in {t["id"] for t in assert_success(api.get("/api/tokens"))}
    assert created["id"] not in {t["id"] for t in assert_success(admin_api.get("/api/tokens"))}
    job_id = assert_success(
        anon_api.post("/api/jobs", json={"code": "true"}, token=created["token"])
    )["id"]
    assert assert_success(api.get(f"/api/jobs/{job_id}"))["submitter_id"] == api.user.id


def test_normal_user_cannot_create_token_for_another_user(api, session_factory):
    other = UserFactory()
    assert_error(api.post("/api/tokens", json={"name": "stolen", "user_id": other.id}), 403)
    with session_factory() as session:
        assert session.scalars(select(Token).where(Token.user_id == other.id)).all() == []


def test_token_for_unknown_user_is_404(admin_api):
    assert_error(admin_api.post("/api/tokens", json={"name": "x", "user_id": 2**31 - 1}), 404)


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 129}, "name"),
        ({"name": 5}, "name"),
        ({"name": "nul\x00byte"}, "name"),
        ({"name": "x", "user_id": "abc"}, "user_id"),
        ({"name": "x", "user_id": 0}, "user_id"),
        ({"name": "x", "user_id": 2**31}, "user_id"),
        ({"name": "x", "user_id": 10**40}, "user_id"),
        ({"name": "x", "user_id": True}, "user_id"),
        ({"name": "x", "user_id": 1.5}, "user_id"),
        ({"name": "x", "secret": "mine"}, "secret"),
    ],
)
def test_bad_token_body_is_400_naming_the_field(admin_api, body, field):
    assert_error(admin_api.post("/api/tokens", json=body), 400, field=field)


def test_token_name_with_unpaired_surrogate_is_400_not_500(api):
    assert_error(api.post("/api/tokens", data=b'{"name": "\\udfff"}'), 400, field="name")


def test_infinite_user_id_is_400(admin_api):
    response = admin_api.post(
        "/api/tokens",
        data='{"name": "x", "user_id": Infinity}',
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 400)


def test_user_deletes_own_token(api):
    created = assert_success(api.post("/api/tokens", json={"name": "doomed"}))
    assert_success(api.delete(f"/api/tokens/{created['id']}"))
    assert created["id"] not in {t["id"] for t in assert_success(api.get("/api/tokens"))}
    # Deleting it again: it is gone.
    assert_error(api.delete(f"/api/tokens/{created['id']}"), 404)


def test_user_cannot_delete_another_users_token_and_it_keeps_working(api, anon_api):
    other = TokenFactory()
    assert_error(api.delete(f"/api/tokens/{other.id}"), 404)
    assert_success(anon_api.get("/api/jobs", token=other.secret))


def test_admin_revokes_another_users_token(admin_api, anon_api):
    other = TokenFactory()
    assert_success(admin_api.delete(f"/api/tokens/{other.id}"))
    assert_error(anon_api.get("/api/jobs", token=other.secret), 401)


@pytest.mark.parametrize(
    "token_id", ["0", "-1", "abc", "1.5", "99999999", str(2**31), str(10**30), "١"]
)
def test_unknown_or_impossible_token_id_is_404(api, token_id):
    assert_error(api.delete(f"/api/tokens/{token_id}"), 404)


def test_delete_without_token_id_is_405(api):
    assert_error(api.delete("/api/tokens"), 405)


def test_get_single_token_is_405(api):
    created = assert_success(api.post("/api/tokens", json={"name": "x"}))
    assert_error(api.get(f"/api/tokens/{created['id']}"), 405)
