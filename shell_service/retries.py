"""A job's retry strategy (``retry``): how many attempts, which endings retry, and
the back-off between attempts. Pure: the API checks and completes the strategy
here; the end of an attempt applies it in one statement (``queue.finish_job``).

As AWS Batch's retry strategy (``attempts`` counts the first; ``evaluateOnExit``
by exit code) and Slurm's requeue (a node's failure: ``HOST_LOST``)::

    {"attempts": 3, "on": ["FAILED", "TIMED_OUT", "SERVER_ERROR", "HOST_LOST"],
     "exit_codes": [1, 75], "backoff": {"initial": 10, "factor": 2, "max": 600}}

* ``attempts``: 1 to ``jobs.max_attempts`` (``check_attempts``; the first
  attempt included; 1: no retry). Default 3.
* ``on``: the endings that retry. ``FAILED`` (a non-zero exit code),
  ``TIMED_OUT``, ``SERVER_ERROR`` (the service could not start or watch it) and
  ``HOST_LOST`` (its host, or its Slurm node, was lost). Default ``["FAILED"]``.
  A cancel is never retried.
* ``exit_codes``: the exit codes (1-255) of a ``FAILED`` ending that retry; left
  out (or null): every one.
* ``backoff``: seconds before attempt n+1 once attempt n ended:
  ``min(max, initial * factor ** (n - 1))``. Default no wait (``initial`` 0).
"""

import math
from dataclasses import dataclass

from baselayer.app.config import Config

#: The endings a strategy may retry on, in the order stored.
ENDINGS = ("FAILED", "TIMED_OUT", "SERVER_ERROR", "HOST_LOST")
#: What ``on`` is when left out.
DEFAULT_ON = ("FAILED",)
DEFAULT_ATTEMPTS = 3
#: Back-off defaults: no wait; with an ``initial``, doubling, at most an hour.
DEFAULT_BACKOFF = {"initial": 0, "factor": 2, "max": 3600}
#: The most any config may allow (``jobs.max_attempts``), and the longest
#: back-off (a day): large enough for any use, small enough that no sum overflows.
MAX_ATTEMPTS = 100
MAX_BACKOFF_SECONDS = 86400
MAX_FACTOR = 10

_KEYS = ("attempts", "on", "exit_codes", "backoff")
_BACKOFF_KEYS = ("initial", "factor", "max")


class RetryError(ValueError):
    """A strategy refused: ``field`` names the part (``attempts``,
    ``backoff.initial``...), ``str()`` says why."""

    def __init__(self, field: str, message: str):
        # The whole strategy: the request field names it already.
        super().__init__(message if field == "retry" else f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class RetrySettings:
    """The config's limits on strategies.

    Attributes
    ----------
    max_attempts : int
        ``jobs.max_attempts``: the most attempts a job may ask for.
    """

    max_attempts: int


def retry_settings(cfg: Config) -> RetrySettings:
    """The config's ``jobs.max_attempts`` (1-``MAX_ATTEMPTS``).

    Parameters
    ----------
    cfg : Config

    Returns
    -------
    RetrySettings

    Raises
    ------
    ValueError
        Naming the setting.
    """
    value = cfg.get("jobs.max_attempts", 10)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ATTEMPTS:
        raise ValueError(
            f"config jobs.max_attempts must be an integer 1-{MAX_ATTEMPTS}, not {value!r}"
        )
    return RetrySettings(max_attempts=value)


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _seconds(field: str, value, low: float, high: float) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RetryError(field, "must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise RetryError(field, "must be a finite number")
    if not low <= value <= high:
        raise RetryError(field, f"must be {low:g}-{high:g}")
    return value


def parse_retry(value) -> dict | None:
    """Check a ``retry`` as a request gives it and complete it with the defaults.

    Parameters
    ----------
    value : object
        A JSON object (see the module docstring), or None (no retry).

    Returns
    -------
    dict or None
        Every key set: ``attempts`` (int), ``on`` (list, in ``ENDINGS`` order),
        ``exit_codes`` (sorted list of int, or None: every code), ``backoff``
        (``initial``, ``factor``, ``max``). None for None.

    Raises
    ------
    RetryError
        Naming the field: an unknown key, a wrong type, a number out of its
        range (NaN and infinities included), an unknown ending, an exit code
        out of 1-255, ``exit_codes`` without ``FAILED`` in ``on``, ``max`` below
        ``initial``.
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RetryError("retry", 'must be an object such as {"attempts": 3}')
    for key in value:
        if key not in _KEYS:
            raise RetryError(str(key)[:64], f"unknown field (known: {', '.join(_KEYS)})")
    attempts = value.get("attempts", DEFAULT_ATTEMPTS)
    # The upper bound is the config's jobs.max_attempts (at most MAX_ATTEMPTS),
    # which every caller checks with ``check_attempts``, naming its number (for
    # 10**30 too: a bound here would name another).
    if not _integer(attempts) or attempts < 1:
        raise RetryError("attempts", "must be an integer, 1 or more (the first included)")
    on = value.get("on")
    if on is None:
        on = list(DEFAULT_ON)
    elif not isinstance(on, list) or not on:
        raise RetryError("on", f"must be a non-empty list of: {', '.join(ENDINGS)}")
    for ending in on:
        if ending not in ENDINGS:
            raise RetryError("on", f"each must be one of: {', '.join(ENDINGS)}")
    exit_codes = value.get("exit_codes")
    if exit_codes is not None:
        if not isinstance(exit_codes, list) or not exit_codes or len(exit_codes) > 255:
            raise RetryError(
                "exit_codes", "must be a list of 1-255 exit codes (left out: every one)"
            )
        for code in exit_codes:
            if not _integer(code) or not 0 <= code <= 255:
                raise RetryError("exit_codes", "each must be an integer 1-255")
            if code == 0:
                raise RetryError("exit_codes", "0 is a job that COMPLETEd: never retried")
        if "FAILED" not in on:
            raise RetryError("exit_codes", "applies to FAILED endings: add FAILED to on")
        exit_codes = sorted(set(exit_codes))
    backoff = value.get("backoff")
    if backoff is None:
        backoff = {}
    elif not isinstance(backoff, dict):
        raise RetryError("backoff", "must be an object: initial, factor, max (seconds)")
    for key in backoff:
        if key not in _BACKOFF_KEYS:
            raise RetryError(
                f"backoff.{str(key)[:64]}", f"unknown field (known: {', '.join(_BACKOFF_KEYS)})"
            )
    given_initial = backoff.get("initial", DEFAULT_BACKOFF["initial"])
    initial = _seconds("backoff.initial", given_initial, 0, MAX_BACKOFF_SECONDS)
    given_factor = backoff.get("factor", DEFAULT_BACKOFF["factor"])
    factor = _seconds("backoff.factor", given_factor, 1, MAX_FACTOR)
    if "max" in backoff:
        maximum = _seconds("backoff.max", backoff["max"], 0, MAX_BACKOFF_SECONDS)
        if maximum < initial:
            raise RetryError("backoff.max", "must be at least backoff.initial")
    else:
        maximum = max(DEFAULT_BACKOFF["max"], initial)
    return {
        "attempts": attempts,
        "on": [ending for ending in ENDINGS if ending in on],
        "exit_codes": exit_codes,
        "backoff": {"initial": initial, "factor": factor, "max": maximum},
    }


def backoff_seconds(strategy: dict, attempt: int) -> float:
    """Seconds to wait before the attempt after ``attempt`` (as ``finish_job``'s
    statement computes them).

    Parameters
    ----------
    strategy : dict
        As ``parse_retry`` returns it.
    attempt : int
        The attempt that ended (1 first).

    Returns
    -------
    float
    """
    backoff = strategy["backoff"]
    return float(min(backoff["max"], backoff["initial"] * backoff["factor"] ** (attempt - 1)))


def check_attempts(strategy: dict | None, settings: RetrySettings) -> str | None:
    """What is wrong with ``strategy``'s attempts under the config, if anything.

    Parameters
    ----------
    strategy : dict or None
        As ``parse_retry`` returns it.
    settings : RetrySettings

    Returns
    -------
    str or None
        The message for ``retry`` (a 400), or None when it fits.
    """
    if strategy is not None and strategy["attempts"] > settings.max_attempts:
        return f"attempts: must be at most {settings.max_attempts} (config jobs.max_attempts)"
    return None
