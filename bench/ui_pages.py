"""The dashboard's pages with 1,000,000 ended jobs in the table (``--only ui``).

One ``INSERT ... SELECT generate_series`` writes the jobs (20 users, two queues,
30 days of ends, the five outcomes, queue waits spread from 1 ms to ~17 min),
then the stats' rollups are counted again from the table (``queue.stats.rebuild``,
timed: the one-off cost of a backfill). Each page is then asked for ``requests``
times, one after another, through NGINX with a session cookie: the client's
time, and the server's (NGINX's ``$request_time`` from its access log: the app
worker's answer plus the proxy, no client), p50 and p95. Also timed: the stats
service's pass (``queue.stats.roll_up``) with 0 and 10,000 new ends, and the
statements of ``GET /api/stats``, the counts of the jobs not ended included.
"""

import datetime
import re
import time
import urllib.parse
from pathlib import Path

import requests
from sqlalchemy import text

from baselayer.app.database import database_url, make_engine
from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL
from shell_service import stats
from shell_service.queue import stats as stats_queries

from .client import ApiClient, latency_summary, percentile
from .tools import BenchError

USERS = 20
DAYS = 30

_INSERT_USERS = text(
    "INSERT INTO users (username) SELECT 'bench_ui_' || i FROM generate_series(0, :users - 1) i "
    "ON CONFLICT (username) DO NOTHING"
)
_USER_IDS = text(
    "SELECT id FROM users WHERE username LIKE 'bench\\_ui\\_%' "
    "ORDER BY substring(username FROM 10)::int LIMIT :users"
)
# Job n ends at newest - (total - n) * spacing; every fourth is a run of one of the
# definitions, every fortieth fired by one of the schedules; its wait is 2^((n * 7919 % 2000) / 100)
# ms (1 ms to ~17 min), it runs a second. Outcomes: 85% COMPLETE, 8% FAILED, 3%
# CANCELLED (a third of them before starting), 2% TIMED_OUT, 2% SERVER_ERROR.
_INSERT_JOBS = text(
    """
    INSERT INTO jobs (id, code, shell, status, status_message, priority, submitter_id, queue,
                      return_code, stdout, stderr, queued_at, started_at, finished_at,
                      created_at, modified, timeout, cpus, memory_mb,
                      definition_id, definition_name, definition_version, schedule_id)
    SELECT 'ui_' || :prefix || '_' || n, 'echo job ' || n, 'sh', outcome,
           CASE WHEN outcome <> 'COMPLETE' THEN 'filled by bench/ui_pages.py' END,
           0, (:user_ids)[1 + (n + n / 100) % cardinality(:user_ids)],
           CASE WHEN n % 7 = 0 THEN 'slurm' ELSE 'default' END,
           CASE outcome WHEN 'COMPLETE' THEN 0 WHEN 'FAILED' THEN 1 END,
           'job ' || n || E'\\n', '',
           queued, CASE WHEN NOT never_started THEN started END, ended,
           queued, ended, 3600, 1, 256,
           CASE WHEN n % 4 = 0 THEN (:definition_ids)[1 + n / 4 % cardinality(:definition_ids)] END,
           CASE WHEN n % 4 = 0
                THEN (:definition_names)[1 + n / 4 % cardinality(:definition_ids)] END,
           CASE WHEN n % 4 = 0 THEN 1 END,
           CASE WHEN n % 40 = 0 THEN (:schedule_ids)[1 + n / 40 % cardinality(:schedule_ids)] END
    FROM generate_series(1, :total) AS n,
         LATERAL (SELECT CASE WHEN n % 100 < 85 THEN 'COMPLETE' WHEN n % 100 < 93 THEN 'FAILED'
                              WHEN n % 100 < 96 THEN 'CANCELLED' WHEN n % 100 < 98
                              THEN 'TIMED_OUT' ELSE 'SERVER_ERROR' END AS outcome,
                         n % 100 = 93 AS never_started,
                         :newest - (:total - n) * make_interval(secs => :spacing) AS ended
                 ) AS o,
         LATERAL (SELECT o.ended - interval '1 second' AS started) AS s,
         LATERAL (SELECT s.started - make_interval(
                      secs => power(2, (n::bigint * 7919 % 2000) / 100.0) / 1000) AS queued) AS q
    """
)
# Ends "now" for the pass's timing (as the service finds them: after its cursor).
_INSERT_RECENT = text(
    """
    INSERT INTO jobs (id, code, shell, status, priority, submitter_id, queued_at, started_at,
                      finished_at, created_at, modified)
    SELECT 'uir_' || :prefix || '_' || n, 'true', 'sh', 'COMPLETE', 0,
           (:user_ids)[1 + n % cardinality(:user_ids)],
           :at - interval '2 seconds', :at - interval '1 second', :at, :at, :at
    FROM generate_series(1, :count) AS n
    """
)


def fill(cfg, total: int, definitions: list[dict], schedule_ids: list[int]) -> dict:
    """``total`` ended jobs of ``USERS`` users over ``DAYS`` days (a quarter of them
    runs of ``definitions``: ``{"id", "name"}`` each; a fortieth fired by one of
    ``schedule_ids``), then the rollups counted again; returns the user ids and the
    seconds each part took."""
    engine = make_engine(cfg, pool_size=1)
    try:
        with engine.begin() as conn:
            conn.execute(_INSERT_USERS, {"users": USERS})
            user_ids = list(conn.scalars(_USER_IDS, {"users": USERS}))
            prefix = conn.scalar(text("SELECT to_char(clock_timestamp(), 'YYYYMMDDHH24MISSMS')"))
        newest = utcnow().replace(microsecond=0) - datetime.timedelta(minutes=2)
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(
                _INSERT_JOBS,
                {
                    "prefix": prefix,
                    "user_ids": user_ids,
                    "total": total,
                    "newest": newest,
                    "spacing": DAYS * 86400 / total,
                    "definition_ids": [row["id"] for row in definitions],
                    "definition_names": [row["name"] for row in definitions],
                    "schedule_ids": schedule_ids,
                },
            )
        inserted = time.perf_counter() - started
        with engine.connect() as conn:
            autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
            autocommit.execute(text("VACUUM ANALYZE jobs"))
            autocommit.execute(text("CHECKPOINT"))
            table_mb = conn.scalar(text("SELECT pg_total_relation_size('jobs') / 1048576"))
    finally:
        engine.dispose()
    sql = PlainSQL(database_url(cfg), "bench_ui")
    try:
        started = time.perf_counter()
        since = newest - datetime.timedelta(days=DAYS + 1)
        counted = _locked(lambda: stats_queries.rebuild(sql, stats.hour_start(since)))
        rebuilt = time.perf_counter() - started
        rollup_rows = sql.value("SELECT count(*) FROM job_stats_hourly")
        user_rows = sql.value(
            "SELECT count(*) FROM job_stats_hourly WHERE submitter_id = %(u)s", {"u": user_ids[0]}
        )
    finally:
        sql.close()
    return {
        "jobs": total,
        "users": USERS,
        "user_ids": user_ids,
        "prefix": prefix,
        "insert_seconds": round(inserted, 1),
        "table_mb": int(table_mb),
        "rebuild_seconds": round(rebuilt, 2),
        "rebuild_counted": counted,
        "rollup_rows": rollup_rows,
        "rollup_rows_one_user": user_rows,
    }


def _locked(call, tries: int = 600):
    """``call()`` again until it does not answer None (the stats lock taken)."""
    for _ in range(tries):
        result = call()
        if result is not None:
            return result
        time.sleep(0.05)
    raise BenchError("the stats lock stayed taken")


def pass_costs(cfg, user_ids: list[int], prefix: str) -> dict:
    """The stats service's pass with nothing new, and with 10,000 new ends."""
    sql = PlainSQL(database_url(cfg), "bench_ui")
    engine = make_engine(cfg, pool_size=1)
    out = {}
    try:
        _locked(lambda: stats_queries.roll_up(sql, utcnow()))
        times = []
        for _ in range(20):
            started = time.perf_counter()
            _locked(lambda: stats_queries.roll_up(sql, utcnow()))
            times.append(time.perf_counter() - started)
        out["idle_pass"] = latency_summary(times)
        for count in (1000, 10_000):
            at = utcnow()
            with engine.begin() as conn:
                conn.execute(
                    _INSERT_RECENT,
                    {"prefix": f"{prefix}{count}", "user_ids": user_ids, "count": count, "at": at},
                )
            started = time.perf_counter()
            # Up to just past them (the cursor is left there: the next batch is later).
            added = _locked(lambda at=at: stats_queries.roll_up(sql, at + _MILLISECOND))
            out[f"pass_{count}_ends"] = {
                "added": added,
                "ms": round(1000 * (time.perf_counter() - started), 1),
            }
    finally:
        sql.close()
        engine.dispose()
    return out


_MILLISECOND = datetime.timedelta(milliseconds=1)


def make_definitions(bench, admin, count: int = 10) -> tuple[list[dict], list[int]]:
    """``count`` shared definitions, each with a paused schedule, of a user made for
    them (the admin may hold its 200 schedules already: the schedules step's).

    Returns
    -------
    tuple
        ``[{"id", "name", "owner_id"}]`` of the definitions and the schedules' ids.
    """
    stamp = time.strftime("%H%M%S")
    user = admin.post("/api/users", {"username": f"bench_definitions_owner_{time.time_ns()}"})
    if user.status != 200:
        raise BenchError(f"POST /api/users answered {user.status}: {user.body[:300]!r}")
    token = admin.post("/api/tokens", {"name": "bench ui owner", "user_id": user.data["id"]})
    if token.status != 200:
        raise BenchError(f"POST /api/tokens answered {token.status}: {token.body[:300]!r}")
    owner = bench.client(token.data["token"])
    definitions, schedule_ids = [], []
    for i in range(count):
        name = f"bench_ui_{stamp}_{i}"
        body = {
            "name": name,
            "code": 'echo "$DAY"',
            "shared": True,
            "parameters": [{"name": "DAY", "type": "string", "default": "2026-12-01"}],
        }
        made = owner.post("/api/definitions", body)
        if made.status != 200:
            raise BenchError(f"POST /api/definitions answered {made.status}: {made.body[:300]!r}")
        definitions.append({"id": made.data["id"], "name": name, "owner_id": made.data["owner_id"]})
        schedule = {"definition": name, "cron": "0 3 * * *", "enabled": False}
        made = owner.post("/api/schedules", schedule)
        if made.status != 200:
            raise BenchError(f"POST /api/schedules answered {made.status}: {made.body[:300]!r}")
        schedule_ids.append(made.data["id"])
    owner.close()
    return definitions, schedule_ids


def sign_in(base_url: str, token: str) -> str:
    """A web session's cookie value for ``token`` (the sign-in form, with its XSRF)."""
    session = requests.Session()
    form = session.get(f"{base_url}/ui/signin", timeout=30)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.text).group(1)
    answer = session.post(
        f"{base_url}/ui/signin",
        data={"token": token, "_xsrf": xsrf, "next": "/ui/"},
        allow_redirects=False,
        timeout=30,
    )
    if answer.status_code != 302:
        raise BenchError(f"sign-in answered {answer.status_code}")
    return session.cookies["shell_service_session"]


def page_client(base_url: str, cookie: str | None, token: str | None, tag: str) -> ApiClient:
    """A keep-alive client with a session cookie or a token, its requests tagged
    (User-Agent ``bench-ui/<tag>``) so NGINX's log lines say which page they were."""
    client = ApiClient(base_url, token)
    if cookie:
        client.headers["Cookie"] = f"shell_service_session={cookie}"
    client.headers["User-Agent"] = f"bench-ui/{tag}"
    return client


def server_times(access_log: Path, offset: int) -> dict[str, list[float]]:
    """NGINX's request times (seconds) per bench tag, from ``offset`` on in its log."""
    times: dict[str, list[float]] = {}
    with access_log.open("rb") as f:
        f.seek(offset)
        for line in f.read().decode("utf-8", "replace").splitlines():
            found = re.search(r'"bench-ui/([^"]+)" rt=([0-9.]+)', line)
            if found:
                times.setdefault(found.group(1), []).append(float(found.group(2)))
    return times


def ui_pages(bench, requests_per_page: int = 200) -> dict:
    """Extra: the dashboard's pages and GET /api/stats at 1,000,000 ended jobs."""
    total = 1_000_000 if bench.scale.history_jobs >= 1_000_000 else bench.scale.history_jobs
    admin = bench.client()
    definitions, schedule_ids = make_definitions(bench, admin)
    filled = fill(bench.cfg, total, definitions, schedule_ids)
    user_id = filled["user_ids"][0]
    response = admin.post("/api/tokens", {"name": "bench ui", "user_id": user_id})
    if response.status != 200:
        raise BenchError(f"POST /api/tokens answered {response.status}")
    user_token = response.data["token"]
    user_cookie = sign_in(bench.url, user_token)
    admin_cookie = sign_in(bench.url, bench.token)
    # A deep page: the cursor after 40,000 of the user's 50,000 jobs.
    api_user = bench.client(user_token)
    cursor = None
    for _ in range(40):
        path = "/api/jobs?limit=1000" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        page = api_user.get(path)
        cursor = page.json()["next_cursor"]
    one_job = api_user.get("/api/jobs?limit=1&status=FAILED").data[0]["id"]
    api_user.close()
    admin_user_id = definitions[0]["owner_id"]
    definition = urllib.parse.quote(definitions[0]["name"])
    pages = {
        "/ui/jobs (user, default: mine, 24 h)": ("user", "/ui/jobs"),
        "/ui/jobs?preset=failed&range=7d (user)": ("user", "/ui/jobs?preset=failed&range=7d"),
        "/ui/jobs deep cursor (user, 40,000 jobs in)": (
            "user",
            f"/ui/jobs?range=all&cursor={urllib.parse.quote(cursor)}",
        ),
        "/ui/jobs?submitter=all&range=all (admin)": ("admin", "/ui/jobs?submitter=all&range=all"),
        "/ui/jobs/<id> (user)": ("user", f"/ui/jobs/{urllib.parse.quote(one_job)}"),
        "/ui/jobs/<id>/state (user: the page's refresh)": (
            "user",
            f"/ui/jobs/{urllib.parse.quote(one_job)}/state",
        ),
        "/ui/definitions (user: 10 shared, each one's last run)": ("user", "/ui/definitions"),
        "/ui/definitions/<name> (user: its runs, schedules, form)": (
            "user",
            f"/ui/definitions/{definition}",
        ),
        "/ui/schedules (admin: everyone's)": ("admin", "/ui/schedules"),
        "/ui/schedules/<id> (admin: last runs)": ("admin", f"/ui/schedules/{schedule_ids[0]}"),
        "/ui/tokens (user)": ("user", "/ui/tokens"),
        "/ui/admin/users (admin)": ("admin", "/ui/admin/users"),
        "/ui/admin/users/<id> (admin)": ("admin", f"/ui/admin/users/{admin_user_id}"),
        "/ui/admin/system (admin)": ("admin", "/ui/admin/system"),
        "/ui/ (user)": ("user", "/ui/"),
        "/ui/ (admin: everyone's)": ("admin", "/ui/"),
        "/api/stats (user)": ("user-api", "/api/stats"),
        "/api/stats (admin: everyone's)": ("admin-api", "/api/stats"),
        "/api/stats?hours=168 (admin)": ("admin-api", "/api/stats?hours=168"),
    }
    access_log = bench.layout.log_dir / "nginx-access.log"
    results = {}
    for i, (name, (who, path)) in enumerate(pages.items()):
        tag = f"p{i}"
        cookie = {"user": user_cookie, "admin": admin_cookie}.get(who)
        token = {"user-api": user_token, "admin-api": bench.token}.get(who)
        client = page_client(bench.url, cookie, token, tag)
        first = client.get(path)
        if first.status != 200:
            raise BenchError(f"GET {path} answered {first.status}: {first.body[:300]!r}")
        for _ in range(5):
            client.get(path)
        time.sleep(1)
        offset = access_log.stat().st_size
        seconds = [client.get(path).seconds for _ in range(requests_per_page)]
        client.close()
        time.sleep(1.5)  # NGINX writes its log lines as requests end: let them land
        server = server_times(access_log, offset).get(tag, [])
        results[name] = {
            "path": path,
            "bytes": len(first.body),
            "client": latency_summary(seconds),
            "client_p95_ms": round(1000 * percentile(seconds, 95), 2),
            "server": latency_summary(server),
            "server_p95_ms": round(1000 * percentile(server, 95), 2) if server else None,
        }
    admin.close()
    passes = pass_costs(bench.cfg, filled["user_ids"], filled["prefix"])
    worst = max((r["server_p95_ms"] or 0) for n, r in results.items() if n.startswith("/ui/"))
    return {"fill": filled, "pages": results, "passes": passes, "worst_page_server_p95_ms": worst}
