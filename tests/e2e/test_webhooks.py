"""The stack's webhook deliverer (services/webhooks/, supervised): a job's end
reaches a receiver in the test, signed; stopped while jobs end and started
again, it delivers each of them once."""

import orjson

from shell_service.webhooks import payload

from ..helpers import run_job, wait_until
from ..webhook_receiver import Receiver


def delivered(client, webhook_id, count):
    found = client.get(f"/api/webhooks/{webhook_id}/deliveries").json()["data"]
    return len(found) == count and all(d["status"] == "delivered" for d in found)


def test_the_stack_delivers_a_job_s_end_signed(stack_user):
    receiver = Receiver()
    try:
        hook = stack_user.post("/api/webhooks", json={"url": receiver.url}).json()["data"]
        job = run_job(stack_user, "exit 2")
        wait_until(lambda: delivered(stack_user, hook["id"], 1), "the delivery", timeout=30)
        (request,) = receiver.received
        assert payload.verify(
            hook["secret"], request.body, request.headers["x-shell-service-signature"]
        )
        document = orjson.loads(request.body)
        assert (document["event"], document["job_id"], document["status"]) == (
            "finished",
            job["id"],
            "FAILED",
        )
        assert document["job"]["return_code"] == 2
    finally:
        receiver.close()


def test_a_restarted_deliverer_delivers_each_event_once(stack_user, supervisorctl):
    receiver = Receiver()
    try:
        hook = stack_user.post("/api/webhooks", json={"url": receiver.url}).json()["data"]
        first = run_job(stack_user, "true")
        wait_until(lambda: delivered(stack_user, hook["id"], 1), "the first delivery", timeout=30)
        assert "stopped" in supervisorctl("stop", "webhooks").stdout
        try:
            missed = [run_job(stack_user, "true") for _ in range(2)]
        finally:
            assert "started" in supervisorctl("start", "webhooks").stdout
        wait_until(lambda: delivered(stack_user, hook["id"], 3), "every delivery", timeout=30)
        got = sorted(orjson.loads(r.body)["job_id"] for r in receiver.received)
        assert got == sorted([first["id"], *(job["id"] for job in missed)])
    finally:
        receiver.close()


def test_the_cli_creates_lists_shows_deliveries_pings_and_removes(stack, stack_user, tmp_path):
    from .test_cli import Cli

    cli = Cli(stack, stack_user.token, tmp_path)
    receiver = Receiver()
    try:
        made = cli("webhook", "create", receiver.url, "--event", "failed", "--queue", "default")
        assert made.returncode == 0, made.stderr
        first, second = made.stdout.splitlines()
        webhook_id = first.split()[2].rstrip(":")
        secret = second.removeprefix("secret: ")
        assert len(secret) >= 40 and "not shown again" in made.stderr
        listed = cli("webhook", "ls")
        assert webhook_id in listed.stdout and "queue=default" in listed.stdout
        run_job(stack_user, "exit 1")
        wait_until(lambda: delivered(stack_user, int(webhook_id), 1), "the delivery", timeout=30)
        (request,) = receiver.received
        assert payload.verify(secret, request.body, request.headers["x-shell-service-signature"])
        shown = cli("webhook", "deliveries", webhook_id)
        assert shown.returncode == 0 and "failed" in shown.stdout and "#1" in shown.stdout
        assert "200" in shown.stdout
        pinged = cli("webhook", "test", webhook_id)
        assert pinged.returncode == 0 and "ping queued" in pinged.stdout
        wait_until(lambda: len(receiver.received) == 2, "the ping", timeout=30)
        assert cli("webhook", "rm", webhook_id).returncode == 0
        gone = cli("webhook", "deliveries", webhook_id)
        assert gone.returncode != 0 and "No webhook" in gone.stderr
    finally:
        receiver.close()
