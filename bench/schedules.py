"""The schedules scenario (issue 15): 1,000 schedules firing every minute for ten
minutes, with scenario 5 (1,000 jobs at once, API latency meanwhile) run inside
that window.

- Each fire's delay after its tick, as an observer sees it: a thread polls
  ``schedule_fires`` every ``POLL`` seconds from just before each tick, and a
  fire's delay is the time of the first poll that sees it (its statement
  committed) less its tick; p50, p99 and max over every fire in the window (goal:
  p99 < 1 s). Beside it, the delay by the scheduler's own clock
  (``schedule_fires.created_at``, the time its pass began, less the tick).
- Exactly once: for every schedule and every whole-minute tick of the window,
  one fire recorded with one job; ticks missed, skipped, and fired twice (jobs of
  one schedule and tick) are counted (goal: none).
- Scenario 5's API p99 while its jobs run, measured while the schedules fire
  (its goal, p99 < 50 ms, must still hold).
"""

import datetime
import threading
import time

from sqlalchemy import text

from baselayer.app.database import make_engine

from .client import ApiClient, latency_summary, run_in_clients
from .scenarios import Bench, many_at_once, utcnow
from .tools import BenchError

#: The definition every bench schedule fires: the cheapest job.
DEFINITION = "bench_tick"
#: Seconds between the observer's reads of the fires of a tick.
POLL = 0.02
#: Seconds the observer watches a tick for before giving up on its missing fires.
WATCH = 20.0

_FIRES_OF_TICK = text(
    """
    SELECT f.schedule_id FROM schedule_fires f JOIN schedules s ON s.id = f.schedule_id
    WHERE s.description = :tag AND f.tick = :tick
    """
)

_FIRES = text(
    """
    SELECT f.schedule_id, f.tick, f.created_at, f.job_id, f.skipped, j.queued_at
    FROM schedule_fires f
    JOIN schedules s ON s.id = f.schedule_id
    LEFT JOIN jobs j ON j.id = f.job_id
    WHERE s.description = :tag AND f.tick >= :first AND f.tick <= :last
    """
)
_JOBS_PER_TICK = text(
    """
    SELECT count(*) FROM (
        SELECT j.schedule_id, j.scheduled_for FROM jobs j
        JOIN schedules s ON s.id = j.schedule_id
        WHERE s.description = :tag AND j.scheduled_for >= :first AND j.scheduled_for <= :last
        GROUP BY j.schedule_id, j.scheduled_for HAVING count(*) > 1
    ) AS doubled
    """
)


def _minute_after(moment: datetime.datetime) -> datetime.datetime:
    return moment.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)


def _sleep_until(moment: datetime.datetime) -> None:
    while (left := (moment - utcnow()).total_seconds()) > 0:
        time.sleep(min(left, 1.0))


def make_schedules(bench: Bench, count: int, tag: str) -> list[int]:
    """A definition and ``count`` schedules of it firing every minute, made through
    the API from 16 clients; their ids."""
    client = bench.client()
    body = {"name": DEFINITION, "code": "true", "timeout": 60}
    response = client.post("/api/definitions", body)
    if response.status not in (200, 409):
        raise BenchError(f"POST /api/definitions: {response.status} {response.body[:200]!r}")
    client.close()
    schedule = {
        "definition": DEFINITION,
        "cron": "* * * * *",
        "overlap": "allow",
        "description": tag,
    }

    def create(api: ApiClient, _):
        answer = api.post("/api/schedules", schedule)
        if answer.status != 200:
            raise BenchError(f"POST /api/schedules: {answer.status} {answer.body[:200]!r}")
        return answer.data["id"]

    return run_in_clients(count, 16, bench.client, create)


def pause_schedules(bench: Bench, ids: list[int]) -> None:
    """Disable the bench schedules (PATCH ``enabled: false``) from 16 clients."""

    def pause(api: ApiClient, index: int):
        answer = api.request("PATCH", f"/api/schedules/{ids[index]}", {"enabled": False})
        if answer.status != 200:
            raise BenchError(f"PATCH /api/schedules: {answer.status} {answer.body[:200]!r}")

    run_in_clients(len(ids), 16, bench.client, pause)


def delete_schedules(bench: Bench, ids: list[int]) -> None:
    def delete(api: ApiClient, index: int):
        api.request("DELETE", f"/api/schedules/{ids[index]}")

    run_in_clients(len(ids), 16, bench.client, delete)


def observe(bench: Bench, tag: str, ticks: list, count: int, seen: list) -> None:
    """For each tick: from just before it, read its fires every POLL seconds until
    ``count`` are there (or WATCH seconds have passed); append each fire's delay
    (seconds after the tick when a read first saw it) to ``seen``."""
    engine = make_engine(bench.cfg, pool_size=1)
    try:
        with engine.connect() as conn:
            for tick in ticks:
                _sleep_until(tick - datetime.timedelta(seconds=0.2))
                found: set[int] = set()
                while len(found) < count and (utcnow() - tick).total_seconds() < WATCH:
                    rows = conn.execute(_FIRES_OF_TICK, {"tag": tag, "tick": tick}).scalars().all()
                    conn.rollback()  # a fresh snapshot for the next read
                    at = (utcnow() - tick).total_seconds()
                    new = set(rows) - found
                    seen.extend([at] * len(new))
                    found |= new
                    time.sleep(POLL)
    finally:
        engine.dispose()


def schedules_at_scale(bench: Bench, count: int = 1000, minutes: int = 10) -> dict:
    """Run the scenario (see the module docstring) and return its figures."""
    tag = f"bench-schedules-{time.time_ns()}"
    ids = make_schedules(bench, count, tag)
    # The window: the whole minutes after every schedule exists.
    first = _minute_after(utcnow() + datetime.timedelta(seconds=2))
    last = first + datetime.timedelta(minutes=minutes - 1)
    scenario_5: dict = {}

    def run_scenario_5() -> None:
        _sleep_until(first + datetime.timedelta(seconds=65))
        scenario_5.update(many_at_once(bench))

    ticks = [first + datetime.timedelta(minutes=m) for m in range(minutes)]
    observed: list[float] = []
    observer = threading.Thread(
        target=observe, args=(bench, tag, ticks, count, observed), daemon=True
    )
    observer.start()
    alongside = threading.Thread(target=run_scenario_5, daemon=True)
    alongside.start()
    _sleep_until(last + datetime.timedelta(seconds=WATCH + 2))
    alongside.join()
    observer.join()
    pause_schedules(bench, ids)
    since = utcnow()
    bench.wait_until_done(since - datetime.timedelta(minutes=minutes + 2), timeout=600)

    engine = make_engine(bench.cfg, pool_size=1)
    try:
        with engine.connect() as conn:
            params = {"tag": tag, "first": first, "last": last}
            fires = conn.execute(_FIRES, params).all()
            doubled = conn.execute(_JOBS_PER_TICK, params).scalar_one()
    finally:
        engine.dispose()
    delete_schedules(bench, ids)

    expected = {(schedule_id, tick) for schedule_id in ids for tick in ticks}
    fired = {(row.schedule_id, row.tick) for row in fires if row.job_id is not None}
    skipped = [row for row in fires if row.job_id is None]
    recorded = [(row.created_at - row.tick).total_seconds() for row in fires if row.job_id]
    queued = [
        (row.queued_at - row.tick).total_seconds()
        for row in fires
        if row.job_id and row.queued_at is not None
    ]
    return {
        "schedules": count,
        "minutes": minutes,
        "window_utc": [first.isoformat(), last.isoformat()],
        "ticks_expected": len(expected),
        "fired": len(fired & expected),
        "missed": len(expected - fired),
        "skipped": len(skipped),
        "fired_twice": doubled,
        "fire_delay": latency_summary(observed),
        "fire_delay_scheduler_clock": latency_summary(recorded),
        "queued_delay": latency_summary(queued),
        "scenario_5": scenario_5,
    }
