"""Webhooks through the API, delivered by a deliverer driven by the test (the
same ``Deliverer`` the services/webhooks program runs, on the in-process
database): one signed POST per event, filters, retries, giving up, who sees
what, and exactly one delivery series per event whatever number of deliverers."""

import datetime
import hashlib
import hmac
import threading
import time
import uuid

import orjson
import pytest

from baselayer.app.database import database_url
from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL
from shell_service.queue import webhooks as statements
from shell_service.webhooks import payload
from shell_service.webhooks.deliverer import Deliverer

from ..helpers import create_job, run_job, wait_for_job, wait_until
from ..webhook_receiver import Receiver


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def new_deliverer(cfg) -> Deliverer:
    return Deliverer(cfg, PlainSQL(database_url(cfg), "webhook_tests"))


@pytest.fixture
def deliverer(cfg, server):
    deliverer = new_deliverer(cfg)
    deliverer.make_deliveries()  # past every event of earlier tests
    yield deliverer
    deliverer.close()


def create(client, url, expect=200, **fields) -> dict:
    response = client.post("/api/webhooks", json={"url": url, **fields})
    assert response.status_code == expect, response.text
    return response.json()


def deliveries(client, webhook_id, **query) -> list[dict]:
    response = client.get(f"/api/webhooks/{webhook_id}/deliveries", params=query)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def deliver_until(deliverer, predicate, what, timeout=15):
    """Run the deliverer's passes until ``predicate()`` holds."""

    def step():
        deliverer.run_once()
        return predicate()

    wait_until(step, what, timeout=timeout, interval=0.05)


def settled(client, webhook_id, count=1):
    """Whether ``count`` deliveries exist and none is pending."""
    found = deliveries(client, webhook_id)
    return len(found) == count and all(d["status"] != "pending" for d in found)


def test_a_job_s_end_is_one_signed_post(api, deliverer, receiver):
    created = create(api, receiver.url, events=["finished"], description="ci")["data"]
    secret = created["secret"]
    assert len(secret) >= 40
    shown = api.get(f"/api/webhooks/{created['id']}").json()["data"]
    assert "secret" not in shown and shown["url"] == receiver.url
    job = run_job(api, "echo out; echo err >&2", env={"GREETING": "hi"})
    assert job["status"] == "COMPLETE"
    deliver_until(deliverer, lambda: settled(api, created["id"]), "the delivery")
    deliverer.run_once()  # nothing more to send
    (request,) = receiver.received
    body = request.body
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert request.headers["x-shell-service-signature"] == f"sha256={expected}"
    assert payload.verify(secret, body, request.headers["x-shell-service-signature"])
    assert not payload.verify(
        "another secret!!", body, request.headers["x-shell-service-signature"]
    )
    assert request.headers["x-shell-service-event"] == "finished"
    assert request.headers["content-type"] == "application/json"
    document = orjson.loads(body)
    assert request.headers["x-shell-service-delivery"] == str(document["delivery_id"])
    assert document["event"] == "finished" and document["status"] == "COMPLETE"
    assert document["job_id"] == job["id"] and document["job"]["id"] == job["id"]
    assert document["job"]["env"] == {"GREETING": "hi"}
    assert "stdout" not in document["job"] and "stderr" not in document["job"]
    assert "secret_env" not in document["job"]
    assert document["links"]["job"].endswith(f"/api/jobs/{job['id']}")
    assert document["links"]["log"].endswith(f"/api/jobs/{job['id']}/log")
    (delivery,) = deliveries(api, created["id"])
    assert delivery["status"] == "delivered" and delivery["attempt_count"] == 1
    assert delivery["job_id"] == job["id"] and delivery["event"] == "finished"
    (attempt,) = delivery["attempts"]
    assert attempt["status_code"] == 200 and attempt["error"] is None
    assert attempt["duration_ms"] >= 0 and attempt["next_retry_at"] is None


def test_events_choose(api, deliverer, receiver):
    failed_only = create(api, receiver.url, events=["failed", "timed_out"])["data"]
    started = create(api, receiver.url, events=["started"])["data"]
    both = create(api, receiver.url, events=["finished", "failed"])["data"]
    ok = run_job(api, "true")
    bad = run_job(api, "exit 3")
    deliver_until(deliverer, lambda: settled(api, started["id"], 2), "the starts")
    deliver_until(deliverer, lambda: settled(api, both["id"], 2), "the ends")
    deliver_until(deliverer, lambda: settled(api, failed_only["id"], 1), "the failure")
    (failure,) = deliveries(api, failed_only["id"])
    assert (failure["job_id"], failure["event"]) == (bad["id"], "failed")
    assert sorted(d["job_id"] for d in deliveries(api, started["id"])) == sorted(
        [ok["id"], bad["id"]]
    )
    assert {d["event"] for d in deliveries(api, started["id"])} == {"started"}
    # One job event, one delivery: named by its own end when asked for, else finished.
    by_job = {d["job_id"]: d["event"] for d in deliveries(api, both["id"])}
    assert by_job == {ok["id"]: "finished", bad["id"]: "failed"}


def test_queue_and_definition_filters_choose(api, deliverer, receiver):
    name = f"wh_{uuid.uuid4().hex[:8]}"
    response = api.post("/api/definitions", json={"name": name, "code": "true"})
    assert response.status_code == 200, response.text
    by_definition = create(api, receiver.url, definition=name)["data"]
    assert by_definition["filters"]["definition"] == name
    by_queue = create(api, receiver.url, queue="hostb", events=["cancelled"])["data"]
    run = api.post(f"/api/definitions/{name}/run", json={}).json()["data"]
    from_definition = wait_for_job(api, run["id"])
    plain = run_job(api, "true")
    # A job of queue hostb (no in-process executor serves it), cancelled while queued.
    waiting = create_job(api, "true", queue="hostb", execute=True)
    assert api.post(f"/api/jobs/{waiting}/cancel").status_code == 200
    deliver_until(deliverer, lambda: settled(api, by_definition["id"]), "the definition's run")
    deliver_until(deliverer, lambda: settled(api, by_queue["id"]), "the hostb job's cancel")
    deliverer.run_once()
    assert [d["job_id"] for d in deliveries(api, by_definition["id"])] == [from_definition["id"]]
    assert [d["job_id"] for d in deliveries(api, by_queue["id"])] == [waiting]
    assert plain["id"] not in {r.body.decode() for r in receiver.received}
    # Filters that match no definition or queue are refused, naming the field.
    for field, value in (("definition", "no_such_definition"), ("queue", "nope")):
        error = create(api, receiver.url, expect=400, **{field: value})
        assert field in error["message"]
    error = create(api, receiver.url, expect=400, schedule_id=999999)
    assert "schedule_id" in error["data"]["errors"]


def test_500s_are_retried_with_back_off_then_delivered(api, deliverer):
    receiver = Receiver(statuses=[500, 502, 200])
    try:
        hook = create(api, receiver.url)["data"]
        run_job(api, "true")
        deliver_until(deliverer, lambda: settled(api, hook["id"]), "the third attempt")
        (delivery,) = deliveries(api, hook["id"])
        assert delivery["status"] == "delivered" and delivery["attempt_count"] == 3
        codes = [a["status_code"] for a in delivery["attempts"]]
        assert codes == [500, 502, 200]
        first, second, _ = delivery["attempts"]
        assert first["next_retry_at"] and second["next_retry_at"]
        assert "HTTP 500" in first["error"]
        # Back-off: 0.2 s, then 0.4 s (tests/config.test.yaml's webhooks.retry).
        gaps = [b.at - a.at for a, b in zip(receiver.received, receiver.received[1:], strict=False)]
        assert gaps[0] >= 0.2 - 0.02 and gaps[1] >= 0.4 - 0.02, gaps
        assert len({r.body for r in receiver.received}) == 1  # the same bytes each time
        assert len({r.headers["x-shell-service-delivery"] for r in receiver.received}) == 1
    finally:
        receiver.close()


def test_retries_stop_after_give_up_after_and_say_so(api, deliverer, cfg):
    receiver = Receiver(statuses=[503])
    try:
        hook = create(api, receiver.url)["data"]
        run_job(api, "true")
        started = time.monotonic()
        give_up = cfg["webhooks"]["retry"]["give_up_after"]
        deliver_until(
            deliverer, lambda: settled(api, hook["id"]), "giving up", timeout=give_up + 10
        )
        (delivery,) = deliveries(api, hook["id"])
        assert delivery["status"] == "failed"
        assert "gave up after" in delivery["last_error"]
        assert delivery["attempt_count"] == len(receiver.received) >= 3
        assert time.monotonic() - started <= give_up + 5
        last = delivery["attempts"][-1]
        assert last["next_retry_at"] is None and last["status_code"] == 503
    finally:
        receiver.close()


def test_a_404_is_not_retried(api, deliverer):
    receiver = Receiver(statuses=[404])
    try:
        hook = create(api, receiver.url)["data"]
        run_job(api, "true")
        deliver_until(deliverer, lambda: settled(api, hook["id"]), "the failed attempt")
        time.sleep(0.5)
        deliverer.run_once()
        (delivery,) = deliveries(api, hook["id"])
        assert delivery["status"] == "failed" and delivery["attempt_count"] == 1
        assert len(receiver.received) == 1
        assert delivery["last_status_code"] == 404
    finally:
        receiver.close()


def test_a_ping_and_a_disabled_webhook(api, deliverer, receiver):
    hook = create(api, receiver.url, enabled=False)["data"]
    run_job(api, "true")
    deliverer.run_once()
    assert deliveries(api, hook["id"]) == [] and receiver.received == []
    ping = api.post(f"/api/webhooks/{hook['id']}/test")
    assert ping.status_code == 200, ping.text
    assert ping.json()["data"]["event"] == "ping"
    deliver_until(deliverer, lambda: settled(api, hook["id"]), "the ping")
    (request,) = receiver.received
    assert request.headers["x-shell-service-event"] == "ping"
    assert orjson.loads(request.body)["job"] is None


def test_others_webhooks_answer_404_and_an_admin_sees_all(api, admin_api, server, receiver):
    from .. import factories

    other = factories.TokenFactory()
    from ..conftest import Client

    other_api = Client(server.url, other.secret)
    mine = create(api, receiver.url)["data"]
    theirs = create(other_api, receiver.url)["data"]
    for method, path, body in (
        ("GET", "", None),
        ("PATCH", "", {"enabled": False}),
        ("DELETE", "", None),
        ("GET", "/deliveries", None),
        ("POST", "/test", None),
    ):
        response = api.request(method, f"/api/webhooks/{theirs['id']}{path}", json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["status"] == "error"
    assert other_api.get(f"/api/webhooks/{theirs['id']}").json()["data"]["enabled"] is True
    listed = [w["id"] for w in api.get("/api/webhooks").json()["data"]]
    assert mine["id"] in listed and theirs["id"] not in listed
    everyone = [
        w["id"] for w in admin_api.get("/api/webhooks", params={"limit": 1000}).json()["data"]
    ]
    assert {mine["id"], theirs["id"]} <= set(everyone)
    assert admin_api.get(f"/api/webhooks/{theirs['id']}").status_code == 200
    assert api.get("/api/webhooks/abc").status_code == 404
    assert api.get("/api/webhooks/99999999999999").status_code == 404


def test_patch_and_delete(api, receiver):
    hook = create(api, receiver.url)["data"]
    changed = api.request(
        "PATCH",
        f"/api/webhooks/{hook['id']}",
        json={"events": ["failed"], "queue": "hostb", "description": "x", "secret": "s" * 20},
    )
    assert changed.status_code == 200, changed.text
    data = changed.json()["data"]
    assert data["events"] == ["failed"] and data["filters"]["queue"] == "hostb"
    assert "secret" not in data
    cleared = api.request("PATCH", f"/api/webhooks/{hook['id']}", json={"queue": None})
    assert cleared.json()["data"]["filters"]["queue"] is None
    assert api.request("PATCH", f"/api/webhooks/{hook['id']}", json={}).status_code == 400
    assert api.delete(f"/api/webhooks/{hook['id']}").status_code == 200
    assert api.get(f"/api/webhooks/{hook['id']}").status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.2/",
        "http://10.0.0.1/",
        "http://192.168.1.1:8080/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fd00::1]/",
        "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1, which the tests allow
        "http://[2002:a9fe:a9fe::]/",  # 6to4 of 169.254.169.254
        "http://2130706434/",  # 127.0.0.2
        "http://0x7f.2/",
        "http://0251.0376.0251.0376/",  # 169.254.169.254 in octal
        "ftp://example.org/",
        "http://user:pw@example.org/",
    ],
)
def test_targets_refused_at_create(api, url):
    response = api.post("/api/webhooks", json={"url": url})
    assert response.status_code == 400, response.text
    assert "url" in response.json()["data"]["errors"]


@pytest.mark.parametrize("patch", [False, True])
def test_a_url_over_2048_characters_is_one_plain_message(api, receiver, patch):
    url = "https://example.org/" + "x" * 2100
    if patch:
        hook = api.post("/api/webhooks", json={"url": receiver.url}).json()["data"]["id"]
        response = api.request("PATCH", f"/api/webhooks/{hook}", json={"url": url})
        api.delete(f"/api/webhooks/{hook}")
    else:
        response = api.post("/api/webhooks", json={"url": url})
    assert response.status_code == 400
    said = "must be 1 to 2048 characters long"
    assert response.json()["data"]["errors"] == {"url": [said]}
    assert response.json()["message"] == f"Invalid request body: url: {said}"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"url": 5},
        {"url": "https://example.org/", "events": []},
        {"url": "https://example.org/", "events": ["exploded"]},
        {"url": "https://example.org/", "events": ["failed", "failed"]},
        {"url": "https://example.org/", "secret": "short"},
        {"url": "https://example.org/", "enabled": "yes"},
        {"url": "https://example.org/", "schedule_id": 2**40},
        {"url": "https://example.org/\u0000"},
    ],
)
def test_bad_bodies_are_400(api, body):
    response = api.post("/api/webhooks", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["status"] == "error"


def test_a_user_s_webhooks_are_limited(api, cfg):
    most = cfg["webhooks"]["max_per_user"]
    for _ in range(most):
        create(api, "https://example.org/")
    assert create(api, "https://example.org/", expect=409)["status"] == "error"


def test_a_host_that_rebinds_after_create_is_refused_at_delivery(api, cfg, monkeypatch):
    import socket

    real = socket.getaddrinfo
    answer = {"address": "93.184.215.14"}

    def resolver(host, port, *args, **kwargs):
        if host == "rebind.example.org":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer["address"], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    hook = create(api, "http://rebind.example.org/hook")["data"]  # public now
    answer["address"] = "10.9.8.7"
    deliverer = Deliverer(cfg, PlainSQL(database_url(cfg), "webhook_tests"), resolver=resolver)
    try:
        deliverer.make_deliveries()
        assert api.post(f"/api/webhooks/{hook['id']}/test").status_code == 200
        deliver_until(deliverer, lambda: settled(api, hook["id"]), "the refused attempt")
        (delivery,) = deliveries(api, hook["id"])
        assert delivery["status"] == "failed" and delivery["attempt_count"] == 1
        assert "refused" in delivery["last_error"] and "10.9.8.7" in delivery["last_error"]
    finally:
        deliverer.close()


def test_two_deliverers_make_one_delivery_per_event(api, cfg, deliverer, receiver):
    hook = create(api, receiver.url, events=["started", "finished"])["data"]
    jobs = [run_job(api, f"exit {i % 2}") for i in range(4)]
    racers = [new_deliverer(cfg) for _ in range(2)]
    try:
        # Both read the same events at once, several times, and once more from
        # an earlier cursor (a restart from an old position, or a late commit).
        barrier = threading.Barrier(2)

        def race(one):
            barrier.wait()
            for _ in range(5):
                one.make_deliveries()

        threads = [threading.Thread(target=race, args=(one,)) for one in racers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        sql = racers[0].sql
        sql.rows("UPDATE webhook_cursor SET last_event_id = last_event_id - 50 RETURNING 1")
        racers[1].make_deliveries()
        made = deliveries(api, hook["id"], limit=100)
        assert len(made) == 2 * len(jobs)  # a start and an end each
        pairs = [(d["job_id"], d["event"]) for d in made]
        assert len(set(pairs)) == len(pairs)
        # Both sending at once: each delivery goes out once.
        sends = [threading.Thread(target=one.run_once) for one in racers]
        for thread in sends:
            thread.start()
        for thread in sends:
            thread.join(30)
        deliver_until(deliverer, lambda: settled(api, hook["id"], 8), "every delivery")
        ids = [r.headers["x-shell-service-delivery"] for r in receiver.received]
        assert sorted(ids) == sorted(str(d["id"]) for d in made)
    finally:
        for one in racers:
            one.close()


def test_a_deliverer_killed_mid_way_loses_and_doubles_nothing(api, cfg, deliverer, receiver):
    hook = create(api, receiver.url)["data"]
    first = run_job(api, "true")
    deliverer.make_deliveries()
    # It took the delivery (to send it) and died before any record.
    taken = statements.claim_deliveries(deliverer.sql, 100, hold=60)
    (taken,) = [d for d in taken if d["webhook_id"] == hook["id"]]
    assert taken["job_id"] == first["id"]
    deliverer.close()
    # Meanwhile a job ends with no deliverer running.
    second = run_job(api, "true")
    restarted = new_deliverer(cfg)
    try:
        restarted.run_once()
        # The new event is delivered; the taken one waits out its hold.
        assert [orjson.loads(r.body)["job_id"] for r in receiver.received] == [second["id"]]
        restarted.sql.rows(
            "UPDATE webhook_deliveries SET locked_until = '2000-01-01' "
            "WHERE id = %(id)s RETURNING id",
            {"id": taken["id"]},
        )
        deliver_until(restarted, lambda: settled(api, hook["id"], 2), "both deliveries")
        restarted.run_once()
        got = [orjson.loads(r.body)["job_id"] for r in receiver.received]
        assert got == [second["id"], first["id"]]
        assert all(d["attempt_count"] == 1 for d in deliveries(api, hook["id"]))
    finally:
        restarted.close()


def test_the_back_off_schedule(cfg):
    deliverer = new_deliverer(cfg)
    try:
        deliverer.initial, deliverer.factor, deliverer.max_interval = 10, 2, 60
        deliverer.give_up_after = 3600
        now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)

        def delay(attempts, retry_after=None):
            due = deliverer.next_attempt(attempts, now, retry_after)
            return None if due is None else round((due - now).total_seconds())

        assert [delay(n) for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 60, 60]
        assert delay(1, retry_after=30) == 30  # Retry-After honoured
        assert delay(1, retry_after=5000) == 60  # within max_interval
        assert delay(3, retry_after=1) == 40  # never sooner than the back-off
        deliverer.give_up_after = 25
        assert delay(2) == 20 and delay(3) is None
    finally:
        deliverer.close()


def test_a_webhook_fires_for_the_jobs_its_owner_may_see(api, admin_api, server, deliverer):
    from .. import factories
    from ..conftest import Client

    other = Client(server.url, factories.TokenFactory().secret)
    receiver = Receiver()
    try:
        mine = create(api, receiver.url)["data"]
        admins = create(admin_api, receiver.url)["data"]
        try:
            theirs = run_job(other, "true")
            own = run_job(api, "true")
            deliver_until(deliverer, lambda: settled(admin_api, admins["id"], 2), "the admin's")
            deliver_until(deliverer, lambda: settled(api, mine["id"], 1), "the user's")
            assert [d["job_id"] for d in deliveries(api, mine["id"])] == [own["id"]]
            got = {d["job_id"] for d in deliveries(admin_api, admins["id"])}
            assert got == {theirs["id"], own["id"]}
        finally:
            admin_api.delete(f"/api/webhooks/{admins['id']}")
    finally:
        receiver.close()


def test_an_adoption_is_not_a_start(api, deliverer, receiver):
    hook = create(api, receiver.url, events=["started"])["data"]
    job = run_job(api, "true")
    # An executor that adopts a running job records RUNNING -> RUNNING.
    deliverer.sql.rows(
        "INSERT INTO job_events (job_id, from_status, to_status, detail, created_at, modified) "
        "VALUES (%(id)s, 'RUNNING', 'RUNNING', 'adopted', %(now)s, %(now)s) RETURNING id",
        {"id": job["id"], "now": utcnow()},
    )
    deliver_until(deliverer, lambda: settled(api, hook["id"], 1), "the start")
    deliverer.run_once()
    assert len(deliveries(api, hook["id"])) == 1


def test_receivers_that_hang_hold_their_owners_share_of_the_slots_only(
    api, server, deliverer, receiver
):
    """One user's webhooks to a receiver that never answers must not delay another
    user's deliveries: each slot is refilled as its attempt ends, and no user's
    webhooks hold more than half the slots."""
    from ..conftest import Client
    from ..factories import TokenFactory

    hostile = [Client(server.url, TokenFactory().secret) for _ in range(2)]
    let_go = threading.Event()
    hanging = Receiver(hold=let_go)
    try:
        # Two users' webhooks, more than every slot, to a receiver that hangs.
        theirs = [
            (client, create(client, f"{hanging.url}/{n}", events=["finished"])["data"]["id"])
            for client in hostile
            for n in range(5)
        ]
        assert len(theirs) > deliverer.concurrency
        mine = create(api, receiver.url, events=["finished"])["data"]["id"]
        for client in hostile:
            run_job(client, "true")  # their deliveries are due first
        run_job(api, "true")
        sending = threading.Thread(target=deliverer.run_once)
        sending.start()
        wait_until(lambda: receiver.received, "the other user's delivery", timeout=30)
        # It came while the hanging receiver still held every attempt it got, and
        # those held no more than their owner's share of the slots.
        assert not let_go.is_set()
        assert 1 <= len(hanging.received) <= 2 * deliverer.per_owner()
        assert all(not deliveries(client, w)[0]["attempts"] for client, w in theirs)
        let_go.set()
        sending.join(60)
        wait_until(lambda: settled(api, mine), "my delivery recorded")
    finally:
        let_go.set()
        hanging.close()


def test_a_failed_attempt_keeps_the_status_not_the_receivers_text(api, deliverer):
    """With webhooks.allow_networks, the receiver's reply would let a user read what
    an internal service answers: only its status is recorded."""
    talking = Receiver(statuses=(404,))
    try:
        created = create(api, talking.url, events=["finished"])["data"]
        run_job(api, "true")
        deliver_until(deliverer, lambda: settled(api, created["id"]), "the delivery")
        (attempt,) = deliveries(api, created["id"])[0]["attempts"]
        assert attempt["error"] == "HTTP 404" and attempt["status_code"] == 404
    finally:
        talking.close()


@pytest.mark.parametrize("webhook_id", ["01", "+1", "0", "-1"])
def test_only_canonical_webhook_ids_name_a_webhook(api, receiver, webhook_id):
    create(api, receiver.url)
    assert api.get(f"/api/webhooks/{webhook_id}").status_code == 404


def test_definition_owner_without_a_definition_is_a_400(api, receiver):
    body = create(api, receiver.url, expect=400, definition_owner="someone")
    assert "definition_owner" in body["data"]["errors"]


def test_an_array_filter_matches_the_array_job_and_its_tasks(api, deliverer, receiver):
    array = create_job(api, "true", execute=True, array=3)
    by_array = create(api, receiver.url, array=array, events=["completed"])["data"]
    # Made after the webhook: the array's events before it are not delivered.
    again = api.post(f"/api/jobs/{array}/rerun").json()["data"]["id"]
    other = create(api, receiver.url, array=again, events=["completed"])["data"]
    wait_for_job(api, again)
    plain = run_job(api, "true")
    deliver_until(deliverer, lambda: settled(api, other["id"], 4), "the rerun array's ends")
    delivered = sorted(d["job_id"] for d in deliveries(api, other["id"]))
    assert delivered == sorted([again, *(f"{again}:{n}" for n in range(3))])
    assert plain["id"] not in delivered
    assert all(d["job_id"] != again for d in deliveries(api, by_array["id"]))


def test_a_retried_attempts_end_is_no_end_event_each_start_is(api, deliverer, receiver):
    ends = create(api, receiver.url, events=["finished", "failed"])["data"]
    starts = create(api, receiver.url, events=["started"])["data"]
    code = '[ "$SHELL_SERVICE_ATTEMPT" -ge 3 ] || exit 75'
    job = run_job(api, code, retry={"attempts": 3})
    assert (job["status"], job["attempt"]) == ("COMPLETE", 3)
    deliver_until(deliverer, lambda: settled(api, starts["id"], 3), "each attempt's start")
    deliver_until(deliverer, lambda: settled(api, ends["id"], 1), "the job's end")
    deliverer.run_once()
    (end,) = deliveries(api, ends["id"])
    assert (end["job_id"], end["event"]) == (job["id"], "finished")
