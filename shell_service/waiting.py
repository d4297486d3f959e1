"""Moving waiting jobs on: the waiting-jobs service's pass (``services/waiting/``).

A QUEUED job with ``waiting_for`` set is not claimable (Slurm's PENDING with a
Reason). One pass settles the dependencies on jobs that have ended, cancels the
jobs whose dependencies can no longer hold (until none is left: a cancel can
doom the jobs that depend on it), releases those whose dependencies hold or
whose retry back-off is over, cancels the tasks left QUEUED of cancelled
arrays, makes the array tasks that are due and ends the
arrays whose tasks have all ended (which can settle more dependencies: the
pass goes round again while anything ended). The statements are in
``queue/waiting.py``; a pass runs on each NOTIFY of a job queued or ended, and
at least every ``waiting.poll_interval`` seconds (a back-off's end, a NOTIFY
missed while the database was away).
"""

import datetime
import logging
from dataclasses import dataclass

from baselayer.app.config import Config
from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL

from .queue import waiting
from .queue.claim import UNLIMITED

log = logging.getLogger(__name__)

#: Most rounds of one pass (each round a cascade step: a cancel, an array's end).
MAX_ROUNDS = 1000


@dataclass(frozen=True)
class WaitingSettings:
    """The ``waiting:`` and ``arrays:`` sections of the config, checked.

    Attributes
    ----------
    poll_interval : float
        Most seconds between passes.
    max_array_size : int
        Every array task index is below this (Slurm's ``MaxArraySize``).
    tasks_ahead : int
        Most array tasks of one user QUEUED (made, not yet claimed) at once,
        over all their arrays; and most made in one statement.
    """

    poll_interval: float
    max_array_size: int
    tasks_ahead: int


def waiting_settings(cfg: Config) -> WaitingSettings:
    """The config's ``waiting:`` and ``arrays:`` sections.

    Parameters
    ----------
    cfg : Config

    Returns
    -------
    WaitingSettings

    Raises
    ------
    ValueError
        Naming a setting that is not a positive number (the ``arrays:`` ones:
        positive integers, ``max_size`` at most 10**9: a task's id holds its index).
    """
    waiting_section = cfg.get("waiting") or {}
    arrays_section = cfg.get("arrays") or {}
    poll = waiting_section.get("poll_interval", 1.0)
    if isinstance(poll, bool) or not isinstance(poll, int | float) or poll <= 0:
        raise ValueError(f"config waiting.poll_interval must be a number > 0, not {poll!r}")

    def whole(name: str, default: int, most: int) -> int:
        value = arrays_section.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= most:
            raise ValueError(f"config arrays.{name} must be an integer 1 to {most}, not {value!r}")
        return value

    return WaitingSettings(
        poll_interval=float(poll),
        max_array_size=whole("max_size", 100_000, 10**9),
        tasks_ahead=whole("tasks_ahead", 1000, 100_000),
    )


@dataclass
class PassResult:
    """What one pass did (counts)."""

    settled: int = 0
    cancelled: int = 0
    released: int = 0
    tasks_made: int = 0
    arrays_ended: int = 0

    def __bool__(self) -> bool:
        return any(vars(self).values())


class WaitingJobs:
    """The pass over waiting jobs (see the module docstring).

    Parameters
    ----------
    sql : PlainSQL
        This process's connection.
    settings : WaitingSettings
    """

    def __init__(self, sql: PlainSQL, settings: WaitingSettings):
        self.sql = sql
        self.settings = settings

    def run_once(self, now: datetime.datetime | None = None) -> PassResult:
        """One pass: round after round while a round ends any job (a cancel or an
        array's end settles the dependencies on it), at most ``MAX_ROUNDS``.

        Parameters
        ----------
        now : datetime.datetime, optional
            Naive UTC, for every statement (default: the clock's as each
            runs: an array's end is never stamped before its last task's).

        Returns
        -------
        PassResult
        """

        def clock() -> datetime.datetime:
            return now or utcnow()

        result = PassResult()
        for _ in range(MAX_ROUNDS):
            result.settled += waiting.settle_dependencies(self.sql, clock())
            cancelled = waiting.cancel_unsatisfiable(self.sql, clock())
            result.cancelled += cancelled
            result.released += waiting.release_due(self.sql, clock())
            result.cancelled += waiting.cancel_tasks_of_cancelled_arrays(self.sql, clock())
            result.tasks_made += waiting.make_tasks(
                self.sql, clock(), self.settings.tasks_ahead, UNLIMITED
            )
            ended = waiting.end_arrays(self.sql, clock())
            result.arrays_ended += ended
            if not cancelled and not ended:
                break
        return result

    def seconds_to_sleep(self) -> float:
        """Seconds until the earliest back-off ends, at most ``poll_interval``."""
        earliest = waiting.next_eligible(self.sql)
        if earliest is None:
            return self.settings.poll_interval
        seconds = (earliest - utcnow()).total_seconds() + 0.002
        return min(max(seconds, 0.0), self.settings.poll_interval)
