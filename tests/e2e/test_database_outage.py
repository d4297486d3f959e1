"""The database going away under load (issue 11, section 8): SIGKILL the embedded
PostgreSQL while clients submit and read jobs. While it is away every request that
needs it answers 503 with ``Retry-After`` and the envelope, never another 5xx; once
supervisor has restarted it, requests succeed again by themselves; and every job
whose creation was acknowledged (200) is stored.
"""

import itertools
import os
import signal
import threading
import time
from dataclasses import dataclass, field

import requests

from baselayer.tools.layout import stack_layout

from ..helpers import wait_until

#: Seconds the outage and the recovery may take, each, before the test gives up.
DEADLINE = 90
#: Successful job creations, started after the database is back, that show recovery.
RECOVERED_AFTER = 20


@dataclass
class Load:
    """What the client threads saw: every answer, the jobs acknowledged."""

    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    answers: list[tuple[str, str, int, dict, object]] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)
    #: When each acknowledged creation was sent (time.monotonic()).
    created_at: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def record(self, method: str, path: str, response: requests.Response) -> None:
        try:
            body = response.json()
        except ValueError:
            body = response.text[:200]
        with self.lock:
            self.answers.append((method, path, response.status_code, dict(response.headers), body))

    def count(self, status: int) -> int:
        with self.lock:
            return sum(1 for answer in self.answers if answer[2] == status)


def postmaster_pid(cfg) -> int | None:
    """The embedded postmaster's pid from ``pgdata/postmaster.pid``; None while there is none."""
    try:
        first_line = (stack_layout(cfg).pgdata / "postmaster.pid").read_text()
    except FileNotFoundError:
        return None
    first_line = first_line.splitlines()[0] if first_line else ""
    return int(first_line) if first_line.strip().isdigit() else None


def client_thread(stack: str, token: str, name: str, load: Load) -> None:
    """Create (with execute) and read jobs until ``load.stop``: every answer is recorded."""
    http = requests.Session()
    http.headers["Authorization"] = f"token {token}"
    last = None
    for n in itertools.count():
        if load.stop.is_set():
            return
        job_id = f"outage_{name}_{n}_{time.time_ns()}"
        calls = [("POST", "/api/jobs", {"id": job_id, "code": "true", "execute": True})]
        if last:
            calls += [("GET", f"/api/jobs/{last}", None), ("GET", f"/api/jobs/{last}?wait=1", None)]
        calls.append(("GET", "/api/jobs?limit=5", None))
        if n % 5 == 0:
            calls += [("GET", "/api/sysinfo", None), ("GET", "/metrics", None)]
            if last:
                calls.append(("GET", f"/api/jobs/{last}/events", None))
        for method, path, body in calls:
            started = time.monotonic()
            try:
                response = http.request(method, stack + path, json=body, timeout=30)
            except requests.RequestException as exc:
                with load.lock:
                    load.errors.append(f"{method} {path}: {exc}")
                continue
            load.record(method, path, response)
            if method == "POST" and response.status_code == 200:
                with load.lock:
                    load.acknowledged.append(job_id)
                    load.created_at.append(started)
                last = job_id
        time.sleep(0.01)  # pacing: a steady load that leaves the 2 cores some room


def created_since(load: Load, moment: float) -> int:
    with load.lock:
        return sum(1 for started in load.created_at if started > moment)


def test_sigkill_of_postgres_under_load_answers_503_and_loses_no_acknowledged_job(
    cfg, stack, stack_user, supervisorctl
):
    load = Load()
    threads = [
        threading.Thread(target=client_thread, args=(stack, stack_user.token, str(i), load))
        for i in range(3)
    ]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(load.acknowledged) >= 20, "jobs created before the kill", DEADLINE)
        old_pid = wait_until(lambda: postmaster_pid(cfg), "a postmaster.pid", DEADLINE)
        os.kill(old_pid, signal.SIGKILL)
        killed_at = time.monotonic()

        # Supervisor starts a new postmaster (its pid file names it) ...
        wait_until(
            lambda: (
                postmaster_pid(cfg) not in (None, old_pid)
                and "RUNNING" in supervisorctl("status", "postgres").stdout
            ),
            "supervisor restarting postgres",
            DEADLINE,
        )
        back_at = time.monotonic()
        # ... and the app workers use it again without being restarted.
        wait_until(
            lambda: created_since(load, back_at) >= RECOVERED_AFTER,
            "job creation succeeding again after the restart",
            DEADLINE,
        )
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(60)

    statuses = {}
    for method, path, status, _, _ in load.answers:
        statuses.setdefault(status, []).append(f"{method} {path}")
    summary = {status: len(calls) for status, calls in statuses.items()}
    assert killed_at < back_at
    bad = {
        status: calls[:5]
        for status, calls in statuses.items()
        if status >= 500 and status != 503 or status not in (200, 503)
    }
    assert not bad, f"answers other than 200 and 503: {bad} (all: {summary})"
    assert not load.errors, load.errors[:5]
    unavailable = [answer for answer in load.answers if answer[2] == 503]
    assert unavailable, f"no 503 seen: the outage was not exercised ({summary})"
    for method, path, _, headers, body in unavailable:
        assert int(headers.get("Retry-After", "0")) > 0, (method, path, headers)
        assert isinstance(body, dict), (method, path, body)
        assert body["status"] == "error" and body["message"] and body["data"] == {}, body
        assert "version" in body, body

    # Every acknowledged job is stored, and was queued with it (created with execute).
    missing = []
    for job_id in load.acknowledged:
        response = stack_user.get(f"/api/jobs/{job_id}")
        if response.status_code != 200 or response.json()["data"]["status"] == "READY":
            missing.append((job_id, response.status_code, response.text[:200]))
    assert not missing, f"{len(missing)} acknowledged jobs lost or not queued: {missing[:5]}"
