"""A job whose start fails for the service's reasons is never left RUNNING."""

import pytest

from baselayer.app.plain_sql import DatabaseUnavailable
from shell_service.executors import local

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
