"""Admins disable users and grant or remove the admin role; tokens may expire."""

import datetime

from baselayer.app.models import utcnow

from ..factories import TokenFactory, UserFactory
from ..helpers import create_job, wait_for_job, wait_until


def patch_user(client, user_id, body):
    return client.request("PATCH", f"/api/users/{user_id}", json=body)


def test_disabling_a_user_stops_their_tokens_and_cancels_their_jobs(api, admin_api):
    running = create_job(api, "sleep 60", execute=True)
    ready = create_job(api, "true")
    wait_for_job(api, running, statuses={"RUNNING"})
    response = patch_user(admin_api, api.user.id, {"disabled": True})
    assert response.status_code == 200 and response.json()["data"]["disabled"] is True
    assert api.get("/api/jobs").status_code == 401
    for job_id in (running, ready):
        assert wait_for_job(admin_api, job_id, timeout=10)["status"] == "CANCELLED"
    assert patch_user(admin_api, api.user.id, {"disabled": False}).status_code == 200
    assert api.get("/api/jobs").status_code == 200


def test_granting_and_removing_the_admin_role(api, admin_api):
    other = UserFactory()
    assert patch_user(admin_api, api.user.id, {"admin": True}).json()["data"]["is_admin"] is True
    assert api.get("/api/users").status_code == 200  # now an admin
    assert admin_api.get(f"/api/users/{other.id}").status_code == 200
    assert patch_user(admin_api, api.user.id, {"admin": False}).json()["data"]["is_admin"] is False
    assert api.get("/api/users").status_code == 403


def test_only_admins_change_users_and_not_themselves(api, admin_api):
    assert patch_user(api, api.user.id, {"admin": True}).status_code == 403
    assert patch_user(admin_api, admin_api.user.id, {"disabled": True}).status_code == 400
    assert patch_user(admin_api, api.user.id, {}).status_code == 400
    assert patch_user(admin_api, api.user.id, {"disabled": "yes please"}).status_code == 400
    assert patch_user(admin_api, 999999, {"disabled": True}).status_code == 404


def test_users_list_shows_who_is_disabled(api, admin_api):
    patch_user(admin_api, api.user.id, {"disabled": True})
    users = {u["id"]: u for u in admin_api.get("/api/users").json()["data"]}
    assert users[api.user.id]["disabled"] is True


def test_token_with_an_expiry_works_until_then(api):
    expiry = utcnow() + datetime.timedelta(seconds=2)
    soon = expiry.isoformat()
    body = api.post("/api/tokens", json={"name": "short", "expires_at": soon}).json()["data"]
    listed = {t["id"]: t for t in api.get("/api/tokens").json()["data"]}
    assert listed[body["id"]]["expires_at"].startswith(soon[:19])
    # Use it until it is refused: accepted before its expiry, refused from then on.
    answers = []  # (asked at, answered at, status)

    def refused():
        asked = utcnow()
        status = api.get("/api/jobs", token=body["token"]).status_code
        answers.append((asked, utcnow(), status))
        return status == 401

    wait_until(refused, "the expired token refused", timeout=10)
    assert all(status in (200, 401) for _, _, status in answers), answers
    accepted = [asked for asked, _, status in answers if status == 200]
    assert accepted and all(asked < expiry for asked in accepted), (expiry, answers)
    first_refused = next(answered for _, answered, status in answers if status == 401)
    assert first_refused >= expiry
    assert api.get("/api/jobs", token=body["token"]).status_code == 401  # and it stays so


def test_expired_token_from_the_database_is_refused(api):
    token = TokenFactory(user=api.user, expires_at=utcnow() - datetime.timedelta(minutes=1))
    assert api.get("/api/jobs", token=token.secret).status_code == 401


def test_token_expiry_must_be_a_future_date(api):
    for value in ("2000-01-01T00:00:00", "soon", 5):
        response = api.post("/api/tokens", json={"name": "x", "expires_at": value})
        assert response.status_code == 400, value
        assert "expires_at" in response.json()["message"]
