"""Users: admins create, list and read them; nobody else may."""

import uuid

import pytest

from .envelope import assert_error, assert_success


def new_username() -> str:
    return f"u_{uuid.uuid4().hex[:12]}"


def test_admin_creates_user_and_gets_its_id(admin_api):
    username = new_username()
    created = assert_success(admin_api.post("/api/users", json={"username": username}))
    assert isinstance(created["id"], int)
    assert created["username"] == username
    assert created["is_admin"] is False

    fetched = assert_success(admin_api.get(f"/api/users/{created['id']}"))
    assert fetched["username"] == username


def test_created_user_can_get_a_token_from_admin_and_use_it(admin_api, anon_api):
    user_id = assert_success(admin_api.post("/api/users", json={"username": new_username()}))["id"]
    token = assert_success(
        admin_api.post("/api/tokens", json={"name": "for new user", "user_id": user_id})
    )["token"]
    job_id = assert_success(anon_api.post("/api/jobs", json={"code": "true"}, token=token))["id"]
    assert assert_success(anon_api.get(f"/api/jobs/{job_id}", token=token))["submitter_id"] == (
        user_id
    )


def test_normal_user_cannot_create_users(api, admin_api):
    username = new_username()
    assert_error(api.post("/api/users", json={"username": username}), 403)
    listed = assert_success(admin_api.get("/api/users"))
    assert username not in {u["username"] for u in listed}


def test_duplicate_username_is_409(admin_api):
    username = new_username()
    assert_success(admin_api.post("/api/users", json={"username": username}))
    assert_error(admin_api.post("/api/users", json={"username": username}), 409, mentions=username)


@pytest.mark.parametrize(
    "username",
    ["", "has space", "a/b", "x" * 65, "new\nline", "trailing\n", "ünï", "null\x00byte", 42, None],
)
def test_bad_username_is_400_naming_the_field(admin_api, username):
    assert_error(admin_api.post("/api/users", json={"username": username}), 400, field="username")


def test_missing_username_is_400(admin_api):
    assert_error(admin_api.post("/api/users", json={}), 400, field="username")


def test_unknown_field_in_user_body_is_400(admin_api):
    body = {"username": new_username(), "is_admin": True}
    assert_error(admin_api.post("/api/users", json=body), 400, field="is_admin")


def test_admin_lists_all_users(admin_api, api):
    users = assert_success(admin_api.get("/api/users"))
    by_id = {u["id"]: u for u in users}
    assert by_id[api.user.id]["username"] == api.user.username
    assert by_id[api.user.id]["is_admin"] is False
    assert by_id[admin_api.user.id]["is_admin"] is True
    assert all("token" not in u and "secret_hash" not in u for u in users)


def test_normal_user_cannot_list_users(api):
    assert_error(api.get("/api/users"), 403)


def test_normal_user_cannot_read_a_user_not_even_themself(api):
    assert_error(api.get(f"/api/users/{api.user.id}"), 403)


@pytest.mark.parametrize(
    "user_id", ["0", "-1", "abc", "1.5", "99999999", str(2**31), str(10**30), "١", "%00"]
)
def test_unknown_or_impossible_user_id_is_404(admin_api, user_id):
    assert_error(admin_api.get(f"/api/users/{user_id}"), 404)


def test_post_to_a_user_path_is_405(admin_api):
    assert_error(admin_api.post("/api/users/1", json={"username": new_username()}), 405)
