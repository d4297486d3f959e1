"""Fill the jobs table with finished history, fast, straight into the database.

    BASELAYER_CONFIG=bench/config.bench.yaml .venv/bin/python -m bench.fill_jobs --count 1000000

One ``INSERT ... SELECT generate_series`` per batch, for ``--users`` users
(``bench_fill_<i>``, made if missing) taking turns: ended jobs (mostly COMPLETE,
some FAILED, CANCELLED, TIMED_OUT) with a line of output each, created over the
past weeks, so the newest jobs are still the ones the service makes. Job events
are not written: listing jobs never reads them.

Meant for the bench database: it refuses a database whose name does not end in
``_bench`` unless given ``--any-database``.
"""

import argparse
import time

from sqlalchemy import text

from baselayer.app.config import Config, load_config
from baselayer.app.database import make_engine

#: Seconds between two filled jobs' created_at: 1,000,000 jobs span about 58 days.
SPACING_SECONDS = 5

_INSERT_USERS = text(
    "INSERT INTO users (username) SELECT 'bench_fill_' || i FROM generate_series(0, :users - 1) i "
    "ON CONFLICT (username) DO NOTHING"
)
_USER_IDS = text(
    "SELECT id FROM users WHERE username LIKE 'bench\\_fill\\_%' "
    "ORDER BY substring(username FROM 12)::int LIMIT :users"
)
_INSERT_JOBS = text(
    """
    INSERT INTO jobs (id, code, shell, status, status_message, priority, submitter_id,
                      return_code, stdout, stderr, queued_at, started_at, finished_at,
                      created_at, modified, timeout, cpus, memory_mb)
    SELECT 'fill_' || :prefix || '_' || n,
           'echo job ' || n,
           'sh',
           CASE WHEN n % 100 < 85 THEN 'COMPLETE' WHEN n % 100 < 95 THEN 'FAILED'
                WHEN n % 100 < 98 THEN 'CANCELLED' ELSE 'TIMED_OUT' END,
           CASE WHEN n % 100 >= 95 THEN 'filled by bench/fill_jobs.py' END,
           0,
           (:user_ids)[1 + n % cardinality(:user_ids)],
           CASE WHEN n % 100 < 85 THEN 0 WHEN n % 100 < 95 THEN 1 END,
           'job ' || n || E'\n',
           '',
           at, at + interval '10 milliseconds', at + interval '1 second', at,
           at + interval '1 second',
           3600, 1, 256
    FROM generate_series(:first, :last) AS n,
         LATERAL (SELECT :newest - (:total - n) * make_interval(secs => :spacing) AS at) AS t
    """
)


def fill(cfg: Config, count: int, users: int = 5, batch: int = 250_000) -> dict:
    """Insert ``count`` ended jobs for ``users`` fill users; returns what was done.

    Returns
    -------
    dict
        ``{"jobs", "users", "user_ids", "seconds", "table_mb"}``.
    """
    engine = make_engine(cfg, pool_size=1)
    started = time.perf_counter()
    try:
        with engine.begin() as conn:
            conn.execute(_INSERT_USERS, {"users": users})
            user_ids = list(conn.scalars(_USER_IDS, {"users": users}))
            # Ids must not collide with an earlier fill of the same database.
            prefix = conn.scalar(text("SELECT to_char(clock_timestamp(), 'YYYYMMDDHH24MISSMS')"))
            newest = conn.scalar(text("SELECT now() - interval '1 hour'"))
        for first in range(1, count + 1, batch):
            last = min(first + batch - 1, count)
            with engine.begin() as conn:
                conn.execute(
                    _INSERT_JOBS,
                    {
                        "prefix": prefix,
                        "user_ids": user_ids,
                        "first": first,
                        "last": last,
                        "total": count,
                        "newest": newest,
                        "spacing": SPACING_SECONDS,
                    },
                )
        with engine.connect() as conn:
            # A month of history has been through autovacuum many times; a bulk
            # insert has not. VACUUM sets the visibility map, so counts read the
            # index alone, as they would on the real table.
            autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
            autocommit.execute(text("VACUUM ANALYZE jobs"))
            # Then write it all out now: otherwise the checkpoint that the bulk
            # insert set off (a gigabyte of WAL) writes it back while the
            # scenario measures, and its p99 measures the disk.
            autocommit.execute(text("CHECKPOINT"))
            table_mb = conn.scalar(text("SELECT pg_total_relation_size('jobs') / 1048576"))
    finally:
        engine.dispose()
    return {
        "jobs": count,
        "users": users,
        "user_ids": user_ids,
        "seconds": round(time.perf_counter() - started, 1),
        "table_mb": int(table_mb),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--any-database", action="store_true")
    args = parser.parse_args()
    cfg = load_config()
    if not args.any_database and not str(cfg["database.name"]).endswith("_bench"):
        raise SystemExit(
            f"refusing to fill {cfg['database.name']!r}: "
            "set BASELAYER_CONFIG=bench/config.bench.yaml or pass --any-database"
        )
    result = fill(cfg, args.count, args.users)
    print(
        f"{result['jobs']} jobs for users {result['user_ids']} in {result['seconds']} s; "
        f"jobs table now {result['table_mb']} MB"
    )


if __name__ == "__main__":
    main()
