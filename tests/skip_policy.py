"""Skips that hide a missing feature fail the run (a pytest plugin; tests/conftest.py loads it).

`make test` (baselayer/tools/test_runner.py, so also `.ci/run`) runs pytest with
``BASELAYER_TESTS=required``. Then a skipped test, or a skipped module, is reported
as failed unless its reason is on ``ALLOWED``: the few things a host may legitimately
lack, each with a check of its own that the host really lacks it (so a bug that makes
the service believe it has no cgroups still fails). Anything else the suite needs (root,
bubblewrap, bash, python3, the test stack) is installed or running where the suite
runs, or the run fails and says why. Without the variable (pytest run by hand) skips
stay skips.

xfail is not touched: the suite has none.
"""

import os
from collections.abc import Callable
from pathlib import Path

import pytest

ENV = "BASELAYER_TESTS"
REQUIRED = "required"

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _no_cgroup_controller(name: str) -> Callable[[], bool]:
    """True when this host mounts no writable cgroup ``name`` controller (v1 or v2)."""

    def lacks() -> bool:
        v1 = CGROUP_ROOT / name
        if v1.is_dir() and os.access(v1, os.W_OK):
            return False
        try:
            v2 = (CGROUP_ROOT / "cgroup.controllers").read_text().split()
        except OSError:
            v2 = []
        return not (name in v2 and os.access(CGROUP_ROOT, os.W_OK))

    return lacks


def _autogroup_off() -> bool:
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() != "1"
    except OSError:
        return True


#: Skip reason (its start) -> whether the host really lacks the thing (checked on each skip).
ALLOWED: dict[str, Callable[[], bool]] = {
    # The config names a database server elsewhere: nothing of ours to lock down.
    "the database is an external server": lambda: True,
    "this host gives the service no writable cgroup memory controller": _no_cgroup_controller(
        "memory"
    ),
    "this host gives the service no cgroup cpu controller": _no_cgroup_controller("cpu"),
    "the kernel groups no CPU time by session": _autogroup_off,
}


def required() -> bool:
    return os.environ.get(ENV) == REQUIRED


def skip_reason(report) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


def allowed(reason: str) -> bool:
    return any(reason.startswith(start) and lacks() for start, lacks in ALLOWED.items())


def _fail_if_hiding(report) -> None:
    if not (required() and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = skip_reason(report)
    if allowed(reason):
        return
    report.outcome = "failed"
    report.longrepr = (
        f"skipped under {ENV}={REQUIRED}, which allows no skip for this reason: {reason}\n"
        f"(make it run here, or add the reason to ALLOWED in {__name__} "
        "if a host may legitimately lack it)"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    _fail_if_hiding(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    report = yield
    _fail_if_hiding(report)
    return report
