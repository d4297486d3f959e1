"""Issue 5's scenarios and their ceilings: each runs against the bench stack (or
starts what it measures) and returns its figures as a dict."""

import contextlib
import datetime
import json
import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from baselayer.app.config import Config
from baselayer.tools.layout import StackLayout

from . import claim_depth
from .client import ApiClient, latency_summary, run_in_clients
from .fill_jobs import fill
from .http_ceiling.server import http_ceiling
from .isolated_launch import isolated_launch
from .launch_ceiling import launch_rate
from .memory import PeakRss, rss_now, service_pids
from .peer_webhook import webhook_server
from .profile import Recorder, summarize
from .second_host import HOST_NAME, SecondHost
from .tools import BenchError, run_wrk


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


FINISHED = {"COMPLETE", "FAILED", "TIMED_OUT", "CANCELLED", "SERVER_ERROR"}
UNFINISHED = ("QUEUED", "RUNNING")
#: The body of scenario 1 and of the HTTP ceiling: the same bytes on the wire.
SUBMIT_BODY = json.dumps({"code": "true"})

#: Where the ceilings listen (the bench stack has 5070, 65200+, 64200).
CEILING_PORT = 5071
WEBHOOK_PORT = 5072

#: A job printing 2 GB; past jobs.max_log_bytes the file refuses more and it is dropped.
PRINT_2GB = """
import os
chunk = b"x" * 2**20
for _ in range(2048):
    try:
        os.write(1, chunk)
    except OSError:
        pass
"""


@dataclass
class Scale:
    """How big the scenarios are: the issue's sizes by default, smaller with --quick."""

    seconds: float = 10  # each wrk run
    launches: int = 1500  # bare launches per directory
    burst_jobs: int = 1000
    round_trips: int = 200
    history_jobs: int = 1_000_000
    history_requests: int = 200
    many_jobs: int = 1000
    many_sleep: int = 30
    depth_levels: tuple = (0, 100_000, 1_000_000)  # jobs waiting while the claim is timed
    depth_claims: int = 200
    drain_jobs: int = 10_000

    @classmethod
    def quick(cls) -> "Scale":
        return cls(5, 300, 200, 40, 50_000, 40, 100, 5, (0, 10_000, 100_000), 50, 1000)


@dataclass
class Bench:
    """The bench stack and what the scenarios share."""

    cfg: Config
    layout: StackLayout
    url: str
    token: str
    jobs_dir: Path
    scale: Scale = field(default_factory=Scale)
    profile_dir: Path | None = None
    #: "wall": where the event loop's time goes, waits on PostgreSQL included;
    #: "gil": only samples holding the GIL, close to CPU time.
    profile_mode: str = "wall"
    profiles: dict = field(default_factory=dict)

    def client(self, token: str | None = None) -> ApiClient:
        return ApiClient(self.url, token or self.token)

    def service_pids(self) -> dict[str, int]:
        return service_pids(self.layout)

    @contextlib.contextmanager
    def profiled(self, name: str):
        """py-spy on every app worker and the executor during the block, when profiling is on."""
        if self.profile_dir is None:
            yield
            return
        recorder = Recorder(
            list(self.service_pids().values()),
            self.profile_dir,
            f"{name}_{self.profile_mode}",
            gil_only=self.profile_mode == "gil",
        )
        started = time.perf_counter()
        try:
            yield
        finally:
            files = recorder.stop()
            summary = summarize(files)
            summary["seconds"] = round(time.perf_counter() - started, 1)
            summary["mode"] = self.profile_mode
            summary["files"] = [str(path) for path in files]
            self.profiles[name] = summary

    def wait_until_done(
        self, since: datetime.datetime, timeout: float, interval: float = 0.05, on_poll=None
    ) -> dict:
        """Poll /api/sysinfo until no job is queued or running (those two counts are
        exact there); then how the jobs created since ``since`` ended, per state.
        ``on_poll(counts)`` sees every poll."""
        deadline = time.monotonic() + timeout
        client = self.client()
        try:
            while True:
                response = client.get("/api/sysinfo")
                counts = response.data["jobs_by_status"] if response.status == 200 else None
                if counts is not None:
                    if on_poll:
                        on_poll(counts)
                    if not any(counts.get(s, 0) for s in UNFINISHED):
                        return self.outcomes(client, since)
                if time.monotonic() > deadline:
                    raise BenchError(f"jobs not done after {timeout:.0f} s: {counts}")
                time.sleep(interval)
        finally:
            client.close()

    @staticmethod
    def outcomes(client: ApiClient, since: datetime.datetime) -> dict[str, int]:
        """Jobs created since ``since`` per finished state (the list's counts; the
        per-state counts in /api/sysinfo are recounted only once a minute)."""
        outcomes = {}
        for state in sorted(FINISHED):
            path = f"/api/jobs?limit=1&status={state}&created_after={since.isoformat()}"
            response = client.get(path)
            if response.status != 200:
                raise BenchError(f"GET {path} answered {response.status}")
            if response.json()["total"]:
                outcomes[state] = response.json()["total"]
        return outcomes


def submit_jobs(
    bench: Bench, count: int, clients: int, code: str, token: str | None = None, **options
) -> list[str]:
    """Create and queue ``count`` jobs of ``code`` from ``clients`` connections (as
    the user of ``token``; default the bench's admin)."""
    body = {"code": code, "execute": True, **options}

    def submit(client: ApiClient, _):
        response = client.post("/api/jobs", body)
        if response.status != 200:
            raise BenchError(f"POST /api/jobs answered {response.status}: {response.body[:300]!r}")
        return response.data["id"]

    return run_in_clients(count, clients, lambda: bench.client(token), submit)


# ---- ceilings and the peer ----------------------------------------------------
def launch_ceilings(bench: Bench) -> dict:
    """Bare ``sh -c true`` launches per second, files in tmpfs and in the jobs directory;
    and the executor's isolated launch (launcher, job init, namespaces, cgroups, rlimits),
    no DB or HTTP."""
    count = bench.scale.launches
    return {
        "tmpfs": launch_rate(Path("/dev/shm"), count),
        "jobs_dir": launch_rate(bench.jobs_dir, count),
        "isolated": isolated_launch(bench.jobs_dir, count),
    }


def post_flood(bench: Bench, url: str, seconds: float) -> dict:
    """wrk: scenario 1's POST /api/jobs from 64 connections to ``url`` (the stack or
    the HTTP ceiling) for ``seconds``."""
    return run_wrk(
        f"{url}/api/jobs",
        connections=64,
        seconds=seconds,
        method="POST",
        body=SUBMIT_BODY,
        token=bench.token,
    )


def http_ceiling_rate(bench: Bench) -> dict:
    """POST /api/jobs to minimal Tornado workers behind the same NGINX, 64 connections."""
    with http_ceiling(bench.cfg, CEILING_PORT) as url:
        result = post_flood(bench, url, bench.scale.seconds)
    if result["non_2xx"] or result["socket_errors"]:
        raise BenchError(f"the HTTP ceiling answered errors: {result['errors']}")
    return result


def webhook_rate(bench: Bench) -> dict:
    """webhook running ``sh -c true`` per request: jobs/s from 16 clients, as in scenario 2."""
    count = bench.scale.burst_jobs
    run_dir = bench.layout.run_dir / "webhook"
    with webhook_server(run_dir, bench.layout.log_dir, WEBHOOK_PORT) as url:
        parts = urlsplit(url)

        def call(client: ApiClient, _):
            response = client.post(parts.path, {"code": "true"})
            if response.status != 200:
                raise BenchError(f"webhook answered {response.status}: {response.body[:200]!r}")

        started = time.perf_counter()
        run_in_clients(count, 16, lambda: ApiClient(f"http://{parts.netloc}"), call)
        seconds = time.perf_counter() - started
    return {
        "jobs": count,
        "clients": 16,
        "seconds": round(seconds, 2),
        "per_second": count / seconds,
    }


# ---- the scenarios ---------------------------------------------------------------
def submit_rate(bench: Bench, rounds: int = 5) -> dict:
    """Scenario 1: POST /api/jobs (READY) from 64 connections through NGINX, in
    ``rounds`` rounds, each right after a run of the HTTP ceiling: on a shared
    machine the ceiling drifts by a third within minutes, so each round's ratio
    compares two runs seconds apart, and the median ratio is the result."""
    seconds = max(1, round(bench.scale.seconds / 2))  # wrk takes whole seconds
    results = []
    with http_ceiling(bench.cfg, CEILING_PORT) as ceiling_url:
        for round_ in range(rounds):
            ceiling = post_flood(bench, ceiling_url, seconds)
            # With --profile, the last round is profiled.
            last = round_ == rounds - 1
            with bench.profiled("scenario_1") if last else contextlib.nullcontext():
                submit = post_flood(bench, bench.url, seconds)
            # wrk stops with requests still queued in the workers: let them
            # finish before the next run (and the next scenario counts jobs).
            time.sleep(2)
            results.append(
                {
                    "ceiling_per_second": ceiling["per_second"],
                    "per_second": submit["per_second"],
                    "p99_ms": submit["p99_ms"],
                    "non_2xx": submit["non_2xx"],
                    "ratio": submit["per_second"] / ceiling["per_second"],
                }
            )
    summary = {
        "rounds": results,
        "seconds_per_run": seconds,
        "ratio": statistics.median(r["ratio"] for r in results),
        "per_second": statistics.median(r["per_second"] for r in results),
        "ceiling_per_second": statistics.median(r["ceiling_per_second"] for r in results),
        "p99_ms": statistics.median(r["p99_ms"] for r in results),
        "command": submit["command"],
    }
    if non_2xx := sum(r["non_2xx"] for r in results):
        summary["warning"] = f"{non_2xx} responses were not 2xx"
    return summary


def burst(bench: Bench) -> dict:
    """Scenario 2: ``count`` true jobs created with execute from 16 clients, until all end.

    Also the peak RSS of every app worker and the executor meanwhile (scenario 6).
    """
    count = bench.scale.burst_jobs
    since = utcnow()
    with PeakRss(bench.service_pids()) as rss, bench.profiled("scenario_2"):
        started = time.perf_counter()
        submit_jobs(bench, count, 16, "true")
        submitted = time.perf_counter() - started
        # Polls are requests too: every 0.1 s costs the app workers little, and the
        # end is seen within 0.1 s of a run of many seconds.
        ended = bench.wait_until_done(since, timeout=600, interval=0.1)
        seconds = time.perf_counter() - started
    return {
        "jobs": count,
        "clients": 16,
        "seconds": round(seconds, 2),
        "per_second": count / seconds,
        "submitted_per_second": count / submitted,
        "ended": ended,
        "all_complete": ended.get("COMPLETE", 0) == count,
        "rss": rss.summary(),
    }


def round_trip(bench: Bench) -> dict:
    """Scenario 3: one client submits ``echo hello``, waits for its end (``?wait=30``:
    the answer comes when the job ends), reads stdout."""
    client = bench.client()
    seconds, polls, bad = [], [], []
    with bench.profiled("scenario_3"):
        for _ in range(bench.scale.round_trips):
            started = time.perf_counter()
            response = client.post("/api/jobs", {"code": "echo hello", "execute": True})
            if response.status != 200:
                raise BenchError(f"POST /api/jobs answered {response.status}")
            job_id = response.data["id"]
            n = 0
            while True:
                # The service answers as soon as the job ends (no polling).
                n += 1
                job = client.get(f"/api/jobs/{job_id}?wait=30").data
                if job["status"] in FINISHED:
                    break
            seconds.append(time.perf_counter() - started)
            polls.append(n)
            if job["status"] != "COMPLETE" or job.get("stdout") != "hello\n":
                bad.append({"id": job_id, "status": job["status"], "stdout": job.get("stdout")})
    client.close()
    return {
        **latency_summary(seconds),
        "mean_polls": round(sum(polls) / len(polls), 1),
        "not_complete_or_wrong_stdout": len(bad),
        "examples_of_bad": bad[:3],
    }


def big_output(bench: Bench) -> dict:
    """Scenario 6, last part: app worker and executor RSS while a job prints 2 GB."""
    client = bench.client()
    with PeakRss(bench.service_pids()) as rss:
        started = time.perf_counter()
        response = client.post(
            "/api/jobs", {"code": PRINT_2GB, "shell": "python3", "execute": True}
        )
        if response.status != 200:
            raise BenchError(f"POST /api/jobs answered {response.status}: {response.body[:300]!r}")
        job_id = response.data["id"]
        deadline = time.monotonic() + 300
        while (job := client.get(f"/api/jobs/{job_id}").data)["status"] not in FINISHED:
            if time.monotonic() > deadline:
                raise BenchError(f"the 2 GB job is still {job['status']} after 300 s")
            time.sleep(0.2)
        seconds = time.perf_counter() - started
    client.close()
    return {
        "status": job["status"],
        "stdout_truncated": job.get("stdout_truncated"),
        "seconds": round(seconds, 1),
        "rss": rss.summary(),
    }


def idle_rss(bench: Bench) -> dict:
    """Scenario 6, first part: the RSS of every app worker and the executor before any load."""
    rss = rss_now(bench.service_pids())
    return {"rss_mb": rss, "max_mb": max(rss.values(), default=0.0)}


def many_at_once(bench: Bench, api_clients: int = 4, pause: float = 0.1) -> dict:
    """Scenario 5: ``count`` sleep jobs at once; API latency from a few clients meanwhile."""
    count, sleep = bench.scale.many_jobs, bench.scale.many_sleep
    paths = ["/api/jobs?limit=10", "/api/sysinfo"]
    # (when it was sent, seconds after the start; how long it took)
    latencies: dict[str, list[tuple[float, float]]] = {path: [] for path in paths}
    errors: dict[str, int] = dict.fromkeys(paths, 0)
    stop = threading.Event()

    def api_user(path: str) -> None:
        client = bench.client()
        while not stop.is_set():
            sent = time.perf_counter() - started
            try:
                response = client.get(path)
            except OSError:
                errors[path] += 1
                continue
            if response.status == 200:
                latencies[path].append((sent, response.seconds))
            else:
                errors[path] += 1
            stop.wait(pause)
        client.close()

    running = {"peak": 0, "all_running_after": None}

    def watch(counts):
        running["peak"] = max(running["peak"], counts.get("RUNNING", 0))
        if running["all_running_after"] is None and counts.get("RUNNING", 0) >= count:
            running["all_running_after"] = round(time.perf_counter() - started, 1)

    since = utcnow()
    users = [
        threading.Thread(target=api_user, args=(paths[i % len(paths)],), daemon=True)
        for i in range(api_clients)
    ]
    with PeakRss(bench.service_pids(), interval=0.5) as rss, bench.profiled("scenario_5"):
        started = time.perf_counter()
        for user in users:
            user.start()
        try:
            submit_jobs(bench, count, 16, f"sleep {sleep}")
            submitted = time.perf_counter() - started
            ended = bench.wait_until_done(since, timeout=sleep + 300, interval=0.5, on_poll=watch)
            seconds = time.perf_counter() - started
        finally:
            stop.set()
            for user in users:
                user.join()
    everything = [x for values in latencies.values() for x in values]
    all_running = running["all_running_after"] or seconds
    # Where in the run the slow answers were: while the 1,000 POSTs arrive, while
    # the executor starts the last of them, and while all sleep (and end).
    phases = {
        "submitting": (0, submitted),
        "starting": (submitted, all_running),
        "running": (all_running, seconds),
    }
    return {
        "jobs": count,
        "sleep": sleep,
        "seconds": round(seconds, 1),
        "submitted_after": round(submitted, 1),
        "peak_running": running["peak"],
        "all_running_after": running["all_running_after"],
        "ended": ended,
        "all_complete": ended.get("COMPLETE", 0) == count,
        "api": {
            path: latency_summary([took for _, took in values])
            for path, values in latencies.items()
        },
        "api_all": latency_summary([took for _, took in everything]),
        # The goal's window: from the last submission's answer to the end, while
        # the jobs start and run. Before it, 16 clients submit as fast as they can,
        # which is scenario 1's load (reported, not judged).
        "api_while_running": latency_summary(
            [took for sent, took in everything if sent >= submitted]
        ),
        "api_by_phase": {
            phase: latency_summary([took for sent, took in everything if start <= sent < end])
            for phase, (start, end) in phases.items()
        },
        "api_errors": errors,
        "rss": rss.summary(),
    }


def history(bench: Bench) -> dict:
    """Scenario 4: list latency with ``history_jobs`` ended jobs in the table."""
    filled = fill(bench.cfg, bench.scale.history_jobs)
    admin = bench.client()
    response = admin.post(
        "/api/tokens", {"name": "bench history", "user_id": filled["user_ids"][0]}
    )
    if response.status != 200:
        raise BenchError(f"POST /api/tokens answered {response.status}: {response.body[:300]!r}")
    user = bench.client(response.data["token"])
    queries = {
        "admin: /api/jobs?limit=100": (admin, "/api/jobs?limit=100"),
        "admin: /api/jobs?limit=100&status=COMPLETE": (
            admin,
            "/api/jobs?limit=100&status=COMPLETE",
        ),
        "user: /api/jobs?limit=100": (user, "/api/jobs?limit=100"),
        "user: /api/jobs?limit=100&status=COMPLETE": (user, "/api/jobs?limit=100&status=COMPLETE"),
    }
    results = {}
    with bench.profiled("scenario_4"):
        for name, (client, path) in queries.items():
            results[name] = time_requests(client, path, bench.scale.history_requests)
        # Not a goal of the issue, but every health check pays it.
        results["admin: /api/sysinfo"] = time_requests(admin, "/api/sysinfo", 20)
    admin.close()
    user.close()
    measured = [
        r["p99_ms"] for name, r in results.items() if "/api/jobs" in name and r["supported"]
    ]
    return {
        "fill": filled,
        "queries": results,
        "p99_ms": max(measured) if measured else None,
        "status_filter_supported": all(
            r["supported"] for name, r in results.items() if "status=" in name
        ),
    }


def time_requests(client: ApiClient, path: str, count: int, warm_up: int = 5) -> dict:
    """Latency of ``count`` sequential GETs of ``path``; ``supported`` False on a 400."""
    first = client.get(path)
    if first.status == 400:
        return {"supported": False, "message": first.json().get("message", "")}
    if first.status != 200:
        raise BenchError(f"GET {path} answered {first.status}: {first.body[:300]!r}")
    for _ in range(warm_up):
        client.get(path)
    seconds = [client.get(path).seconds for _ in range(count)]
    return {"supported": True, "rows": len(first.data), **latency_summary(seconds)}


def cancel_latency(bench: Bench, repeats: int = 5) -> dict:
    """Extra: from a cancel call to CANCELLED with the job's processes gone."""
    client = bench.client()
    seconds = []
    # The bench stack's jobs only (their Unix accounts' uids): a `sleep 300` of
    # another stack on this machine (a test run's) is not this job's.
    base = int(bench.cfg["jobs.accounts.uid_base"])
    accounts = range(base, base + 10**6)
    try:
        for _ in range(repeats):
            response = client.post("/api/jobs", {"code": "sleep 300 & sleep 300", "execute": True})
            job_id = response.data["id"]
            deadline = time.monotonic() + 60
            while client.get(f"/api/jobs/{job_id}").data["status"] != "RUNNING":
                if time.monotonic() > deadline:
                    raise BenchError(f"job {job_id} did not start within 60 s")
                time.sleep(0.01)
            while not processes_of(b"sleep\x00300\x00", accounts):
                time.sleep(0.01)
            started = time.perf_counter()
            client.post(f"/api/jobs/{job_id}/cancel")
            while client.get(f"/api/jobs/{job_id}").data["status"] != "CANCELLED":
                time.sleep(0.005)
            while processes_of(b"sleep\x00300\x00", accounts):
                time.sleep(0.005)
            seconds.append(time.perf_counter() - started)
    finally:
        client.close()
    return latency_summary(seconds)


def processes_of(cmdline: bytes, uids: range) -> list[int]:
    """Pids whose command line is exactly ``cmdline`` (NUL-separated), run by a uid
    in ``uids``."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read() == cmdline and os.stat(f"/proc/{pid}").st_uid in uids:
                    pids.append(int(pid))
        except OSError:
            pass
    return pids


def cancel_leftovers(bench: Bench) -> int:
    """Cancel whatever the bench left queued or running (its jobs outlive the stack)."""
    client = bench.client()
    cancelled = 0
    paths = [f"/api/jobs?limit=1000&status={status}" for status in UNFINISHED]
    try:
        for path in [*paths, "/api/jobs?limit=1000"]:
            response = client.get(path)
            if response.status != 200:
                continue  # e.g. a 400 where the status filter is not there
            for job in response.data:
                if job["status"] in UNFINISHED:
                    client.post(f"/api/jobs/{job['id']}/cancel")
                    cancelled += 1
    finally:
        client.close()
    return cancelled


def queue_depth(bench: Bench) -> dict:
    """The claim at depth: the claim statement with 0, 100,000 and 1,000,000 jobs
    of 100 users waiting; then ``drain_jobs`` trivial jobs of one user drained with
    nothing else waiting and from in front of 1,000,000 of that user's own
    low-priority jobs (a big sweep), in the same run: the ratio of the two rates is
    what the waiting million costs."""
    scale = bench.scale
    users = claim_depth.depth_users(bench.cfg, 100)
    claims, filled = {}, 0
    claim_depth.stop_executor(bench.layout)
    try:
        for level in scale.depth_levels:
            if level > filled:
                claim_depth.fill_queued(bench.cfg, "wide", filled + 1, level, users)
                filled = level
            claims[str(level)] = claim_depth.time_claims(bench.cfg, scale.depth_claims)
        claim_depth.remove_queued(bench.cfg)
    finally:
        claim_depth.start_executor(bench.layout)

    response = bench.client().post("/api/tokens", {"name": "bench depth", "user_id": users[0]})
    if response.status != 200:
        raise BenchError(f"POST /api/tokens answered {response.status}: {response.body[:300]!r}")
    token = response.data["token"]
    empty = drain(bench, token, scale.drain_jobs)
    sweep = max(scale.depth_levels)
    claim_depth.stop_executor(bench.layout)
    try:
        claim_depth.fill_queued(bench.cfg, "sweep", 1, sweep, users[:1], priority=-100)
    finally:
        claim_depth.start_executor(bench.layout)
    try:
        behind = drain(bench, token, scale.drain_jobs, priority=0)
    finally:
        claim_depth.stop_executor(bench.layout)
        claim_depth.remove_queued(bench.cfg)
        claim_depth.start_executor(bench.layout)
    return {
        "users": len(users),
        "claims": claims,
        "drain": {
            "jobs": scale.drain_jobs,
            "empty_per_second": empty["per_second"],
            "behind_per_second": behind["per_second"],
            "behind_waiting": sweep,
            "ratio": round(behind["per_second"] / empty["per_second"], 2),
            "ended_empty": empty["ended"],
            "ended_behind": behind["ended"],
        },
    }


def drain(bench: Bench, token: str, count: int, **options) -> dict:
    """``count`` ``true`` jobs submitted from 16 clients as ``token``'s user, timed
    until all of them ended (others' jobs, and this user's older ones, may wait)."""
    since = utcnow()
    client = bench.client(token)
    started = time.perf_counter()
    try:
        submit_jobs(bench, count, 16, "true", token=token, **options)
        deadline = time.monotonic() + 900
        while sum((ended := Bench.outcomes(client, since)).values()) < count:
            if time.monotonic() > deadline:
                raise BenchError(f"{count} jobs not ended after 900 s: {ended}")
            time.sleep(0.2)
    finally:
        client.close()
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "per_second": round(count / seconds, 1), "ended": ended}


def two_hosts(bench: Bench) -> dict:
    """The burst (scenario 2's ``burst_jobs`` true jobs from 16 clients) on the
    stack's executor alone, then on it and a second local executor (another host
    name and jobs directory, the same slots), in the same run: the ratio of the
    rates, and how the second run's jobs spread over the hosts."""
    alone = burst_rate(bench)
    with SecondHost(bench.cfg):
        both = burst_rate(bench)
    return {
        "jobs": bench.scale.burst_jobs,
        "one_host_per_second": alone["per_second"],
        "two_hosts_per_second": both["per_second"],
        "ratio": round(both["per_second"] / alone["per_second"], 2),
        "by_host": both["by_host"],
        "second_host": HOST_NAME,
    }


def burst_rate(bench: Bench) -> dict:
    """Jobs/s of one burst, and its jobs per host (``GET /api/jobs``' host field)."""
    count = bench.scale.burst_jobs
    since = utcnow()
    started = time.perf_counter()
    ids = submit_jobs(bench, count, 16, "true")
    ended = bench.wait_until_done(since, timeout=600, interval=0.1)
    seconds = time.perf_counter() - started
    if ended.get("COMPLETE", 0) != count:
        raise BenchError(f"the burst did not all complete: {ended}")
    client = bench.client()
    by_host: dict[str, int] = {}
    try:
        wanted = set(ids)
        cursor = None
        while wanted:
            path = f"/api/jobs?limit=1000&created_after={since.isoformat()}"
            page = client.get(path + (f"&cursor={cursor}" if cursor else "")).json()
            for job in page["data"]:
                if job["id"] in wanted:
                    wanted.discard(job["id"])
                    by_host[job["host"]] = by_host.get(job["host"], 0) + 1
            cursor = page.get("next_cursor")
            if not cursor or not page["data"]:
                break
    finally:
        client.close()
    return {"per_second": round(count / seconds, 1), "by_host": by_host}
