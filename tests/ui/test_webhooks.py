"""The dashboard's webhooks: the list, the form (the API's 400s beside their fields, a
refused target beside the URL, a generated secret shown once), a webhook's page with
its deliveries, "Send a test", changes, enable/disable and delete; through the API's
own checks (someone else's webhook is a 404 page), XSRF on every form."""

import html
import re

import pytest
import requests
from sqlalchemy import text

from baselayer.app.database import database_url
from baselayer.app.plain_sql import PlainSQL
from shell_service.handlers.ui.webhooks import (
    DELIVERIES_PAGE,
    change_body,
    delivery_outcome,
    field_errors,
    form_of,
)
from shell_service.webhooks.deliverer import Deliverer

from ..helpers import wait_until
from ..webhook_receiver import Receiver
from .conftest import Browser

SECRET = re.compile(r'id="token-secret" value="([^"]+)"')
EVIL = "<script>alert('x')</script>\"'"
#: A URL the SSRF guard lets through (the tests' config allows 127.0.0.1/32) that
#: holds quotes and a script.
EVIL_URL = "http://127.0.0.1:9/h?q=\"x'<script>alert(1)</script>"


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def deliverer(cfg, server):
    deliverer = Deliverer(cfg, PlainSQL(database_url(cfg), "ui_webhook_tests"))
    deliverer.make_deliveries()  # past every event of earlier tests
    yield deliverer
    deliverer.close()


@pytest.fixture
def admin_web(server, admin_token):
    client = Browser(server.url)
    client.sign_in(admin_token.secret)
    client.user = admin_token.user
    return client


def api_webhook(server, token, **fields) -> dict:
    """A webhook made through the API with ``token``."""
    response = requests.post(
        f"{server.url}/api/webhooks",
        json={"url": "http://127.0.0.1:9/hook", **fields},
        headers={"Authorization": f"token {token.secret}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def stored(db_session, webhook_id: int):
    db_session.expire_all()
    return db_session.execute(
        text(
            "SELECT url, events, enabled, secret, queue, schedule_id, description "
            "FROM webhooks WHERE id = :id"
        ),
        {"id": webhook_id},
    ).one_or_none()


def webhooks_of(db_session, user_id: int) -> list:
    db_session.expire_all()
    return db_session.execute(
        text("SELECT id, url FROM webhooks WHERE owner_id = :id ORDER BY id"), {"id": user_id}
    ).all()


def make(web, **fields):
    """POST the new-webhook form (``events`` a list)."""
    data = {"url": "http://127.0.0.1:9/hook", "events": ["finished"], "enabled": "on", **fields}
    return web.post("/ui/webhooks", data)


def made_id(response) -> int:
    """The new webhook's id from the create's answer (the secret page or a redirect)."""
    if response.status_code == 302:
        return int(re.search(r"/ui/webhooks/(\d+)", response.headers["Location"]).group(1))
    assert response.status_code == 200, response.text
    return int(re.search(r'id="webhook-made">(\d+)<', response.text).group(1))


# ---- making one -------------------------------------------------------------------


def test_a_generated_secret_is_shown_once_on_the_create_s_answer_only(web, db_session):
    page = web.get("/ui/webhooks")
    assert page.status_code == 200 and 'id="nav-webhooks"' in page.text
    assert 'id="no-webhooks"' in page.text
    made = make(web, events=["failed", "timed_out"], description="pager")
    assert made.status_code == 200, made.text
    assert made.headers["Cache-Control"] == "no-store"
    secret = SECRET.search(made.text).group(1)
    webhook_id = made_id(made)
    row = stored(db_session, webhook_id)
    assert row.secret == secret and len(secret) >= 40
    assert row.events == ["failed", "timed_out"] and row.enabled is True
    assert row.description == "pager"
    assert f'data-back="/ui/webhooks/{webhook_id}"' in made.text
    assert "only time it is shown" in made.text
    # Never again: not on the list, the webhook's page or its deliveries.
    for path in ("/ui/webhooks", f"/ui/webhooks/{webhook_id}"):
        again = web.get(path)
        assert again.status_code == 200 and secret not in again.text
    listed = web.get("/ui/webhooks").text
    assert f'data-webhook="{webhook_id}"' in listed and "failed, timed_out" in listed


def test_a_secret_the_user_gave_is_never_written_into_a_page(web, db_session):
    mine = "my-own-secret-0123456789"
    made = make(web, secret=mine)
    assert made.status_code == 302
    assert made.headers["Location"].endswith("?notice=created")
    webhook_id = made_id(made)
    assert stored(db_session, webhook_id).secret == mine
    page = web.get(made.headers["Location"])
    assert page.status_code == 200 and mine not in page.text
    assert "with the secret you gave" in page.text
    # Refused for another field: the form comes back without it.
    refused = make(web, secret=mine, queue="no-such-queue")
    assert refused.status_code == 400 and mine not in refused.text
    assert 'id="field-secret" value=""' in refused.text


def test_a_refused_target_is_shown_beside_the_url_and_the_values_are_kept(web, db_session):
    for url, reason in (
        ("http://10.1.2.3/hook", "refused: 10.1.2.3 is private"),
        ("http://169.254.169.254/latest/meta-data/", "refused: 169.254.169.254 is link-local"),
        ("ftp://example.org/x", "http"),
    ):
        page = make(
            web, url=url, events=["started", "failed"], description="kept text", secret="x" * 20
        )
        assert page.status_code == 400, url
        error = re.search(r'<small class="error" id="error-url">([^<]*)</small>', page.text)
        assert error and reason in html.unescape(error.group(1)), (url, page.text)
        assert 'aria-invalid="true" aria-describedby="error-url"' in page.text
        assert f'value="{html.escape(url)}"' in page.text
        assert 'value="kept text"' in page.text
        assert re.search(r'id="field-events-started"\s+checked', page.text)
        assert re.search(r'id="field-events-failed"\s+checked', page.text)
        assert not re.search(r'id="field-events-finished"\s+checked', page.text)
        assert "x" * 20 not in page.text
    assert webhooks_of(db_session, web.user.id) == []


def test_the_api_s_400s_are_beside_their_fields(web, db_session):
    page = make(web, events=[], schedule_id="abc", queue="nope", secret="short")
    assert page.status_code == 400
    for field in ("events", "schedule_id", "secret"):
        assert f'id="error-{field}"' in page.text, field
    # The schema's errors come first; the queue's check then names its field.
    page = make(web, queue="nope")
    assert page.status_code == 400
    assert "no queue is called" in html.unescape(
        re.search(r'id="error-queue">([^<]*)<', page.text).group(1)
    )
    page = make(web, definition="no_such_definition_here")
    assert page.status_code == 400 and 'id="error-definition"' in page.text
    page = make(web, schedule_id="999999999")
    assert page.status_code == 400
    assert "you have no schedule 999999999" in page.text
    assert webhooks_of(db_session, web.user.id) == []


def test_past_the_most_per_user_the_api_s_409_is_above_the_form(web, cfg, db_session):
    most = cfg["webhooks"]["max_per_user"]
    for _ in range(most):
        assert make(web).status_code == 200
    page = make(web, description="one too many")
    assert page.status_code == 409
    message = re.search(r'id="form-message">([^<]*)<', page.text)[1]
    assert html.unescape(message) == f"You have {most} webhooks already (webhooks.max_per_user)"
    assert 'value="one too many"' in page.text
    assert len(webhooks_of(db_session, web.user.id)) == most


def test_a_url_holding_quotes_and_a_script_is_escaped_everywhere(web, db_session):
    made = make(web, url=EVIL_URL, description=EVIL, array=EVIL[:100])
    assert made.status_code == 200, made.text
    webhook_id = made_id(made)
    assert stored(db_session, webhook_id).url == EVIL_URL
    for page in (made, web.get("/ui/webhooks"), web.get(f"/ui/webhooks/{webhook_id}")):
        assert page.status_code == 200
        assert "<script>alert" not in page.text
        assert html.escape(EVIL_URL) in page.text
    page = web.get(f"/ui/webhooks/{webhook_id}")
    assert html.escape(EVIL) in page.text  # the description
    # In the change form the URL is an attribute's value, escaped.
    assert f'id="field-url" value="{html.escape(EVIL_URL)}"' in page.text


# ---- who sees what ------------------------------------------------------------------


def test_another_user_s_webhook_is_a_404_page_for_every_page_and_action(
    web, server, db_session, user_token
):
    theirs = api_webhook(server, user_token, description="theirs")
    assert theirs["owner_id"] != web.user.id
    before = stored(db_session, theirs["id"])
    for path in (f"/ui/webhooks/{theirs['id']}", f"/ui/webhooks/{theirs['id']}/deliveries"):
        page = web.get(path)
        assert page.status_code == 404, path
        assert "<html" in page.text and "theirs" not in page.text
        assert f"No webhook with id '{theirs['id']}'" in html.unescape(page.text)
    for action in ("enable", "disable", "test", "delete"):
        assert web.post(f"/ui/webhooks/{theirs['id']}/{action}").status_code == 404, action
    changed = web.post(
        f"/ui/webhooks/{theirs['id']}", {"url": "http://127.0.0.1:9/stolen", "events": "failed"}
    )
    assert changed.status_code == 404
    assert stored(db_session, theirs["id"]) == before
    assert (
        db_session.execute(
            text("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = :id"),
            {"id": theirs["id"]},
        ).scalar_one()
        == 0
    )
    assert f'data-webhook="{theirs["id"]}"' not in web.get("/ui/webhooks").text
    # A missing one and a non-number: the same page.
    assert web.get("/ui/webhooks/999999999").status_code == 404
    assert web.get("/ui/webhooks/01").status_code == 404


def test_an_admin_sees_everyone_s_webhooks_with_their_owner(admin_web, server, user_token):
    theirs = api_webhook(server, user_token)
    # Oldest first, as the API lists them: earlier tests' webhooks come before, a
    # page of LIST_PAGE at a time.
    path, row = "/ui/webhooks", None
    while row is None:
        listed = admin_web.get(path)
        assert listed.status_code == 200
        row = re.search(rf'<tr data-webhook="{theirs["id"]}">(.*?)</tr>', listed.text, re.S)
        if row is None:
            path = html.unescape(re.search(r'href="([^"]+)" id="next-page"', listed.text)[1])
    assert f'<td class="owner">{user_token.user.username}</td>' in row.group(1)
    page = admin_web.get(f"/ui/webhooks/{theirs['id']}")
    assert page.status_code == 200 and "you see it as an admin" in page.text


def test_without_a_session_the_pages_go_to_sign_in(anon_browser):
    response = anon_browser.get("/ui/webhooks")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/ui/signin?next=")


def test_every_form_needs_the_xsrf_token(web, db_session):
    webhook_id = made_id(make(web))
    before = stored(db_session, webhook_id)
    assert web.post("/ui/webhooks", {"url": "http://127.0.0.1:9/x"}, xsrf=False).status_code == 403
    for action in ("disable", "test", "delete"):
        response = web.post(f"/ui/webhooks/{webhook_id}/{action}", xsrf=False)
        assert response.status_code == 403, action
    changed = web.post(
        f"/ui/webhooks/{webhook_id}",
        {"url": "http://127.0.0.1:9/x", "events": "failed"},
        xsrf=False,
    )
    assert changed.status_code == 403
    assert stored(db_session, webhook_id) == before
    assert len(webhooks_of(db_session, web.user.id)) == 1
    assert (
        db_session.execute(
            text("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = :id"),
            {"id": webhook_id},
        ).scalar_one()
        == 0
    )


# ---- a webhook's page -----------------------------------------------------------------


def test_send_a_test_shows_its_delivery_and_attempt(web, deliverer, receiver, db_session):
    webhook_id = made_id(make(web, url=receiver.url))
    page = web.get(f"/ui/webhooks/{webhook_id}")
    assert 'id="no-deliveries"' in page.text
    sent = web.post(f"/ui/webhooks/{webhook_id}/test", {"next": f"/ui/webhooks/{webhook_id}"})
    assert sent.status_code == 302
    assert sent.headers["Location"] == f"/ui/webhooks/{webhook_id}?notice=tested"
    pending = web.get(sent.headers["Location"])
    assert "Test ping queued" in pending.text
    assert re.search(r'class="delivery-event">ping<', pending.text)
    assert 'class="delivery-status delivery-pending">pending<' in pending.text

    def delivered():
        deliverer.run_once()
        return (
            len(receiver.received) == 1
            and "delivery-delivered" in web.get(f"/ui/webhooks/{webhook_id}").text
        )

    wait_until(delivered, "the ping's delivery", timeout=20)
    page = web.get(f"/ui/webhooks/{webhook_id}").text
    assert re.search(r'class="attempt-number">#1<', page)
    assert re.search(r'class="attempt-code">200<', page)
    listed = web.get("/ui/webhooks").text
    row = re.search(rf'<tr data-webhook="{webhook_id}">(.*?)</tr>', listed, re.S).group(1)
    assert "delivered (HTTP 200)" in row


def test_the_deliveries_are_paged_newest_first_and_refresh_only_when_changed(web, db_session):
    webhook_id = made_id(make(web))
    for _ in range(DELIVERIES_PAGE + 3):
        assert web.post(f"/ui/webhooks/{webhook_id}/test").status_code == 302
    ids = [
        row[0]
        for row in db_session.execute(
            text("SELECT id FROM webhook_deliveries WHERE webhook_id = :id ORDER BY id DESC"),
            {"id": webhook_id},
        ).all()
    ]
    first = web.get(f"/ui/webhooks/{webhook_id}").text
    shown = [int(i) for i in re.findall(r'data-delivery="(\d+)"', first)]
    assert shown == ids[:DELIVERIES_PAGE]
    older = re.search(r'href="([^"]+)" id="deliveries-older"', first).group(1)
    second = web.get(html.unescape(older)).text
    assert [int(i) for i in re.findall(r'data-delivery="(\d+)"', second)] == ids[DELIVERIES_PAGE:]
    assert 'id="deliveries-older"' not in second and 'id="deliveries-newer"' in second
    assert "hx-trigger" not in second.split('id="deliveries"')[1].split(">")[0]
    # The first page's refresh: 204 while unchanged, the section once a delivery is added.
    refresh = html.unescape(re.search(r'<section id="deliveries"[^>]* hx-get="([^"]+)"', first)[1])
    again = web.get(refresh)
    assert again.status_code == 204
    web.post(f"/ui/webhooks/{webhook_id}/test")
    changed = web.get(refresh)
    assert changed.status_code == 200 and changed.text.lstrip().startswith("<section")
    assert int(re.search(r'data-delivery="(\d+)"', changed.text)[1]) > ids[0]
    # The state filter, checked as the API checks it.
    assert 'id="no-deliveries"' in web.get(f"/ui/webhooks/{webhook_id}?status=failed").text
    assert web.get(f"/ui/webhooks/{webhook_id}?status=bogus").status_code == 400


def test_disable_enable_and_delete(web, db_session):
    webhook_id = made_id(make(web))
    here = f"/ui/webhooks/{webhook_id}"
    page = web.get(here).text
    assert f'id="disable-{webhook_id}"' in page and "return confirm(" in page
    off = web.post(f"{here}/disable", {"next": "/ui/webhooks"})
    assert off.headers["Location"] == "/ui/webhooks?notice=disabled"
    assert stored(db_session, webhook_id).enabled is False
    assert f'id="enable-{webhook_id}"' in web.get(here).text
    on = web.post(f"{here}/enable", {"next": "https://evil.example/"})
    assert on.headers["Location"] == f"{here}?notice=enabled"  # never another site
    assert stored(db_session, webhook_id).enabled is True
    gone = web.post(f"{here}/delete")
    assert gone.headers["Location"] == "/ui/webhooks?notice=deleted"
    assert stored(db_session, webhook_id) is None
    assert web.get(here).status_code == 404
    assert "Webhook deleted" in web.get(gone.headers["Location"]).text


def test_the_change_form_saves_only_what_changed_and_shows_its_400s(web, db_session):
    made = make(web, events=["finished"], queue="default", description="before")
    webhook_id = made_id(made)
    secret = stored(db_session, webhook_id).secret
    here = f"/ui/webhooks/{webhook_id}"
    page = web.get(here).text
    assert re.search(r"<option\s+selected>default</option>", page)
    form = {
        "url": "http://127.0.0.1:9/other",
        "events": ["started", "failed"],
        "queue": "",
        "description": "after",
        "definition": "",
        "schedule_id": "",
        "array": "",
    }
    saved = web.post(here, form)
    assert saved.status_code == 302 and saved.headers["Location"] == f"{here}?notice=changed"
    row = stored(db_session, webhook_id)
    assert row.url == "http://127.0.0.1:9/other" and row.events == ["started", "failed"]
    assert row.queue is None and row.description == "after" and row.secret == secret
    # Nothing changed: the API's 400, above the form.
    same = web.post(here, form)
    assert same.status_code == 400 and "nothing to change" in same.text
    # A refused target beside the URL; the stored webhook unchanged; the typed values kept.
    refused = web.post(here, {**form, "url": "http://192.168.1.1/x", "description": EVIL})
    assert refused.status_code == 400
    assert "refused: 192.168.1.1 is private" in html.unescape(
        re.search(r'id="error-url">([^<]*)<', refused.text)[1]
    )
    assert html.escape(EVIL) in refused.text and "<script>alert" not in refused.text
    assert stored(db_session, webhook_id).description == "after"
    # A new secret replaces the stored one and is never shown.
    rotated = web.post(here, {**form, "secret": "a-brand-new-secret-123"})
    assert rotated.status_code == 302
    assert stored(db_session, webhook_id).secret == "a-brand-new-secret-123"
    assert "a-brand-new-secret-123" not in web.get(here).text
    short = web.post(here, {**form, "secret": "short"})
    assert short.status_code == 400 and 'id="error-secret"' in short.text


# ---- the form's pieces ---------------------------------------------------------------


def test_change_body_sends_what_differs_and_keeps_a_definition_typed_as_stored():
    row = {
        "url": "http://127.0.0.1:9/a",
        "events": ["finished"],
        "definition_name": "nightly",
        "schedule_id": 4,
        "queue": "default",
        "array_id": None,
        "description": None,
    }
    form = {**form_of(row)}
    assert change_body(form, "", row) == {}
    assert change_body({**form, "definition_owner": "bob"}, "", row) == {
        "definition": "nightly",
        "definition_owner": "bob",
    }
    assert change_body(
        {**form, "definition": "", "schedule_id": "", "queue": "", "events": ["failed"]}, "", row
    ) == {"definition": None, "schedule_id": None, "queue": None, "events": ["failed"]}
    assert change_body({**form, "schedule_id": "7", "array": "a1"}, "s" * 16, row) == {
        "schedule_id": 7,
        "array": "a1",
        "secret": "s" * 16,
    }


def test_field_errors_put_a_list_s_item_errors_under_its_field():
    assert field_errors({"events": {1: ["Must be one of: started."]}, "url": ["bad"]}) == {
        "events": ["Must be one of: started."],
        "url": ["bad"],
    }


def test_delivery_outcome_in_words():
    base = {"last_status_code": None, "last_error": None, "attempts": 0}
    assert delivery_outcome(None) == "none yet"
    assert delivery_outcome({**base, "status": "pending"}) == "pending"
    assert (
        delivery_outcome({**base, "status": "delivered", "last_status_code": 204, "attempts": 1})
        == "delivered (HTTP 204)"
    )
    assert (
        delivery_outcome({**base, "status": "failed", "last_error": "HTTP 404", "attempts": 1})
        == "failed: HTTP 404"
    )
    assert (
        delivery_outcome({**base, "status": "pending", "last_error": "HTTP 500", "attempts": 2})
        == "pending (2 attempts, last: HTTP 500)"
    )
