"""Schedules' clock: cron expressions, time zones, and what a due schedule does now.

Every function here is pure and takes ``now`` (naive UTC) from its caller, so the
tests drive the clock instead of sleeping for a tick. Times stored and passed
around are naive UTC (as every ``timestamp`` column of the service); a schedule's
cron expression is read in its own IANA time zone.

Cron: the ``cronsim`` library (five fields, Debian cron's semantics, including on
daylight-saving days), plus the crontab(5) shorthands (``SHORTHANDS``); ``@reboot``
and six-field (seconds) expressions are refused. On the day the clock skips an
hour, a job set at a fixed time inside the skipped hour runs when the clock
resumes (02:30 in Europe/Berlin runs at 03:00); on the day it repeats an hour,
a fixed time inside it runs once, at its first occurrence. Expressions with a
``*`` (or ``*/n``) minute or hour field follow the wall clock: ``*/30 * * * *``
runs at 02:00 and 02:30 of both the repeated hour's occurrences.

What a due schedule does (``plan``): a tick is *missed* when the scheduler finds
it more than ``grace`` seconds late (the service was down). With ``catch_up``
``none`` the missed ticks are one recorded skip; with ``latest`` the latest one
fires (late) and the earlier ones are one skip. The overlap policy then applies
to the tick that fires: ``skip`` records a skip when the previous run has not
ended, ``allow`` fires anyway, ``queue`` holds the tick until the previous run
ends (it then fires; ticks that came while it waited are one skip: at most one
tick waits).
"""

import datetime
import functools
import zoneinfo
from dataclasses import dataclass, field

from cronsim import CronSim, CronSimError

#: crontab(5)'s shorthands as five-field expressions (cronsim takes fields only).
SHORTHANDS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

#: Overlap and catch-up policies (``schedules.overlap``, ``schedules.catch_up``).
OVERLAP_POLICIES = ("skip", "queue", "allow")
CATCH_UP_POLICIES = ("none", "latest")

#: Longest cron expression and time zone name accepted (the columns' sizes).
MAX_CRON_LENGTH = 255
MAX_TIMEZONE_LENGTH = 64

#: Most ticks counted in one skipped stretch; past it the reason says "over".
MAX_COUNTED_TICKS = 1000


class ScheduleError(ValueError):
    """A cron expression or time zone refused; ``field`` names it, ``str()`` says why."""

    def __init__(self, field_name: str, message: str):
        self.field = field_name
        super().__init__(message)


def parse_cron(text: str) -> str:
    """The five-field expression ``text`` stands for.

    Parameters
    ----------
    text : str
        Five whitespace-separated fields, or one of ``SHORTHANDS``.

    Returns
    -------
    str
        Five fields separated by single spaces.

    Raises
    ------
    ScheduleError
        Field ``cron``: ``@reboot`` (the service has no boot to run at), another
        ``@`` word, not five fields (six-field expressions with seconds are not
        cron's), a field cronsim refuses, or an expression that never fires.
    """
    if not isinstance(text, str) or len(text) > MAX_CRON_LENGTH:
        raise ScheduleError("cron", f"must be a string of at most {MAX_CRON_LENGTH} characters")
    if not text.isascii():
        raise ScheduleError("cron", "must be ASCII: digits, names, * / - , and spaces")
    stripped = text.strip()
    if stripped.startswith("@"):
        word = stripped.lower()
        if word == "@reboot":
            raise ScheduleError("cron", "@reboot is not supported: a schedule runs on a clock")
        if word not in SHORTHANDS:
            raise ScheduleError(
                "cron", f"unknown shorthand; the shorthands are: {', '.join(SHORTHANDS)}"
            )
        return SHORTHANDS[word]
    parts = stripped.split()
    if len(parts) != 5:
        raise ScheduleError(
            "cron",
            f"must have five fields (minute hour day-of-month month day-of-week), not "
            f"{len(parts)}; seconds are not supported",
        )
    expression = " ".join(parts)
    try:
        ticks = CronSim(expression, datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC))
        next(ticks)
    except CronSimError as exc:
        raise ScheduleError("cron", f"not a cron expression: {exc}") from None
    except (StopIteration, ValueError, IndexError, OverflowError):
        raise ScheduleError("cron", "this expression never fires") from None
    return expression


def parse_timezone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA time zone called ``name``.

    Parameters
    ----------
    name : str
        Such as ``UTC`` or ``Europe/Berlin``.

    Returns
    -------
    zoneinfo.ZoneInfo

    Raises
    ------
    ScheduleError
        Field ``timezone``: not a time zone of the system's IANA database
        (``zoneinfo.available_timezones``: not ``localtime``, which is whatever
        the host is set to, nor a path).
    """
    if (
        not isinstance(name, str)
        or not name
        or len(name) > MAX_TIMEZONE_LENGTH
        or "\0" in name
        or name.startswith(("/", "."))
        or ".." in name
    ):
        raise ScheduleError("timezone", "not an IANA time zone name (such as Europe/Berlin)")
    if name not in _zone_names():
        raise ScheduleError(
            "timezone", f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)"
        )
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError("timezone", f"time zone {name!r} cannot be read here") from None


@functools.lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    # localtime and posixrules are links to whatever the host is set to, not zones.
    return frozenset(zoneinfo.available_timezones() - {"localtime", "posixrules"}) | {"UTC"}


def _aware(utc: datetime.datetime, zone: zoneinfo.ZoneInfo) -> datetime.datetime:
    return utc.replace(tzinfo=datetime.UTC).astimezone(zone)


def _naive_utc(aware: datetime.datetime) -> datetime.datetime:
    return aware.astimezone(datetime.UTC).replace(tzinfo=None)


def next_ticks(
    cron: str, zone: zoneinfo.ZoneInfo, after: datetime.datetime, count: int
) -> list[datetime.datetime]:
    """The first ``count`` ticks strictly after ``after``.

    Parameters
    ----------
    cron : str
        A five-field expression (``parse_cron``).
    zone : zoneinfo.ZoneInfo
        The zone the expression is read in.
    after : datetime.datetime
        Naive UTC.
    count : int

    Returns
    -------
    list of datetime.datetime
        Naive UTC, ascending; fewer than ``count`` when the expression runs out
        (an expression whose dates stop existing yields none).
    """
    ticks = []
    try:
        for tick in CronSim(cron, _aware(after, zone)):
            utc = _naive_utc(tick)
            if utc <= after:
                # From inside a repeated hour (02:10 of its second occurrence), a
                # fixed 02:30 is read as the first occurrence's, already past in UTC.
                continue
            ticks.append(utc)
            if len(ticks) >= count:
                break
    except (StopIteration, ValueError, OverflowError, CronSimError):
        pass
    return ticks


def next_tick(
    cron: str, zone: zoneinfo.ZoneInfo, after: datetime.datetime
) -> datetime.datetime | None:
    """The first tick strictly after ``after`` (naive UTC), or None if there is none."""
    ticks = next_ticks(cron, zone, after, 1)
    return ticks[0] if ticks else None


def ticks_between(
    cron: str,
    zone: zoneinfo.ZoneInfo,
    first: datetime.datetime,
    last: datetime.datetime,
    limit: int = MAX_COUNTED_TICKS,
) -> list[datetime.datetime]:
    """The ticks from ``first`` (a tick, included) to ``last`` (included), at most ``limit``.

    Parameters
    ----------
    cron : str
    zone : zoneinfo.ZoneInfo
    first, last : datetime.datetime
        Naive UTC; ``first`` is a tick of the expression.
    limit : int

    Returns
    -------
    list of datetime.datetime
        Naive UTC, ascending, starting with ``first`` when ``first <= last``.
    """
    if first > last:
        return []
    ticks = [first]
    while len(ticks) < limit:
        following = next_tick(cron, zone, ticks[-1])
        if following is None or following > last:
            break
        ticks.append(following)
    return ticks


@dataclass
class Plan:
    """What one due schedule does now (``plan``).

    Attributes
    ----------
    fire : datetime.datetime or None
        The tick to fire a job for (naive UTC; the job's ``scheduled_for``).
    skips : list of (datetime.datetime, str)
        Ticks recorded as skipped, each with its reason (a stretch of ticks is
        one row, keyed by its first tick).
    next_fire_at : datetime.datetime or None
        The schedule's next tick after this (None: it never fires again).
    wait : bool
        Nothing to do yet: the tick waits for the previous run (overlap
        ``queue``); the schedule stays as it is.
    """

    fire: datetime.datetime | None = None
    skips: list[tuple[datetime.datetime, str]] = field(default_factory=list)
    next_fire_at: datetime.datetime | None = None
    wait: bool = False


def _stretch(
    ticks: list[datetime.datetime], why: str, more: bool = False
) -> tuple[datetime.datetime, str]:
    """One skip row for consecutive ticks: keyed by the first, its reason counting them
    (``more``: there were more than ``ticks`` holds)."""
    if len(ticks) == 1 and not more:
        return ticks[0], why
    many = f"over {len(ticks)}" if more else str(len(ticks))
    return ticks[0], f"{many} ticks from {ticks[0].isoformat()}Z: {why}"


def plan(
    cron: str,
    zone: zoneinfo.ZoneInfo,
    due: datetime.datetime,
    now: datetime.datetime,
    *,
    catch_up: str,
    overlap: str,
    previous_running: bool,
    previous_ended_at: datetime.datetime | None,
    grace: float,
) -> Plan:
    """What a schedule whose next tick ``due`` has come does at ``now``.

    Parameters
    ----------
    cron : str
        Five fields (``parse_cron``).
    zone : zoneinfo.ZoneInfo
    due : datetime.datetime
        Its ``next_fire_at`` (naive UTC), at or before ``now``.
    now : datetime.datetime
        Naive UTC.
    catch_up : {"none", "latest"}
    overlap : {"skip", "queue", "allow"}
    previous_running : bool
        Its previous run (``last_job_id``) has not ended.
    previous_ended_at : datetime.datetime or None
        When the previous run ended (naive UTC); None if it has not or there is none.
    grace : float
        Seconds a tick may be late and still count as on time (later: missed).

    Returns
    -------
    Plan
        ``wait`` (overlap ``queue``, previous run going), or the tick to fire
        (if any), the skips to record and the next tick after ``now``.
    """
    if overlap == "queue" and previous_running:
        return Plan(wait=True, next_fire_at=due)
    result = Plan(next_fire_at=next_tick(cron, zone, now))
    due_ticks = ticks_between(cron, zone, due, now) or [due]
    latest = due_ticks[-1]
    more = False
    if len(due_ticks) >= MAX_COUNTED_TICKS:
        # A long outage: the latest tick is found backwards, not by counting.
        back = _latest_at_or_before(cron, zone, now)
        if back is not None and back > latest:
            latest, more = back, True
            due_ticks.append(latest)
    if overlap == "queue" and previous_ended_at is not None and previous_ended_at >= due:
        # The first due tick waited for the previous run: it fires now; the ones
        # that came while it waited are one skip.
        result.fire = due
        if len(due_ticks) > 1:
            why = (
                f"came while the tick of {due.isoformat()}Z waited for the previous run "
                "(overlap queue: at most one tick waits)"
            )
            result.skips.append(_stretch(due_ticks[1:-1] if more else due_ticks[1:], why, more))
        return result
    if now - latest <= datetime.timedelta(seconds=grace) or catch_up == "latest":
        result.fire = latest
        missed = due_ticks[:-1]
    else:
        missed = due_ticks[:-1] if more else due_ticks
    if missed:
        result.skips.append(
            _stretch(missed, "missed: the scheduler was not running at that time", more)
        )
    if result.fire is not None and previous_running and overlap == "skip":
        result.skips.append((result.fire, "the previous run had not ended (overlap skip)"))
        result.fire = None
    return result


def _latest_at_or_before(
    cron: str, zone: zoneinfo.ZoneInfo, at: datetime.datetime
) -> datetime.datetime | None:
    """The last tick at or before ``at`` (naive UTC), or None."""
    try:
        tick = next(CronSim(cron, _aware(at, zone) + datetime.timedelta(microseconds=1), True))
    except (StopIteration, ValueError, OverflowError, CronSimError):
        return None
    return _naive_utc(tick)
