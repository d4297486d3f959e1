"""End-to-end fixtures: the test stack (nginx, app workers, status server) as users see it.

`make test` starts the stack first and runs pytest with BASELAYER_TESTS=required
(tests/skip_policy.py), so a missing stack fails these tests there; run alone, they
skip and say why.
"""

import os
import subprocess
import sys
import time

import pytest
import requests
import yaml

from baselayer.app.config import load_config

from .. import skip_policy
from ..conftest import Client
from ..helpers import Gate


@pytest.fixture(scope="session")
def stack(cfg):
    url = f"http://{cfg['server.host']}:{cfg['server.port']}"
    try:
        requests.get(url + "/api/sysinfo", timeout=5).raise_for_status()
    except requests.RequestException as exc:
        reason = f"the test stack does not answer at {url} ({exc}); `make test` starts it"
        if skip_policy.required():
            pytest.fail(reason)
        pytest.skip(reason)
    return url


@pytest.fixture(scope="session")
def stack_admin(cfg, stack):
    with open(cfg.path("app.tokens_file")) as f:
        token = yaml.safe_load(f)[cfg["app.initial_token_key"]]
    client = Client(stack, token)
    client.user_id = client.get("/api/tokens").json()["data"][0]["user_id"]
    return client


@pytest.fixture
def stack_user(stack, stack_admin):
    """A new normal user on the stack, with a token made through the API."""
    username = f"e2e_{time.time_ns()}"
    user = stack_admin.post("/api/users", json={"username": username}).json()["data"]
    token = stack_admin.post("/api/tokens", json={"name": "e2e", "user_id": user["id"]})
    client = Client(stack, token.json()["data"]["token"])
    client.user_id = user["id"]
    return client


@pytest.fixture
def stack_gate(stack_user):
    """A ``helpers.Gate`` for a job of ``stack_user`` on the stack (the stack's own
    accounts: its config, not the in-process tests' ``cfg``)."""
    gate = Gate(load_config()["jobs"]["accounts"]["uid_base"], stack_user.user_id)
    yield gate
    gate.release()


@pytest.fixture(scope="session")
def supervisorctl(cfg):
    conf = cfg.path("app.run_dir") / "supervisord.conf"
    bindir = os.path.dirname(sys.executable)

    def run(*args):
        return subprocess.run(
            [os.path.join(bindir, "supervisorctl"), "-c", str(conf), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run
