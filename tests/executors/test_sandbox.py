"""The optional bubblewrap sandbox (jobs.sandbox: bwrap)."""

import os
import shutil

import pytest

from ..helpers import run_job

pytestmark = pytest.mark.skipif(
    not shutil.which("bwrap"), reason="bubblewrap (bwrap) is not installed"
)


@pytest.fixture
def sandboxed(server):
    server.executor.setup.sandbox = "bwrap"
    server.executor.publish()  # what /api/sysinfo shows of it
    yield
    server.executor.setup.sandbox = None
    server.executor.publish()


def test_sandboxed_job_has_no_network(api, sandboxed):
    job = run_job(api, "cat /proc/net/dev")
    interfaces = [line.split(":")[0].strip() for line in job["stdout"].splitlines()[2:]]
    assert interfaces == ["lo"]


def test_sandboxed_job_sees_a_read_only_system_and_private_tmp(api, sandboxed):
    job = run_job(api, "touch /usr/sandbox_probe; echo secret > /tmp/left_behind; ls /tmp")
    assert "Read-only file system" in job["stderr"]
    assert not os.path.exists("/usr/sandbox_probe")
    assert not os.path.exists("/tmp/left_behind")
    assert "left_behind" not in run_job(api, "ls -a /tmp")["stdout"]


def test_sandboxed_job_still_writes_its_own_directory_and_output(api, sandboxed):
    job = run_job(api, "echo kept > file; cat file; echo $1", args=["arg"])
    assert (job["status"], job["stdout"]) == ("COMPLETE", "kept\narg\n")


def test_sandboxed_job_cannot_see_other_job_directories(api, server, sandboxed):
    job = run_job(api, f"ls -a {server.executor.setup.jobs_dir}")
    assert job["stdout"].split() == [".", "..", job["id"]]


def test_sysinfo_names_the_sandbox(api, sandboxed):
    assert api.get("/api/sysinfo").json()["data"]["isolation"]["sandbox"] == "bwrap"
