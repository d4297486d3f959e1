"""The queue at depth: the claim statement's cost with 0, 100,000 and 1,000,000 jobs
waiting, and how fast 10,000 jobs drain from in front of 1,000,000 waiting ones.

Waiting jobs are written straight into the bench database (``INSERT ... SELECT
generate_series``, as ``fill_jobs.py`` writes history), with the bench stack's
executor stopped so that none of them starts while the claim is timed. Each
timed claim runs in a transaction that is rolled back, so it claims the same
jobs every time and starts nothing.
"""

import statistics
import time

from sqlalchemy import text

from baselayer.app.config import Config
from baselayer.app.database import make_engine
from baselayer.tools.layout import StackLayout
from baselayer.tools.supervisor_control import supervisorctl
from shell_service.queue.claim import _CLAIM_SQL, claim_parameters
from shell_service.queues import configured_queues, host_name

#: Rows per INSERT: a million rows in one statement holds a lot of WAL at once.
FILL_BATCH = 250_000

_INSERT_USERS = text(
    "INSERT INTO users (username) SELECT 'bench_depth_' || i FROM generate_series(0, :users - 1) i "
    "ON CONFLICT (username) DO NOTHING"
)
_USER_IDS = text(
    "SELECT id FROM users WHERE username LIKE 'bench\\_depth\\_%' "
    "ORDER BY substring(username FROM 13)::int LIMIT :users"
)
_INSERT_QUEUED = text(
    """
    INSERT INTO jobs (id, code, shell, status, priority, submitter_id, queued_at,
                      created_at, modified, timeout, cpus, memory_mb)
    SELECT 'depth_' || :tag || '_' || n, 'true', 'sh', 'QUEUED', :priority,
           (:user_ids)[1 + n % cardinality(:user_ids)],
           now() - interval '1 hour' + n * interval '1 microsecond', now(), now(), 60, 1, 64
    FROM generate_series(:first, :last) AS n
    """
)
_REMOVE_QUEUED = text("DELETE FROM jobs WHERE id LIKE 'depth\\_%' AND status = 'QUEUED'")


def depth_users(cfg: Config, count: int) -> list[int]:
    """Ids of ``count`` bench users ``bench_depth_<i>``, made if missing."""
    engine = make_engine(cfg, pool_size=1)
    try:
        with engine.begin() as conn:
            conn.execute(_INSERT_USERS, {"users": count})
            return list(conn.scalars(_USER_IDS, {"users": count}))
    finally:
        engine.dispose()


def fill_queued(cfg: Config, tag: str, first: int, last: int, user_ids: list[int], priority=0):
    """Insert QUEUED jobs ``depth_<tag>_<first..last>`` of ``user_ids`` in turn, then
    VACUUM ANALYZE (as autovacuum would have by then) and CHECKPOINT (so the write
    back of the insert's WAL does not land in the timings). Returns seconds taken."""
    engine = make_engine(cfg, pool_size=1)
    started = time.perf_counter()
    try:
        for start in range(first, last + 1, FILL_BATCH):
            with engine.begin() as conn:
                conn.execute(
                    _INSERT_QUEUED,
                    {
                        "tag": tag,
                        "priority": priority,
                        "user_ids": user_ids,
                        "first": start,
                        "last": min(start + FILL_BATCH - 1, last),
                    },
                )
        with engine.connect() as conn:
            autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
            autocommit.execute(text("VACUUM ANALYZE jobs"))
            autocommit.execute(text("CHECKPOINT"))
    finally:
        engine.dispose()
    return round(time.perf_counter() - started, 1)


def remove_queued(cfg: Config) -> None:
    """Delete every filled job still QUEUED (the ones that ran stay as history)."""
    engine = make_engine(cfg, pool_size=1)
    try:
        with engine.begin() as conn:
            conn.execute(_REMOVE_QUEUED)
        with engine.connect() as conn:
            autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
            autocommit.execute(text("VACUUM ANALYZE jobs"))
    finally:
        engine.dispose()


def queued_count(cfg: Config) -> int:
    engine = make_engine(cfg, pool_size=1)
    try:
        with engine.connect() as conn:
            return conn.scalar(text("SELECT count(*) FROM jobs WHERE status = 'QUEUED'"))
    finally:
        engine.dispose()


def time_claims(cfg: Config, repeats: int) -> dict:
    """The claim statement as the executor runs it (prepared, generic plan, with the
    stack's limits and ``jobs.claim_batch``), ``repeats`` times, each rolled back.

    Returns
    -------
    dict
        ``{"queued", "claimed", "p50_ms", "p99_ms", "max_ms"}``: the jobs waiting,
        the jobs one claim took, and the statement's wall time in milliseconds
        (sent, run and read back over the unix socket).
    """
    params = claim_parameters(
        "bench:0",
        host=host_name(cfg),
        queues=configured_queues(cfg),
        max_running=int(cfg["jobs.max_running"]),
        memory_budget_mb=int(cfg["jobs.memory_budget_mb"]),
        batch=int(cfg["jobs.claim_batch"]),
    )
    engine = make_engine(cfg, pool_size=1)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        # As the executor's connection (``local.executor_database_url``): one plan.
        cursor.execute("SET plan_cache_mode = force_generic_plan")
        cursor.execute(_CLAIM_SQL.prepare_sql)
        raw.commit()
        seconds, claimed = [], 0
        for _ in range(repeats + 3):  # the first runs plan and warm the cache
            started = time.perf_counter()
            cursor.execute(_CLAIM_SQL.execute_sql, _CLAIM_SQL.arguments(params))
            claimed = len(cursor.fetchall())
            seconds.append(time.perf_counter() - started)
            raw.rollback()
        seconds = sorted(seconds[3:])
    finally:
        raw.close()
        engine.dispose()
    return {
        "queued": queued_count(cfg),
        "claimed": claimed,
        "p50_ms": round(statistics.median(seconds) * 1000, 2),
        "p99_ms": round(seconds[max(0, round(len(seconds) * 0.99) - 1)] * 1000, 2),
        "max_ms": round(seconds[-1] * 1000, 2),
    }


def stop_executor(layout: StackLayout) -> None:
    supervisorctl(layout, "stop", "executor")


def start_executor(layout: StackLayout) -> None:
    supervisorctl(layout, "start", "executor")
