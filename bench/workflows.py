"""The workflows scenario (issue 16): dependencies and job arrays.

- Chain: 100 trivial jobs, each ``afterok`` on the one before, submitted at once;
  seconds from the first submit to the last job's end. Against it, the same 100
  jobs run by a client that submits each and waits for its end (``?wait=30``)
  before the next: the ratio is the client's seconds over the chain's (goal: > 1,
  the service wins). Three rounds of each, interleaved; the medians. Beside it,
  the chain's submit time (one client posting 100 jobs, each naming the one
  before, so one after another) and the median gap from a job's end to the next
  one's start in each (the jobs' own records).
- Array creation: one ``POST /api/jobs`` with ``array`` of 1,000, 10,000 and
  100,000 tasks (executed: queued at once), seconds until its answer (goal: <
  2 s for 100,000); each array is cancelled after.
- Tasks/s: an array of ``burst_jobs`` ``true`` tasks, from its submit to its end,
  against scenario 2's burst (the same number of ``true`` jobs from 16 clients)
  measured in the same run.
- Another user's jobs while an array of 100,000 ``true`` tasks of the bench user
  runs: how long each waits from its submit to its start (``started_at -
  queued_at``), 40 jobs alone and 40 during each array, p50 and max; the array
  in the ``default`` queue (the bench lets a user run 1,100 jobs at once: the
  host's 2 cores are saturated), then in ``capped`` (64 at once per user, the
  shipped ``jobs.max_running_per_user``). The claim ranks that user's first job
  before the array's next task and reads a few tasks at a time; what is left is
  the host's CPU, which the per-user limit shares.
"""

import datetime
import statistics
import time

from .client import latency_summary
from .scenarios import FINISHED, Bench, submit_jobs, utcnow
from .tools import BenchError

CHAIN = 100
ARRAY_SIZES = (1_000, 10_000, 100_000)
OTHERS = 40


def workflows(bench: Bench) -> dict:
    """Every measurement of the module docstring."""
    return {
        "chain": chain_against_client(bench),
        "array_create": array_creation(bench),
        "array_rate": array_against_burst(bench),
        "others": others_during_array(bench),
    }


def wait_ended(client, job_id: str, timeout: float = 600) -> dict:
    """The job once ended (``?wait=30`` until it has)."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/api/jobs/{job_id}?wait=30")
        if response.status != 200:
            raise BenchError(f"GET /api/jobs/{job_id} answered {response.status}")
        if response.data["status"] in FINISHED:
            return response.data
        if time.monotonic() > deadline:
            raise BenchError(f"job {job_id} not ended after {timeout:.0f} s")


def post_job(client, body: dict) -> str:
    response = client.post("/api/jobs", body)
    if response.status != 200:
        raise BenchError(f"POST /api/jobs answered {response.status}: {response.body[:300]!r}")
    return response.data["id"]


def gaps_ms(client, ids: list[str]) -> float:
    """The median milliseconds from one job's end to the next one's start, as the
    jobs' records say."""
    jobs = [client.get(f"/api/jobs/{job_id}").data for job_id in ids]
    stamp = datetime.datetime.fromisoformat
    return statistics.median(
        (stamp(after["started_at"]) - stamp(before["finished_at"])).total_seconds() * 1000
        for before, after in zip(jobs, jobs[1:], strict=False)
    )


def chain_once(bench: Bench) -> tuple[float, float, float]:
    """A chain of CHAIN: seconds from its first submit to its last job's end,
    seconds to submit it all, and the median gap (ms) from a job's end to the
    next one's start."""
    client = bench.client()
    try:
        started = time.perf_counter()
        ids = [post_job(client, {"code": "true", "execute": True})]
        for _ in range(CHAIN - 1):
            body = {"code": "true", "execute": True, "depends_on": f"afterok:{ids[-1]}"}
            ids.append(post_job(client, body))
        submitted = time.perf_counter() - started
        last = wait_ended(client, ids[-1])
        seconds = time.perf_counter() - started
        if last["status"] != "COMPLETE":
            raise BenchError(f"the chain's last job ended {last['status']}")
        return seconds, submitted, gaps_ms(client, ids)
    finally:
        client.close()


def client_once(bench: Bench) -> tuple[float, float]:
    """CHAIN jobs run one after another by a client waiting on each: seconds, and
    the median gap (ms) from a job's end to the next one's start."""
    client = bench.client()
    try:
        started = time.perf_counter()
        ids = []
        for _ in range(CHAIN):
            ids.append(post_job(client, {"code": "true", "execute": True}))
            job = wait_ended(client, ids[-1])
            if job["status"] != "COMPLETE":
                raise BenchError(f"a client-chained job ended {job['status']}")
        return time.perf_counter() - started, gaps_ms(client, ids)
    finally:
        client.close()


def chain_against_client(bench: Bench) -> dict:
    chain, by_client = [], []
    for _ in range(3):
        chain.append(chain_once(bench))
        by_client.append(client_once(bench))
    chain_s = statistics.median(seconds for seconds, _, _ in chain)
    client_s = statistics.median(seconds for seconds, _ in by_client)
    return {
        "jobs": CHAIN,
        "chain_seconds": round(chain_s, 3),
        "chain_submit_seconds": round(statistics.median(s for _, s, _ in chain), 3),
        "client_seconds": round(client_s, 3),
        "client_over_chain": round(client_s / chain_s, 2),
        "chain_gap_ms": round(statistics.median(g for _, _, g in chain), 2),
        "client_gap_ms": round(statistics.median(g for _, g in by_client), 2),
        "rounds": {
            "chain": [round(s, 3) for s, _, _ in chain],
            "client": [round(s, 3) for s, _ in by_client],
        },
    }


def cancel_and_wait(client, job_id: str) -> None:
    response = client.post(f"/api/jobs/{job_id}/cancel")
    if response.status not in (200, 409):
        raise BenchError(f"cancel of {job_id} answered {response.status}")
    wait_ended(client, job_id)


def array_creation(bench: Bench) -> dict:
    client = bench.client()
    results = {}
    try:
        for size in ARRAY_SIZES:
            started = time.perf_counter()
            array_id = post_job(client, {"code": "true", "execute": True, "array": size})
            results[str(size)] = round(time.perf_counter() - started, 4)
            cancel_and_wait(client, array_id)
    finally:
        client.close()
    return {"seconds_to_accept": results}


def array_against_burst(bench: Bench) -> dict:
    count = bench.scale.burst_jobs
    since = utcnow()
    started = time.perf_counter()
    submit_jobs(bench, count, 16, "true")
    ended = bench.wait_until_done(since, timeout=600, interval=0.1)
    burst_seconds = time.perf_counter() - started
    if ended.get("COMPLETE", 0) != count:
        raise BenchError(f"the burst did not all complete: {ended}")
    client = bench.client()
    try:
        started = time.perf_counter()
        array_id = post_job(client, {"code": "true", "execute": True, "array": count})
        job = wait_ended(client, array_id)
        array_seconds = time.perf_counter() - started
    finally:
        client.close()
    if job["status"] != "COMPLETE":
        raise BenchError(f"the array ended {job['status']}: {job['status_message']}")
    return {
        "tasks": count,
        "array_per_second": round(count / array_seconds, 1),
        "burst_per_second": round(count / burst_seconds, 1),
        "array_over_burst": round(burst_seconds / array_seconds, 2),
    }


def start_waits(bench: Bench, token: str) -> dict:
    """Seconds from submit to start of OTHERS jobs of ``token``'s user (``sleep
    0.1``, one every 0.2 s), as their records say."""
    client = bench.client(token)
    try:
        ids = []
        for _ in range(OTHERS):
            ids.append(post_job(client, {"code": "sleep 0.1", "execute": True}))
            time.sleep(0.2)
        jobs = [wait_ended(client, job_id) for job_id in ids]
    finally:
        client.close()
    waits = []
    for job in jobs:
        if job["status"] != "COMPLETE":
            raise BenchError(f"another user's job ended {job['status']}")
        started = datetime.datetime.fromisoformat(job["started_at"])
        waits.append((started - datetime.datetime.fromisoformat(job["queued_at"])).total_seconds())
    return latency_summary(waits)


def others_during_array(bench: Bench) -> dict:
    admin = bench.client()
    try:
        user = admin.post("/api/users", {"username": f"bench_other_{time.time_ns()}"})
        if user.status != 200:
            raise BenchError(f"POST /api/users answered {user.status}")
        token = admin.post("/api/tokens", {"name": "bench other", "user_id": user.data["id"]})
        if token.status != 200:
            raise BenchError(f"POST /api/tokens answered {token.status}")
        other = token.data["token"]
        alone = start_waits(bench, other)
        during, progress = {}, {}
        for queue in ("default", "capped"):
            array = {"code": "true", "execute": True, "array": 100_000, "queue": queue}
            array_id = post_job(admin, array)
            time.sleep(2)  # its first tasks made and running
            during[queue] = start_waits(bench, other)
            progress[queue] = admin.get(f"/api/jobs/{array_id}").data.get("array_tasks")
            cancel_and_wait(admin, array_id)
    finally:
        admin.close()
    return {
        "alone": alone,
        "during_array": during["default"],
        "during_capped_array": during["capped"],
        "array_tasks_when_measured": progress,
    }
