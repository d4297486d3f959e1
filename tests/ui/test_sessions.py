"""Signing in to the dashboard: the session cookie, XSRF, and a session stopping as a token does."""

import datetime
import hashlib
import re
import time
from pathlib import Path

from sqlalchemy import text

from shell_service.handlers.ui.sessions import safe_next

from .. import factories
from .conftest import Browser

STATIC = Path(__file__).resolve().parents[2] / "shell_service" / "static" / "ui"


def set_cookie_header(response) -> str:
    return "; ".join(v for k, v in response.raw.headers.items() if k.lower() == "set-cookie")


def session_rows(db_session, user_id) -> list[tuple]:
    db_session.expire_all()
    return db_session.execute(
        text(
            "SELECT t.id, t.expires_at FROM tokens t JOIN web_sessions s ON s.token_id = t.id"
            " WHERE t.user_id = :user"
        ),
        {"user": user_id},
    ).all()


def test_signing_in_sets_an_httponly_samesite_lax_cookie_for_the_ui_only(anon_browser):
    token = factories.TokenFactory()
    response = anon_browser.sign_in(token.secret)
    assert response.headers["Location"] == "/ui/jobs"
    cookie = next(
        c for c in set_cookie_header(response).split(", shell") if "shell_service_session=" in c
    )
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/ui" in cookie
    assert "Secure" not in cookie  # plain http here
    assert "expires=" in cookie.lower()
    # The cookie is a new secret, not the pasted token.
    assert anon_browser.session_cookie and anon_browser.session_cookie != token.secret


def test_the_session_cookie_is_secure_behind_https(anon_browser):
    token = factories.TokenFactory()
    anon_browser.get("/ui/signin")
    response = anon_browser.post(
        "/ui/signin", {"token": token.secret}, headers={"X-Forwarded-Proto": "https"}
    )
    assert response.status_code == 302
    assert re.search(r"shell_service_session=[^;]+;.*Secure", set_cookie_header(response))


def test_a_session_expires_twelve_hours_after_signing_in(web, db_session):
    [(_, expires_at)] = session_rows(db_session, web.user.id)
    left = expires_at - datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    assert datetime.timedelta(hours=11, minutes=59) < left <= datetime.timedelta(hours=12)


def test_a_wrong_token_does_not_sign_in(anon_browser, db_session):
    anon_browser.get("/ui/signin")
    response = anon_browser.post("/ui/signin", {"token": "not-a-token"})
    assert response.status_code == 401
    assert "not valid" in response.text
    assert anon_browser.session_cookie is None


def test_a_disabled_users_token_does_not_sign_in(anon_browser, db_session):
    token = factories.TokenFactory()
    token.user.disabled = True
    db_session.commit()
    anon_browser.get("/ui/signin")
    assert anon_browser.post("/ui/signin", {"token": token.secret}).status_code == 401
    assert session_rows(db_session, token.user.id) == []


def test_pages_without_a_session_go_to_sign_in_and_back(anon_browser):
    response = anon_browser.get("/ui/sessions?x=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/ui/signin?next=%2Fui%2Fsessions%3Fx%3D1"
    # htmx requests are told to navigate, not handed a page to swap in.
    response = anon_browser.get("/ui/sessions", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/ui/signin?next=")


def test_signed_in_pages_show_who_is_signed_in(web):
    response = web.get("/ui/sessions")
    assert response.status_code == 200
    assert f">{web.user.username}<" in response.text


def test_an_unsafe_request_without_the_xsrf_token_is_refused(web):
    response = web.post("/ui/signout", xsrf=False)
    assert response.status_code == 403
    response = web.post("/ui/signout", {"_xsrf": "wrong"}, xsrf=False)
    assert response.status_code == 403
    # Still signed in: nothing was done.
    assert web.get("/ui/sessions").status_code == 200


def test_sign_in_itself_needs_the_xsrf_token(anon_browser):
    token = factories.TokenFactory()
    response = anon_browser.post("/ui/signin", {"token": token.secret}, xsrf=False)
    assert response.status_code == 403
    assert anon_browser.session_cookie is None


def test_the_api_does_not_accept_the_session_cookie(web, server):
    cookie = {"Cookie": f"shell_service_session={web.session_cookie}"}
    for path in ("/api/jobs", "/api/tokens", "/api/users/me"):
        response = web.http.get(server.url + path, headers=cookie, timeout=30)
        assert response.status_code == 401, path
        assert response.json()["status"] == "error"
    # Nor its secret as a token (a stolen cookie is no token; tokens.api_access),
    # while the session itself goes on working, and an API token of the same user works.
    for path in ("/api/jobs", "/api/tokens", "/api/users/me"):
        response = web.http.get(
            server.url + path,
            headers={"Authorization": f"token {web.session_cookie}"},
            timeout=30,
        )
        assert response.status_code == 401, path
    assert web.get("/ui/jobs").status_code == 200
    token = factories.TokenFactory(user=web.user)
    response = web.http.get(
        server.url + "/api/jobs", headers={"Authorization": f"token {token.secret}"}, timeout=30
    )
    assert response.status_code == 200


def test_an_api_token_in_the_cookie_is_not_a_session(server):
    token = factories.TokenFactory()
    client = Browser(server.url)
    client.http.cookies.set("shell_service_session", token.secret, path="/ui")
    response = client.get("/ui/sessions")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/ui/signin")


def test_signing_out_deletes_the_session(web, db_session, server):
    secret = web.session_cookie
    assert len(session_rows(db_session, web.user.id)) == 1
    response = web.post("/ui/signout")
    assert response.status_code == 302
    assert response.headers["Location"] == "/ui/signin"
    assert session_rows(db_session, web.user.id) == []
    assert web.session_cookie is None
    # The old cookie, replayed, is no session any more.
    replay = Browser(server.url)
    replay.http.cookies.set("shell_service_session", secret, path="/ui")
    assert replay.get("/ui/sessions").status_code == 302


def test_a_revoked_session_is_thrown_out_to_sign_in(web, server, db_session):
    other = Browser(server.url)
    other.sign_in(web.token)
    page = other.get("/ui/sessions")
    assert page.text.count('data-session="') == 2
    ids = sorted(row[0] for row in session_rows(db_session, web.user.id))
    # The second browser revokes the first one's session (the older, lower id).
    response = other.post("/ui/sessions", {"id": str(min(ids))})
    assert response.status_code == 302
    response = web.get("/ui/sessions")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/ui/signin")
    assert web.session_cookie is None  # the stale cookie is cleared
    assert other.get("/ui/sessions").status_code == 200


def test_a_session_revoked_through_the_api_is_thrown_out(web, server, db_session):
    [(session_id, _)] = session_rows(db_session, web.user.id)
    response = web.http.delete(
        f"{server.url}/api/tokens/{session_id}",
        headers={"Authorization": f"token {web.token}"},
        timeout=30,
    )
    assert response.status_code == 200
    assert web.get("/ui/sessions").status_code == 302


def test_an_expired_session_is_thrown_out(web, db_session):
    assert web.get("/ui/sessions").status_code == 200  # cached now
    db_session.execute(
        text(
            "UPDATE tokens SET expires_at = now() AT TIME ZONE 'UTC' - interval '1 second'"
            " WHERE id IN (SELECT token_id FROM web_sessions) AND user_id = :user"
        ),
        {"user": web.user.id},
    )
    db_session.commit()
    # The worker's cached lookup goes with the auth NOTIFY (delivered within milliseconds).
    deadline = time.monotonic() + 5
    while (response := web.get("/ui/sessions")).status_code == 200:
        assert time.monotonic() < deadline, "the expired session still works"
        time.sleep(0.05)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/ui/signin")


def test_a_disabled_users_session_is_thrown_out(web, admin_api):
    assert web.get("/ui/sessions").status_code == 200
    response = admin_api.request("PATCH", f"/api/users/{web.user.id}", json={"disabled": True})
    assert response.status_code == 200, response.text
    assert web.get("/ui/sessions").status_code == 302


def test_a_user_cannot_revoke_another_users_session(web, server, db_session):
    victim = Browser(server.url)
    victim_token = factories.TokenFactory()
    victim.sign_in(victim_token.secret)
    [(victim_session, _)] = session_rows(db_session, victim_token.user.id)
    assert web.post("/ui/sessions", {"id": str(victim_session)}).status_code == 302
    assert len(session_rows(db_session, victim_token.user.id)) == 1
    assert victim.get("/ui/sessions").status_code == 200


def test_the_sessions_page_does_not_revoke_api_tokens(web, db_session):
    token_id = db_session.execute(
        text("SELECT id FROM tokens WHERE secret_hash = :h"),
        {"h": hashlib.sha256(web.token.encode()).hexdigest()},
    ).scalar_one()
    web.post("/ui/sessions", {"id": str(token_id)})
    db_session.expire_all()
    assert (
        db_session.execute(
            text("SELECT count(*) FROM tokens WHERE id = :id"), {"id": token_id}
        ).scalar_one()
        == 1
    )


def test_after_sign_in_only_dashboard_paths_are_followed():
    assert safe_next("/ui/jobs?status=FAILED") == "/ui/jobs?status=FAILED"
    assert safe_next("/ui") == "/ui"
    for outside in (
        "https://evil.example/ui/",
        "//evil.example/ui/",
        "/api/jobs",
        "/uix",
        "/\\evil.example",
        None,
        "",
    ):
        assert safe_next(outside) == "/ui/", outside


def test_the_user_agent_is_shown_escaped(server):
    token = factories.TokenFactory()
    client = Browser(server.url)
    client.http.headers["User-Agent"] = "<script>alert(1)</script>"
    client.sign_in(token.secret)
    page = client.get("/ui/sessions").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_docs_page_links_to_the_dashboard(anon_api):
    page = anon_api.get("/").text
    assert 'href="/ui/"' in page


def test_vendored_files_match_their_recorded_checksums():
    notes = (STATIC / "vendor" / "VENDORED.md").read_text()
    recorded = dict(re.findall(r"\| `([^`]+)` \|[^\n]*?\| `([0-9a-f]{64})` \|", notes))
    files = {p.name for p in (STATIC / "vendor").iterdir() if p.name != "VENDORED.md"}
    assert set(recorded) == files
    for name, digest in recorded.items():
        assert hashlib.sha256((STATIC / "vendor" / name).read_bytes()).hexdigest() == digest, name


def test_static_files_are_served_under_ui_static(anon_browser):
    response = anon_browser.get("/ui/static/vendor/htmx-2.0.11.min.js")
    assert response.status_code == 200
    assert "htmx" in response.text[:2000]
    page = anon_browser.get("/ui/signin").text
    assert "/ui/static/vendor/pico-2.1.1.min.css?v=" in page


def plant_xsrf_cookie(browser: Browser) -> str:
    """An attacker's double-submit pair: a ``_xsrf`` cookie set (say, from a sibling
    subdomain) in the victim's browser, and the same value in the forged form."""
    attacker = Browser(browser.base_url)
    attacker.get("/ui/signin")
    planted = attacker.http.cookies.get("_xsrf")
    browser.http.cookies.set("_xsrf", planted, path="/")
    return planted


def test_a_planted_xsrf_cookie_does_not_pass_for_a_signed_in_browser(web, db_session):
    made = web.post("/ui/submit", {"code": "sleep 60", "execute": "off"})
    job_id = made.headers["Location"].rsplit("/", 1)[1]
    planted = plant_xsrf_cookie(web)
    forged = web.post(f"/ui/jobs/{job_id}/cancel", {"_xsrf": planted}, xsrf=False)
    assert forged.status_code == 403
    forged = web.post("/ui/submit", {"_xsrf": planted, "code": "echo forged"}, xsrf=False)
    assert forged.status_code == 403
    # The page's own token (bound to the session) still works.
    assert web.get(f"/ui/jobs/{job_id}").status_code == 200
    assert web.post(f"/ui/jobs/{job_id}/cancel").status_code == 302
    # Another session's token does not pass either.
    other = Browser(web.base_url)
    other.sign_in(factories.TokenFactory(user=web.user).secret)
    assert (
        web.post("/ui/submit", {"_xsrf": other.xsrf, "code": "echo"}, xsrf=False).status_code == 403
    )


def test_pages_may_not_be_framed(web, anon_browser):
    # Every answer: the dashboard's, the docs page (its "Try it out" takes a
    # token), the API's, 404s of any path and redirects.
    for response in (
        web.get("/ui/jobs"),
        anon_browser.get("/ui/signin"),
        web.get("/ui/jobs/no-such-job"),
        anon_browser.get("/"),
        anon_browser.get("/no/such/path"),
        anon_browser.get("/api/jobs"),
        anon_browser.get("/ui/jobs"),
    ):
        assert response.status_code in (200, 302, 401, 404), response.status_code
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'"


def thrown_out(browser: Browser) -> bool:
    """Whether the browser's session stopped working (the auth NOTIFY within 5 s)."""
    deadline = time.monotonic() + 5
    while browser.get("/ui/sessions").status_code == 200:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_revoking_the_token_a_session_was_made_from_ends_the_session(web, server, db_session):
    other_token = factories.TokenFactory(user=web.user)
    other = Browser(server.url)
    other.sign_in(other_token.secret)
    assert len(session_rows(db_session, web.user.id)) == 2
    # Revoked through the API: its sessions end, the session of the other token stays.
    response = other.http.delete(
        f"{server.url}/api/tokens/{other_token.id}",
        headers={"Authorization": f"token {web.token}"},
        timeout=30,
    )
    assert response.status_code == 200
    assert thrown_out(other)
    assert web.get("/ui/sessions").status_code == 200
    assert len(session_rows(db_session, web.user.id)) == 1
    # Revoked on the tokens page: this browser's own session ends too.
    [source_id] = db_session.execute(
        text("SELECT id FROM tokens WHERE secret_hash = :hash"),
        {"hash": hashlib.sha256(web.token.encode()).hexdigest()},
    ).scalars()
    assert web.post(f"/ui/tokens/{source_id}/revoke").status_code == 302
    assert thrown_out(web)
    assert session_rows(db_session, web.user.id) == []


def test_a_session_expires_no_later_than_its_token(anon_browser, db_session):
    soon = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(hours=1)
    token = factories.TokenFactory(expires_at=soon)
    anon_browser.sign_in(token.secret)
    [(_, expires_at)] = session_rows(db_session, token.user.id)
    assert abs(expires_at - soon) < datetime.timedelta(seconds=1)
    cookie = next(c for c in anon_browser.http.cookies if c.name == "shell_service_session")
    assert abs(cookie.expires - soon.replace(tzinfo=datetime.UTC).timestamp()) < 2


def test_a_session_cannot_be_made_from_a_sessions_secret(web, server, db_session):
    again = Browser(server.url)
    again.get("/ui/signin")
    response = again.post("/ui/signin", {"token": web.session_cookie})
    assert response.status_code == 401
    assert again.session_cookie is None
    assert len(session_rows(db_session, web.user.id)) == 1
