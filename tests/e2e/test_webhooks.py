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
