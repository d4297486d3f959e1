"""A job whose start fails for the service's reasons is never left RUNNING."""

import asyncio

import pytest

from baselayer.app.plain_sql import DatabaseUnavailable
from shell_service.executors import local
from shell_service.executors.launcher_client import LaunchError

from ..helpers import run_job


@pytest.fixture
def flaky_accounts(server, monkeypatch):
    """Make the executor's account lookups fail with the given errors, in order,
    then work (the cache is bypassed: every job asks)."""
    accounts = server.executor.accounts
    real = accounts.ensure
    failures = []

    def ensure(user_id, username):
        if failures:
            raise failures.pop(0)
        return real(user_id, username)

    monkeypatch.setattr(accounts, "cached", lambda user_id: None)
    monkeypatch.setattr(accounts, "ensure", ensure)
    monkeypatch.setattr(local, "ACCOUNT_WAIT", 5.0)
    return failures


def test_a_start_waits_out_a_database_that_is_away(api, flaky_accounts):
    flaky_accounts += [DatabaseUnavailable("the database is restarting")] * 2
    job = run_job(api, "echo started")
    assert (job["status"], job["stdout"]) == ("COMPLETE", "started\n")
    assert flaky_accounts == []


def test_an_unexpected_failure_ends_the_job_as_server_error(api, flaky_accounts):
    flaky_accounts.append(RuntimeError("something the service did not expect"))
    job = run_job(api, "echo never")
    assert job["status"] == "SERVER_ERROR"
    assert "something the service did not expect" in job["status_message"]
    assert job["stdout"] is None


def test_a_launcher_that_died_is_replaced(api, server):
    """Killed (the OOM killer, a crash): the next job starts through a new one."""
    old = server.executor.launcher.process
    old.kill()
    old.wait(10)
    job = run_job(api, "echo after")
    assert (job["status"], job["stdout"]) == ("COMPLETE", "after\n")
    assert server.executor.launcher.process.pid != old.pid


@pytest.mark.parametrize(
    "bad",
    [
        {"id": "bad", "root": "/nonexistent-root/bad"},  # no script, no argv
        ["not", "an", "object"],
        {  # a request whose error, with its id, is longer than a reply
            "id": "x" * 300,
            "root": "relative/" + "y" * 300,
            "script": "true",
            "argv": ["/bin/sh", "./script"],
            "env": {},
            "umask": 0o22,
            "rlimits": {},
            "kill_grace": 1,
            "max_log_bytes": 1024,
        },
    ],
)
def test_a_request_the_launcher_cannot_use_fails_that_job_only(api, server, bad):
    """Whatever a request makes the launcher raise is that job's error; the launcher
    goes on serving."""
    launcher = server.executor.launcher
    future = asyncio.run_coroutine_threadsafe(launcher.launch(bad), server.loop)
    with pytest.raises(LaunchError) as raised:
        future.result(10)
    if isinstance(bad, dict) and bad["root"].startswith("relative/"):
        # Cut to fit a reply, the reason survives (it was "reply too long").
        assert "absolute path" in str(raised.value)
    pid = launcher.process.pid
    assert run_job(api, "echo still")["stdout"] == "still\n"
    assert launcher.process.pid == pid
