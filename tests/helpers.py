"""Small helpers shared by tests."""

import os
import pwd
import time
import uuid

from shell_service.job_states import FINISHED


def wait_until(predicate, what: str, timeout: float = 30, interval: float = 0.05):
    """Poll ``predicate()`` until it returns a true value (returned); fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(interval)


class Gate:
    """A point a job's script waits at until the test opens it, instead of a sleep
    that guesses how long the test needs: put ``gate.code`` in the script, and call
    ``gate.open()`` once the test has seen what it waits for.

    The mark is a file in the home of the job's Unix account (uid ``uid_base`` + the
    API user's id, made by the executor before the user's first job), which the
    job's user can read and the tests, as root, can write."""

    def __init__(self, uid_base: int, user_id: int):
        self.uid = int(uid_base) + user_id
        self.name = f".gate_{uuid.uuid4().hex}"
        self.code = f'until [ -e "$HOME/{self.name}" ]; do sleep 0.02; done'
        self.opened = False

    def open(self, timeout: float = 30) -> None:
        """Let the job go on (its account may still be in the making: waits for it).
        Again: nothing more happens."""
        if self.opened:
            return

        def home():
            try:
                return pwd.getpwuid(self.uid).pw_dir
            except KeyError:
                return None

        home = wait_until(home, f"the Unix account of uid {self.uid}", timeout)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        wait_until(lambda: os.path.isdir(home), f"the home {home}", timeout)
        os.close(os.open(os.path.join(home, self.name), flags, 0o644))
        self.opened = True

    def release(self) -> None:
        """Open the gate if the test did not (it failed first), so no job waits at it
        for ever: jobs outlive the stack."""
        try:
            self.open(timeout=5)
        except (AssertionError, OSError):
            pass  # no job of that user ever started


def wait_for_job(client, job_id: str, timeout: float = 30, statuses=FINISHED) -> dict:
    """Poll a job until its status is one of ``statuses``; returns the job."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/jobs/{job_id}").json()["data"]
        if job["status"] in statuses:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s")
        time.sleep(0.05)


def create_job(client, code: str, **fields) -> str:
    response = client.post("/api/jobs", json={"code": code, **fields})
    assert response.status_code == 200, response.text
    return response.json()["data"]["id"]


def run_job(client, code: str, wait: float = 30, **fields) -> dict:
    """Create, execute and wait up to ``wait`` seconds for a job; returns it finished.

    ``fields`` are the job's options (``timeout`` among them)."""
    job_id = create_job(client, code, **fields)
    response = client.post(f"/api/jobs/{job_id}/execute")
    assert response.status_code == 200, response.text
    return wait_for_job(client, job_id, wait)


def claim_limits(
    *,
    per_user: int = 10**6,
    max_running: int = 10**6,
    memory_budget_mb: int = 10**9,
    batch: int = 1000,
    host: str = "elsewhere",
    queues=None,
) -> dict:
    """Keyword arguments of ``queue.claim_jobs`` for a claim from another host
    (``host``), by default without limits: the queue "default" with ``per_user``,
    and ``host``'s own slots and memory."""
    from shell_service.queues import Queue

    default = Queue(
        name="default",
        description="",
        executor="local",
        hosts=(),
        max_running=None,
        max_running_per_user=per_user,
        memory_budget_mb=None,
        defaults={},
        maxima={},
    )
    return {
        "host": host,
        "queues": queues or [default],
        "max_running": max_running,
        "memory_budget_mb": memory_budget_mb,
        "batch": batch,
    }
