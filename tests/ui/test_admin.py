"""The dashboard's tokens and admin pages: users, tokens, system; admins only (a 404
page for anyone else), through the API's own checks."""

import datetime
import hashlib
import re
import time
import uuid

import pytest
import requests
from sqlalchemy import text

from baselayer.app.models import ADMIN_ROLE
from shell_service import queues
from shell_service.handlers.ui.admin import executors_and_hosts, plain
from shell_service.handlers.ui.tokens import token_form_body

from .. import factories
from .conftest import Browser

SECRET = re.compile(r'id="token-secret" value="([^"]+)"')
EVIL = "<script>alert('x')</script>\"'"


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


@pytest.fixture
def admin_web(server, admin_token):
    """A browser-like client signed in as a new admin (``admin_web.user``)."""
    client = Browser(server.url)
    client.sign_in(admin_token.secret)
    client.user, client.token = admin_token.user, admin_token.secret
    return client


def user_row(db_session, user_id: int):
    db_session.expire_all()
    return db_session.execute(
        text("SELECT username, disabled FROM users WHERE id = :id"), {"id": user_id}
    ).one()


def is_admin(db_session, user_id: int) -> bool:
    db_session.expire_all()
    return bool(
        db_session.execute(
            text("SELECT count(*) FROM user_roles WHERE user_id = :id AND role_id = :role"),
            {"id": user_id, "role": ADMIN_ROLE},
        ).scalar_one()
    )


def tokens_of(db_session, user_id: int) -> list[tuple]:
    db_session.expire_all()
    return db_session.execute(
        text("SELECT id, name, expires_at FROM tokens WHERE user_id = :id ORDER BY id"),
        {"id": user_id},
    ).all()


def api_status(server, secret: str) -> int:
    return requests.get(
        server.url + "/api/tokens", headers={"Authorization": f"token {secret}"}, timeout=30
    ).status_code


# ---- admins only ---------------------------------------------------------------


def test_a_non_admin_gets_404_on_every_admin_page_and_action(web, db_session):
    victim = factories.UserFactory()
    name = f"made_{uuid.uuid4().hex[:8]}"
    for path in (
        "/ui/admin",
        "/ui/admin/users",
        f"/ui/admin/users/{victim.id}",
        f"/ui/admin/users/{web.user.id}",
        "/ui/admin/system",
    ):
        page = web.get(path)
        assert page.status_code == 404, path
        assert "<html" in page.text and victim.username not in page.text
    assert web.post("/ui/admin/users", {"username": name, "admin": "on"}).status_code == 404
    for action in ("disable", "make-admin"):
        assert web.post(f"/ui/admin/users/{victim.id}/{action}").status_code == 404
        assert web.post(f"/ui/admin/users/{web.user.id}/{action}").status_code == 404
    made = web.post(f"/ui/admin/users/{victim.id}/tokens", {"name": "stolen"})
    assert made.status_code == 404 and not SECRET.search(made.text)
    # Nothing was done.
    db_session.expire_all()
    assert (
        db_session.execute(
            text("SELECT count(*) FROM users WHERE username = :u"), {"u": name}
        ).scalar_one()
        == 0
    )
    assert user_row(db_session, victim.id).disabled is False
    assert not is_admin(db_session, victim.id) and not is_admin(db_session, web.user.id)
    assert tokens_of(db_session, victim.id) == []
    # No admin link for them; admins have one.
    assert 'id="nav-admin"' not in web.get("/ui/tokens").text


def test_the_admin_pages_render_for_an_admin_with_the_nav_link(admin_web):
    for path in ("/ui/admin/users", f"/ui/admin/users/{admin_web.user.id}", "/ui/admin/system"):
        page = admin_web.get(path)
        assert page.status_code == 200, path
        assert 'id="nav-admin"' in page.text and 'id="nav-tokens"' in page.text
    assert admin_web.get("/ui/admin").headers["Location"] == "/ui/admin/users"
    assert admin_web.get("/ui/admin/users/999999999").status_code == 404
    assert admin_web.get("/ui/admin/users/x").status_code == 404


def test_without_a_session_the_admin_pages_go_to_sign_in(anon_browser):
    response = anon_browser.get("/ui/admin/users")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/ui/signin?next=")


# ---- users ---------------------------------------------------------------------


def test_the_users_page_lists_users(admin_web):
    someone = factories.UserFactory(disabled=True)
    page = admin_web.get("/ui/admin/users").text
    row = re.search(rf'<tr data-user="{someone.id}">(.*?)</tr>', page, re.S).group(1)
    assert someone.username in row and "disabled" in row
    assert f"/ui/jobs?submitter={someone.id}&amp;range=all" in row
    mine = re.search(rf'<tr data-user="{admin_web.user.id}">(.*?)</tr>', page, re.S).group(1)
    assert "admin" in mine and "you" in mine


def test_a_bad_username_shows_the_apis_400_beside_the_field(admin_web):
    response = admin_web.post("/ui/admin/users", {"username": "no spaces allowed"})
    assert response.status_code == 400
    assert re.search(r'id="error-username">must be 1-64 characters', response.text)
    assert 'value="no spaces allowed"' in response.text


def test_a_taken_username_is_shown_beside_the_field(admin_web):
    taken = factories.UserFactory()
    response = admin_web.post("/ui/admin/users", {"username": taken.username})
    assert response.status_code == 409
    assert re.search(r'id="error-username">Username .* is taken', response.text)


def test_making_a_user_and_an_admin(admin_web, db_session):
    name = f"made_{uuid.uuid4().hex[:8]}"
    response = admin_web.post("/ui/admin/users", {"username": name})
    assert response.status_code == 302
    user_id = int(
        re.fullmatch(r"/ui/admin/users/(\d+)\?notice=created", response.headers["Location"]).group(
            1
        )
    )
    assert user_row(db_session, user_id).username == name
    assert not is_admin(db_session, user_id)
    page = admin_web.get(response.headers["Location"])
    assert "User created." in page.text and name in page.text
    boss = f"boss_{uuid.uuid4().hex[:8]}"
    response = admin_web.post("/ui/admin/users", {"username": boss, "admin": "on"})
    boss_id = int(response.headers["Location"].split("/")[-1].split("?")[0])
    assert is_admin(db_session, boss_id)


def test_make_admin_and_remove_admin(admin_web, db_session):
    someone = factories.UserFactory()
    assert admin_web.post(f"/ui/admin/users/{someone.id}/make-admin").status_code == 302
    assert is_admin(db_session, someone.id)
    page = admin_web.get(f"/ui/admin/users/{someone.id}")
    assert 'id="user-admin">yes' in page.text and 'id="remove-admin"' in page.text
    assert admin_web.post(f"/ui/admin/users/{someone.id}/remove-admin").status_code == 302
    assert not is_admin(db_session, someone.id)


def test_an_admin_cannot_disable_themselves_or_drop_their_role(admin_web, db_session):
    me = admin_web.user.id
    # Not offered on their own page (the API's refusal below stays the check).
    page = admin_web.get(f"/ui/admin/users/{me}").text
    assert 'id="disable"' not in page and 'id="remove-admin"' not in page
    assert 'id="own-account"' in page
    for action in ("disable", "remove-admin"):
        response = admin_web.post(f"/ui/admin/users/{me}/{action}")
        assert response.status_code == 400
        assert "You cannot disable yourself or change your own role" in response.text
    assert user_row(db_session, me).disabled is False
    assert is_admin(db_session, me)
    assert admin_web.get("/ui/admin/users").status_code == 200


def test_disabling_a_user_ends_their_sessions_and_cancels_their_jobs(
    web, admin_web, db_session, server
):
    assert web.get("/ui/tokens").status_code == 200
    job = factories.JobFactory(submitter=web.user, id=f"adm_{uuid.uuid4().hex[:10]}")
    response = admin_web.post(f"/ui/admin/users/{web.user.id}/disable")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("?notice=disable")
    assert user_row(db_session, web.user.id).disabled is True
    # Thrown out to sign-in (the session is a token row of a disabled user now).
    thrown = web.get("/ui/tokens")
    assert thrown.status_code == 302 and thrown.headers["Location"].startswith("/ui/signin")
    assert api_status(server, web.token) == 401
    db_session.expire_all()
    status = db_session.execute(
        text("SELECT status FROM jobs WHERE id = :id"), {"id": job.id}
    ).scalar_one()
    assert status == "CANCELLED"
    # Enabled again: their token works again (the session cookie was cleared).
    assert admin_web.post(f"/ui/admin/users/{web.user.id}/enable").status_code == 302
    assert api_status(server, web.token) == 200


def test_an_action_on_no_such_user_is_a_404(admin_web):
    assert admin_web.post("/ui/admin/users/999999999/disable").status_code == 404
    assert admin_web.post(f"/ui/admin/users/{admin_web.user.id}/explode").status_code == 404
    assert admin_web.get(f"/ui/admin/users/{admin_web.user.id}/disable").status_code == 405


# ---- tokens --------------------------------------------------------------------


def test_the_token_secret_appears_exactly_once(web, db_session, server):
    response = web.post("/ui/tokens", {"name": "laptop", "expires_in": "7d"})
    assert response.status_code == 200
    secret = SECRET.search(response.text).group(1)
    assert "only time it is shown" in response.text
    assert "no-store" in response.headers["Cache-Control"]
    # Not in a cookie or a URL: nowhere a browser keeps it.
    assert secret not in response.headers.get("Set-Cookie", "")
    assert secret not in str(web.http.cookies.get_dict())
    assert "Location" not in response.headers
    assert api_status(server, secret) == 200
    [made] = [t for t in tokens_of(db_session, web.user.id) if t.name == "laptop"]
    left = made.expires_at - now()
    assert datetime.timedelta(days=6, hours=23) < left <= datetime.timedelta(days=7)
    # A second GET, of any page, never has it.
    for path in ("/ui/tokens", "/ui/sessions", "/ui/jobs"):
        page = web.get(path)
        assert page.status_code == 200
        assert secret not in page.text and not SECRET.search(page.text)
    assert "laptop" in web.get("/ui/tokens").text


def test_a_web_session_makes_tokens_only_as_the_api_lets_a_token(web, db_session):
    # Another user's id in the form is not read: the token is the user's own (the
    # API would answer 403); admins make others' tokens from the user's page.
    someone = factories.UserFactory()
    response = web.post("/ui/tokens", {"name": "mine", "user_id": str(someone.id)})
    assert response.status_code == 200
    assert f'id="token-owner">{web.user.username}<' in response.text
    assert tokens_of(db_session, someone.id) == []
    assert "mine" in [t.name for t in tokens_of(db_session, web.user.id)]


def test_a_token_at_a_time_in_utc_and_one_that_never_expires(web, db_session):
    web.post("/ui/tokens", {"name": "until", "expires_at": "2099-01-02T03:04"})
    web.post("/ui/tokens", {"name": "forever", "expires_in": "never"})
    made = {t.name: t.expires_at for t in tokens_of(db_session, web.user.id)}
    assert made["until"] == datetime.datetime(2099, 1, 2, 3, 4)
    assert made["forever"] is None


def test_token_form_errors_are_beside_their_fields(web, db_session):
    response = web.post("/ui/tokens", {"name": "old", "expires_at": "2001-01-01T00:00"})
    assert response.status_code == 400
    assert re.search(r'id="error-expires_at">must be in the future', response.text)
    assert 'value="old"' in response.text
    response = web.post("/ui/tokens", {"name": "", "expires_in": "7d"})
    assert response.status_code == 400
    assert 'id="error-name"' in response.text
    response = web.post("/ui/tokens", {"name": "x", "expires_in": "forever-and-a-day"})
    assert response.status_code == 400 and 'id="error-expires_in"' in response.text
    assert not SECRET.search(response.text)
    assert [t.name for t in tokens_of(db_session, web.user.id)] == ["test token", "web session"]


def test_the_tokens_page_marks_web_sessions_and_this_browser(web, server):
    other = Browser(server.url)
    other.sign_in(web.token)
    page = web.get("/ui/tokens").text
    rows = re.findall(r'<tr data-token="(\d+)">(.*?)</tr>', page, re.S)
    kinds = [("web session" in row, "this browser" in row) for _, row in rows]
    # Newest first: the other browser's session, this one's, the API token.
    assert kinds == [(True, False), (True, True), (False, False)]
    assert "API token" in rows[2][1]


def test_revoking_a_token_stops_it(web, server):
    made = web.post("/ui/tokens", {"name": "short-lived", "expires_in": "1d"})
    secret = SECRET.search(made.text).group(1)
    token_id = re.search(
        r'<tr data-token="(\d+)">\s*<td>short-lived', web.get("/ui/tokens").text
    ).group(1)
    response = web.post(f"/ui/tokens/{token_id}/revoke")
    assert response.status_code == 302
    assert response.headers["Location"] == "/ui/tokens?notice=revoked"
    assert api_status(server, secret) == 401
    assert "short-lived" not in web.get("/ui/tokens").text


def test_revoking_this_browsers_session_signs_it_out(web, db_session):
    session_id = db_session.execute(
        text(
            "SELECT t.id FROM tokens t JOIN web_sessions s ON s.token_id = t.id"
            " WHERE t.user_id = :u"
        ),
        {"u": web.user.id},
    ).scalar_one()
    assert web.post(f"/ui/tokens/{session_id}/revoke").status_code == 302
    response = web.get("/ui/tokens")
    assert response.status_code == 302 and response.headers["Location"].startswith("/ui/signin")


def test_a_user_cannot_revoke_another_users_token(web, db_session, server):
    victim = factories.TokenFactory()
    response = web.post(f"/ui/tokens/{victim.id}/revoke")
    assert response.status_code == 404
    assert "<html" in response.text
    assert api_status(server, victim.secret) == 200
    assert web.post("/ui/tokens/nope/revoke").status_code == 404


def test_a_revoke_goes_back_to_dashboard_pages_only(web):
    made = web.post("/ui/tokens", {"name": "a", "expires_in": "1d"})
    assert SECRET.search(made.text)
    token_id = re.search(r'<tr data-token="(\d+)">\s*<td>a<', web.get("/ui/tokens").text).group(1)
    response = web.post(f"/ui/tokens/{token_id}/revoke", {"next": "https://evil.example/"})
    assert response.headers["Location"] == "/ui/?notice=revoked"


def test_an_admin_makes_a_token_for_a_user_and_revokes_it(admin_web, db_session, server):
    someone = factories.UserFactory()
    response = admin_web.post(
        f"/ui/admin/users/{someone.id}/tokens", {"name": "for them", "expires_in": "30d"}
    )
    assert response.status_code == 200
    secret = SECRET.search(response.text).group(1)
    assert f'id="token-owner">{someone.username}<' in response.text
    assert f'data-back="/ui/admin/users/{someone.id}"' in response.text
    [(token_id, name, _)] = tokens_of(db_session, someone.id)
    assert name == "for them"
    page = admin_web.get(f"/ui/admin/users/{someone.id}").text
    assert f'data-token="{token_id}"' in page and secret not in page
    response = admin_web.post(
        f"/ui/tokens/{token_id}/revoke", {"next": f"/ui/admin/users/{someone.id}"}
    )
    assert response.headers["Location"] == f"/ui/admin/users/{someone.id}?notice=revoked"
    assert api_status(server, secret) == 401
    assert tokens_of(db_session, someone.id) == []


def test_an_admin_revokes_anyones_token_and_web_session(admin_web, web, db_session):
    token_hash = hashlib.sha256(web.token.encode()).hexdigest()
    token_id = db_session.execute(
        text("SELECT id FROM tokens WHERE secret_hash = :h"), {"h": token_hash}
    ).scalar_one()
    page = admin_web.get(f"/ui/admin/users/{web.user.id}").text
    session_ids = [
        tid
        for tid, row in re.findall(r'<tr data-token="(\d+)">(.*?)</tr>', page, re.S)
        if "web session" in row
    ]
    assert len(session_ids) == 1
    assert admin_web.post(f"/ui/tokens/{session_ids[0]}/revoke").status_code == 302
    assert web.get("/ui/tokens").status_code == 302  # thrown out
    assert admin_web.post(f"/ui/tokens/{token_id}/revoke").status_code == 302
    assert all(t.id != token_id for t in tokens_of(db_session, web.user.id))


def test_a_token_for_no_such_user_is_a_404(admin_web):
    response = admin_web.post("/ui/admin/users/999999999/tokens", {"name": "x"})
    assert response.status_code == 404 and not SECRET.search(response.text)


# ---- escaping and XSRF -----------------------------------------------------------


def test_usernames_and_token_names_are_escaped(admin_web, web, db_session):
    # The API refuses such a username; one made some other way is still only text.
    evil_user = factories.UserFactory(username=f"{EVIL}{uuid.uuid4().hex[:6]}")
    factories.TokenFactory(user=evil_user, name=EVIL)
    made = web.post("/ui/tokens", {"name": EVIL, "expires_in": "1d"})
    assert made.status_code == 200
    pages = [
        made.text,
        web.get("/ui/tokens").text,
        admin_web.get("/ui/admin/users").text,
        admin_web.get(f"/ui/admin/users/{evil_user.id}").text,
        admin_web.post(f"/ui/admin/users/{evil_user.id}/tokens", {"name": EVIL}).text,
    ]
    for page in pages:
        assert "<script>alert" not in page
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&quot;&#x27;" in page


def test_unsafe_requests_without_xsrf_are_refused(web, admin_web, db_session):
    someone = factories.UserFactory()
    assert web.post("/ui/tokens", {"name": "no-xsrf"}, xsrf=False).status_code == 403
    victim = factories.TokenFactory(user=web.user)
    assert web.post(f"/ui/tokens/{victim.id}/revoke", xsrf=False).status_code == 403
    assert admin_web.post("/ui/admin/users", {"username": "no_xsrf"}, xsrf=False).status_code == 403
    assert admin_web.post(f"/ui/admin/users/{someone.id}/disable", xsrf=False).status_code == 403
    response = admin_web.post(f"/ui/admin/users/{someone.id}/tokens", {"name": "n"}, xsrf=False)
    assert response.status_code == 403
    assert [t.name for t in tokens_of(db_session, web.user.id)].count("no-xsrf") == 0
    assert any(t.id == victim.id for t in tokens_of(db_session, web.user.id))
    assert user_row(db_session, someone.id).disabled is False
    assert tokens_of(db_session, someone.id) == []


# ---- system --------------------------------------------------------------------


def test_the_system_page_shows_executors_queues_and_isolation(admin_web, server):
    deadline = time.monotonic() + 10
    while 'data-executor="' not in (page := admin_web.get("/ui/admin/system").text):
        assert time.monotonic() < deadline, "no executor on the system page"
        time.sleep(0.2)
    executor = re.search(r'<tr data-executor="[^"]+">(.*?)</tr>', page, re.S).group(1)
    assert "alive" in executor
    assert 'id="version">' in page
    for q in queues.configured_queues(server.cfg):
        assert f'data-queue="{q.name}"' in page
    isolation = re.search(r'<table id="isolation">(.*?)</table>', page, re.S).group(1)
    assert "containment" in isolation and "run as" in isolation


def test_executors_and_hosts_tell_alive_silent_and_lost():
    t = now()
    rows = [
        {"id": "a:1", "last_seen": t, "running": 2, "published": {"host": "a", "max_running": 4}},
        {"id": "a:0", "last_seen": t - datetime.timedelta(minutes=9), "running": 0,
         "published": {"host": "a"}},
        {"id": "b:7", "last_seen": t - datetime.timedelta(minutes=2), "running": 0,
         "published": None},
        {"id": "c/slurm:3", "last_seen": t - datetime.timedelta(minutes=6), "running": 1,
         "published": {"host": "c/slurm", "kind": "slurm"}},
    ]  # fmt: skip
    shown = executors_and_hosts(rows, t, datetime.timedelta(minutes=5))
    state = {e["id"]: (e["host"], e["kind"], e["alive"], e["host_lost"]) for e in shown}
    assert state == {
        "a:1": ("a", "local", True, False),
        # Silent, but its host is alive (another executor of it is heard from).
        "a:0": ("a", "local", False, False),
        "b:7": ("b", "local", False, False),
        "c/slurm:3": ("c/slurm", "slurm", False, True),
    }
    assert shown[0]["id"] == "a:1"  # alive first


def test_isolation_values_as_text():
    assert plain(True) == "yes" and plain(None) == "none"
    assert plain({"a": False, "b": ["x", "y"]}) == "a: no; b: x, y"


def test_the_token_form_body():
    t = datetime.datetime(2030, 1, 1)
    assert token_form_body({"name": " n ", "expires_in": "1d"}, t) == (
        {"name": "n", "expires_at": "2030-01-02T00:00:00"},
        {},
    )
    assert token_form_body({"name": "n", "expires_in": "never"}, t) == ({"name": "n"}, {})
    body, _ = token_form_body(
        {"name": "n", "expires_in": "1d", "expires_at": "2031-05-05T01:02"}, t
    )
    assert body["expires_at"] == "2031-05-05T01:02"
    assert "expires_in" in token_form_body({"name": "n", "expires_in": "soon"}, t)[1]
