"""The scheduler duty: fire the schedules whose tick has come (``services/scheduler/``).

Each pass reads the due schedules (``queue.due_schedules``, one statement),
decides for each what its tick does (``schedules.plan``: catch-up, overlap),
checks a job it fires as the API checks a run (the definition version is
there and the owner may still see it, the owner is not disabled, the
parameters still fit the version, the job fits its queue: ``job_checks``), and
stores the whole batch in one statement (``queue.fire_ticks``: exactly once per
tick whatever the number of schedulers). A fire that fails a check is a
recorded skip with the reason; the schedule goes on. The loop sleeps until the
next tick is due (at most ``scheduler.poll_interval`` seconds, to see changes
and waiting ticks), and prunes old fire records every
``scheduler.prune_interval`` seconds.

The scheduler runs nothing of what a user sent: it inserts job rows (as their
owner), which the executors run as that user's Unix account.
"""

import datetime
import logging
import threading
import time
import uuid
from dataclasses import dataclass

import psycopg2

from baselayer.app.config import Config
from baselayer.app.handlers.base import APIError
from baselayer.app.models import ADMIN_ACL, utcnow
from baselayer.app.plain_sql import DatabaseUnavailable, PlainSQL

from . import queue, schedules
from .definitions import RunError, job_from_version
from .job_checks import complete_job
from .job_states import FINISHED

log = logging.getLogger("shell_service.scheduler")

#: ``next_fire_at`` of a schedule whose expression has no tick left.
NEVER = datetime.datetime(9999, 12, 31)


@dataclass(frozen=True)
class SchedulerSettings:
    """The ``scheduler:`` section of the config, checked.

    Attributes
    ----------
    poll_interval : float
        Most seconds between passes (seconds).
    misfire_grace : float
        Seconds late a tick still fires as on time; later it was missed.
    fire_retention_days : float or None
        Days fire records are kept (None: for ever).
    prune_interval : float
        Seconds between prunes of old fire records.
    batch_size : int
        Most schedules fired in one statement.
    """

    poll_interval: float
    misfire_grace: float
    fire_retention_days: float | None
    prune_interval: float
    batch_size: int
    max_per_user: int


def scheduler_settings(cfg: Config) -> SchedulerSettings:
    """The config's ``scheduler:`` section.

    Parameters
    ----------
    cfg : Config

    Returns
    -------
    SchedulerSettings

    Raises
    ------
    ValueError
        Naming the setting that is not a positive number (``batch_size`` and
        ``max_per_user``: positive integers; ``fire_retention_days`` may be empty).
    """
    section = cfg.get("scheduler") or {}

    def number(name: str, default: float, empty_ok: bool = False) -> float | None:
        value = section.get(name, default)
        if value is None and empty_ok:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(f"config scheduler.{name} must be a number > 0, not {value!r}")
        return float(value)

    def whole(name: str, default: int) -> int:
        value = section.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"config scheduler.{name} must be an integer > 0, not {value!r}")
        return value

    return SchedulerSettings(
        poll_interval=number("poll_interval", 1.0) or 1.0,
        misfire_grace=number("misfire_grace", 30.0) or 30.0,
        fire_retention_days=number("fire_retention_days", 30, empty_ok=True),
        prune_interval=number("prune_interval", 600.0) or 600.0,
        batch_size=whole("batch_size", 1000),
        max_per_user=whole("max_per_user", 200),
    )


@dataclass
class PassResult:
    """What one pass did: schedules seen, jobs fired, ticks skipped (rows), schedules
    another scheduler (or a change) took first, ticks left waiting (overlap queue)."""

    due: int = 0
    fired: int = 0
    skipped: int = 0
    lost: int = 0
    waiting: int = 0


class Scheduler:
    """Fires due schedules; ``run_once(now)`` is one pass at a given time (tests drive it).

    Parameters
    ----------
    cfg : Config
    sql : PlainSQL
        Its own connection (a pass is one thread's work).
    allowed_shells : list of str
        The interpreters installed here (``shells.available_shells``), as the API's.
    """

    def __init__(self, cfg: Config, sql: PlainSQL, allowed_shells: list[str]):
        self.cfg = cfg
        self.sql = sql
        self.allowed_shells = allowed_shells
        self.settings = scheduler_settings(cfg)
        self._last_prune = -float("inf")

    def run_once(self, now: datetime.datetime) -> PassResult:
        """Fire (or skip) every schedule due at ``now``, a batch per statement.

        Parameters
        ----------
        now : datetime.datetime
            Naive UTC: the pass's clock.

        Returns
        -------
        PassResult

        Raises
        ------
        DatabaseUnavailable
            The database cannot be reached (the loop tries again later).
        """
        result = PassResult()
        after = (datetime.datetime.min, 0)
        while True:
            rows = queue.due_schedules(
                self.sql, now, self.settings.batch_size, ADMIN_ACL, after=after
            )
            if not rows:
                return result
            after = (rows[-1]["next_fire_at"], rows[-1]["id"])
            result.due += len(rows)
            outcomes = []
            for row in rows:
                outcome = self.outcome(row, now)
                if outcome is None:
                    result.waiting += 1
                else:
                    outcomes.append(outcome)
            advanced, jobs = self.store(outcomes)
            for outcome in outcomes:
                if outcome.schedule_id not in advanced:
                    result.lost += 1
                    continue
                result.skipped += len(outcome.skips)
                for tick, why in outcome.skips:
                    log.info(
                        "schedule %d: tick %sZ skipped: %s",
                        outcome.schedule_id,
                        tick.isoformat(),
                        why,
                    )
                if outcome.job is not None and outcome.job.fields["id"] in jobs:
                    result.fired += 1
            if len(rows) < self.settings.batch_size:
                return result

    def store(self, outcomes: list[queue.TickOutcome]) -> tuple[set[int], set[str]]:
        """Store a batch's outcomes in one statement (``queue.fire_ticks``).

        A batch the database refuses (a bug, or a row no statement foresaw) is
        stored one schedule at a time, and a schedule whose job cannot be stored
        records the tick as skipped: one bad schedule must not stop the others.

        Returns
        -------
        advanced : set of int
        jobs : set of str
            As ``queue.fire_ticks``.

        Raises
        ------
        DatabaseUnavailable
            The database cannot be reached.
        """
        try:
            return queue.fire_ticks(self.sql, outcomes)
        except psycopg2.Error:
            if len(outcomes) == 1 and outcomes[0].job is None:
                raise
            log.exception("a batch of %d fires was refused; storing them one by one", len(outcomes))
        advanced: set[int] = set()
        jobs: set[str] = set()
        for outcome in outcomes:
            try:
                done = queue.fire_ticks(self.sql, [outcome])
            except psycopg2.Error as exc:
                if outcome.job is None:
                    raise
                tick = outcome.job.fields["scheduled_for"]
                why = f"its job could not be stored ({type(exc).__name__})"
                log.exception("schedule %d: tick %sZ: %s", outcome.schedule_id, tick, why)
                outcome.skips.append((tick, why))
                outcome.job = None
                done = queue.fire_ticks(self.sql, [outcome])
            advanced |= done[0]
            jobs |= done[1]
        return advanced, jobs

    def outcome(self, row: dict, now: datetime.datetime) -> queue.TickOutcome | None:
        """What one due schedule does at ``now`` (``queue.due_schedules``'s row).

        Parameters
        ----------
        row : dict
        now : datetime.datetime
            Naive UTC.

        Returns
        -------
        queue.TickOutcome or None
            None when its tick waits for the previous run (overlap ``queue``).
        """
        due = row["next_fire_at"]
        try:
            cron = schedules.parse_cron(row["cron"])
            zone = schedules.parse_timezone(row["timezone"])
        except schedules.ScheduleError as exc:
            # Stored valid; a time zone database without the zone any more says otherwise.
            retry = now + datetime.timedelta(hours=1)
            return queue.TickOutcome(row["id"], due, retry, [(due, f"{exc.field}: {exc}")])
        previous_running = (
            row["last_job_status"] is not None and row["last_job_status"] not in FINISHED
        )
        previous_ended_at = None if previous_running else row["last_job_finished_at"]
        plan = schedules.plan(
            cron,
            zone,
            due,
            now,
            catch_up=row["catch_up"],
            overlap=row["overlap"],
            previous_running=previous_running,
            previous_ended_at=previous_ended_at,
            grace=self.settings.misfire_grace,
        )
        if plan.wait:
            return None
        outcome = queue.TickOutcome(row["id"], due, plan.next_fire_at or NEVER, list(plan.skips))
        if plan.fire is not None:
            try:
                outcome.job = self.job_for(row, plan.fire)
            except FireRefused as exc:
                outcome.skips.append((plan.fire, str(exc)))
            except Exception as exc:  # a bug must cost this tick, not every schedule's
                log.exception("schedule %d: tick %sZ could not be fired", row["id"], plan.fire)
                outcome.skips.append((plan.fire, f"internal error ({type(exc).__name__})"))
        return outcome

    def job_for(self, row: dict, tick: datetime.datetime) -> queue.NewJob:
        """The job a schedule's tick fires, checked as the API checks a run.

        Parameters
        ----------
        row : dict
            ``queue.due_schedules``'s row.
        tick : datetime.datetime
            Naive UTC: the job's ``scheduled_for``.

        Returns
        -------
        queue.NewJob
            QUEUED, owned by the schedule's owner.

        Raises
        ------
        FireRefused
            Saying why it cannot fire (never holding a secret's value).
        """
        if row["owner_disabled"]:
            raise FireRefused(f"its owner {row['owner']} is disabled")
        if row["code"] is None:
            version = row["pinned_version"] or "latest"
            raise FireRefused(f"definition {row['definition_name']} has no version {version}")
        visible = (
            row["definition_owner_id"] == row["owner_id"]
            or row["definition_shared"]
            or row["owner_is_admin"]
        )
        if not visible:
            raise FireRefused(
                f"definition {row['definition_name']} is no longer shared with {row['owner']}"
            )
        version = {
            "code": row["code"],
            "shell": row["shell"],
            "args": row["args"],
            "env": row["env"],
            "stdin": row["stdin"],
            "options": row["options"],
            "parameters": row["specs"],
        }
        # A value set as a secret stays one: if this version takes it as anything
        # else it would be shown (in the job's env and parameters), so the tick waits
        # for the schedule's owner to set it again.
        secrets = {spec["name"] for spec in row["specs"] if spec["type"] == "secret"}
        no_longer = sorted(set(row["secret_parameters"]) - secrets)
        if no_longer:
            raise FireRefused(
                f"parameters {', '.join(no_longer)} were set as secrets, and version "
                f"{row['version']} does not take them as secrets: set them again "
                "(PATCH the schedule's parameters)"
            )
        values = {**row["parameters"], **row["secret_parameters"]}
        try:
            run = job_from_version(version, values, row["overrides"])
            fields = complete_job(
                self.sql, self.cfg, self.allowed_shells, run.fields, run.secret_env
            )
        except RunError as exc:
            raise FireRefused(f"the parameters no longer fit version {row['version']}: {exc}")
        except APIError as exc:
            raise FireRefused(exc.message.removeprefix("Invalid request body: "))
        fields.update(
            id=f"job_{uuid.uuid4().hex}",
            submitter_id=row["owner_id"],
            definition_id=row["definition_id"],
            definition_name=row["definition_name"],
            definition_version=row["version"],
            parameters=run.parameters,
            secret_env=run.secret_env or None,
            schedule_id=row["id"],
            scheduled_for=tick,
        )
        detail = f"fired by schedule {row['id']} for {tick.isoformat()}Z"
        return queue.NewJob(fields, row["owner_id"], submit=True, detail=detail)

    def prune(self, now: datetime.datetime) -> int:
        """Delete fire records older than ``scheduler.fire_retention_days`` (every
        ``prune_interval`` seconds; at most one batch per call).

        Returns
        -------
        int
            How many were deleted.
        """
        days = self.settings.fire_retention_days
        if days is None or time.monotonic() - self._last_prune < self.settings.prune_interval:
            return 0
        self._last_prune = time.monotonic()
        return queue.prune_fires(self.sql, now - datetime.timedelta(days=days))

    def seconds_to_sleep(self, now: datetime.datetime) -> float:
        """Seconds until the next tick of any enabled schedule is due, at most
        ``poll_interval`` (a tick that waits, a new or changed schedule)."""
        earliest = queue.next_due_after(self.sql, now)
        if earliest is None:
            return self.settings.poll_interval
        # A hair past the tick, so the pass that wakes for it finds it due.
        seconds = (earliest - utcnow()).total_seconds() + 0.002
        return min(max(seconds, 0.0), self.settings.poll_interval)

    def run(self, stop: threading.Event) -> None:
        """Pass after pass until ``stop`` is set; a database outage is waited out."""
        while not stop.is_set():
            now = utcnow()
            try:
                result = self.run_once(now)
                if result.fired or result.skipped or result.lost:
                    log.info(
                        "pass at %sZ: %d due, %d fired, %d skips, %d taken by another "
                        "scheduler or changed, %d waiting",
                        now.isoformat(),
                        result.due,
                        result.fired,
                        result.skipped,
                        result.lost,
                        result.waiting,
                    )
                pruned = self.prune(now)
                if pruned:
                    log.info("pruned %d fire records", pruned)
                wait = self.seconds_to_sleep(now)
            except DatabaseUnavailable as exc:
                log.warning("database unavailable (%s); trying again", exc)
                wait = self.settings.poll_interval
            stop.wait(wait)


class FireRefused(Exception):
    """A tick cannot fire its job; ``str()`` is the skip's reason."""
