"""tests/skip_policy.py: under `make test`, a skip that hides a missing feature fails the run."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from baselayer.tools import test_runner

from .. import skip_policy

ROOT = Path(__file__).resolve().parents[2]

SAMPLE = """
import pytest

def test_runs():
    pass

def test_missing_tool():
    pytest.skip("frobnicate is not installed")

@pytest.mark.skipif(True, reason="needs a feature nobody built")
def test_marked():
    pass

def test_external_database():
    pytest.skip("the database is an external server; its own auth protects it")

@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure():
    assert False
"""


def run_sample(tmp_path, env_value, files=None):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    for name, text in (files or {"test_sample.py": SAMPLE}).items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    env = {k: v for k, v in os.environ.items() if k != skip_policy.ENV}
    if env_value is not None:
        env[skip_policy.ENV] = env_value
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.skip_policy", "-p", "no:cacheprovider"]
        + ["-rA", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def outcomes(result) -> dict[str, str]:
    """test name -> PASSED/FAILED/ERROR/SKIPPED/XFAIL from the -rA summary."""
    found = {}
    for line in result.stdout.splitlines():
        word, _, rest = line.partition(" ")
        if word in {"PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL"}:
            if word == "SKIPPED":  # SKIPPED [1] test_sample.py:14: reason
                found[rest.split(": ", 1)[1]] = word
            else:
                found[rest.split("::")[-1].split(" ")[0]] = word
    return found


def test_make_test_runs_pytest_with_skips_required(monkeypatch):
    """The runner (what `make test` and .ci/run call) hands pytest the variable."""
    calls = []
    monkeypatch.delenv(skip_policy.ENV, raising=False)
    monkeypatch.setattr(test_runner, "start_or_explain", lambda cfg: True)
    monkeypatch.setattr(test_runner, "stop_stack", lambda cfg: None)
    monkeypatch.setattr(test_runner, "clean_up", lambda cfg: True)
    monkeypatch.setattr(
        test_runner.subprocess, "call", lambda command, **kw: calls.append((command, kw)) or 0
    )
    assert test_runner.run_tests(["-k", "nothing"]) == 0
    [(command, kw)] = calls
    assert command[1:4] == ["-m", "pytest", "tests"]
    assert kw["env"][skip_policy.ENV] == skip_policy.REQUIRED


def test_a_skip_fails_the_run_when_tests_are_required(tmp_path):
    result = run_sample(tmp_path, "required")
    assert result.returncode == 1, result.stdout + result.stderr
    found = outcomes(result)
    assert found == {
        "test_runs": "PASSED",
        "test_missing_tool": "FAILED",
        "test_marked": "ERROR",  # skipped in setup: reported as an error there
        "test_expected_failure": "XFAIL",
        "the database is an external server; its own auth protects it": "SKIPPED",
    }, result.stdout
    assert "which allows no skip for this reason: frobnicate is not installed" in result.stdout
    assert "which allows no skip for this reason: needs a feature nobody built" in result.stdout


def test_skips_stay_skips_when_run_by_hand(tmp_path):
    result = run_sample(tmp_path, None)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 3 skipped, 1 xfailed" in result.stdout


def test_a_skipped_module_fails_the_run(tmp_path):
    module = """
    import pytest
    pytest.skip("no such library", allow_module_level=True)

    def test_never():
        pass
    """
    result = run_sample(tmp_path, "required", {"test_module.py": module})
    assert result.returncode != 0
    assert "1 error" in result.stdout, result.stdout
    assert "which allows no skip for this reason: no such library" in result.stdout


def test_an_allowed_reason_still_fails_where_the_host_has_the_thing(monkeypatch):
    reason = "this host gives the service no writable cgroup memory controller"
    monkeypatch.setitem(skip_policy.ALLOWED, reason, lambda: True)
    assert skip_policy.allowed(reason)
    monkeypatch.setitem(skip_policy.ALLOWED, reason, lambda: False)
    assert not skip_policy.allowed(reason)
    assert not skip_policy.allowed("needs root")
