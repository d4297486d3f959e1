"""Limits from a job's resources: a job that passes one is stopped and told which."""

import os
import shutil

import pytest

from ..helpers import run_job

needs_python = pytest.mark.skipif(not shutil.which("python3"), reason="python3 is not installed")


@pytest.fixture
def cgroups(server):
    if server.executor.setup.cgroups is None:
        pytest.skip("this host gives the service no writable cgroup memory controller")
    return server.executor.setup.cgroups


@needs_python
def test_job_over_its_memory_is_killed_as_out_of_memory(api, cgroups):
    job = run_job(
        api, "import time; b = bytearray(200 * 2**20); time.sleep(1)", shell="python3", memory_mb=64
    )
    assert job["status"] == "FAILED"
    assert "out of memory" in job["status_message"]


@needs_python
def test_job_within_its_memory_completes(api, cgroups):
    job = run_job(api, "b = bytearray(20 * 2**20); print(len(b))", shell="python3", memory_mb=256)
    assert job["status"] == "COMPLETE"


def test_sysinfo_reports_the_isolation_layers(api, server):
    isolation = api.get("/api/sysinfo").json()["data"]["isolation"]
    assert isolation["run_as"] == ("user account" if os.geteuid() == 0 else "service user")
    assert isolation["rlimits"] is True
    detected = server.executor.setup.cgroups
    assert isolation["cgroups"] == (detected.describe() if detected else None)


def test_fork_bomb_is_stopped_by_the_process_limit(api, cgroups):
    """The job's cgroup holds at most ``jobs.max_processes``."""
    job = run_job(
        api, "i=0; while [ $i -lt 2000 ]; do sleep 3 & i=$((i+1)); done; wait", timeout=30
    )
    assert job["status"] == "FAILED"
    assert "fork" in job["stderr"].lower() or "resource" in job["stderr"].lower()
    assert api.get("/api/sysinfo").status_code == 200


def test_cpu_time_limit_names_the_limit(api):
    # A 1-second timeout gives 1 CPU-second; a busy loop reaches it about as the clock does.
    job = run_job(api, "while :; do :; done", timeout=1, cpus=1)
    assert job["status"] in ("FAILED", "TIMED_OUT")
    if job["status"] == "FAILED":
        assert "CPU time limit" in job["status_message"]


def test_jobs_together_weigh_less_cpu_than_the_service(server, cgroups):
    if "cpu" not in cgroups.roots:
        pytest.skip("this host gives the service no cgroup cpu controller")
    group = cgroups.roots["cpu"] / "shell_service"
    weight = int(server.cfg["jobs.cpu_weight"])
    if cgroups.version == 2:
        assert int((group / "cpu.weight").read_text()) == weight
    else:
        assert int((group / "cpu.shares").read_text()) == weight * 1024 // 100


def test_the_log_cap_limits_only_stdout_and_stderr_not_the_jobs_files(api, server):
    """Issue 11 section 4: ``head -c 104857601 /dev/zero > f`` gave "File too large"
    when the cap was a file-size rlimit. Here with a 1 MB cap and a 3 MB file."""
    cap = server.cfg["jobs"]["max_log_bytes"]
    server.cfg["jobs"]["max_log_bytes"] = 1_000_000
    try:
        job = run_job(
            api,
            "head -c 3000001 /dev/zero > f && stat -c %s f && "
            "dd if=/dev/zero of=g bs=1M count=2 2>/dev/null && wc -c < g",
        )
    finally:
        server.cfg["jobs"]["max_log_bytes"] = cap
    assert job["status"] == "COMPLETE", job
    assert job["stdout"] == "3000001\n2097152\n"


def test_the_default_log_cap_does_not_stop_a_large_data_file(api):
    """The issue's exact input: one byte more than the default 100 MiB cap."""
    job = run_job(api, "head -c 104857601 /dev/zero > f && stat -c %s f; rm -f f", timeout=120)
    assert job["status"] == "COMPLETE", job
    assert job["stdout"] == "104857601\n"


def test_two_stacks_jobs_with_one_id_get_cgroups_of_their_own(server, cgroups, tmp_path):
    """Every stack on a host puts its jobs' cgroups under one parent: the names
    carry the stack (its jobs directory), so one stack's job never rewrites the
    limits of another's job with the same id."""
    from shell_service.executors.cgroups import JobCgroup, job_cgroup_name

    ours = server.executor.setup.job_cgroup("hello")
    (tmp_path / "jobs").mkdir()
    theirs = JobCgroup(cgroups, job_cgroup_name(tmp_path / "jobs", "hello"))
    assert set(ours.dirs.values()).isdisjoint(theirs.dirs.values())


def test_a_job_cgroup_name_tells_nothing_of_the_job_id(server, tmp_path):
    """Trial input: a job read another user's job's memory use and process count at
    /sys/fs/cgroup/memory/shell_service/<stack>-<their job id>/, guessing the id."""
    from shell_service.executors.cgroups import NAME_KEY_FILE, job_cgroup_name, stack_key

    jobs = tmp_path / "jobs"
    jobs.mkdir()
    name = job_cgroup_name(jobs, "payroll-2026")
    assert "payroll" not in name and name.startswith(stack_key(jobs) + "-")
    assert job_cgroup_name(jobs, "payroll-2026") == name  # the executor finds it again
    assert job_cgroup_name(jobs, "payroll-2027") != name
    assert (jobs / NAME_KEY_FILE).stat().st_mode & 0o777 == 0o600
    other = tmp_path / "other"
    other.mkdir()
    (other / NAME_KEY_FILE).write_bytes(b"k" * 32)
    assert job_cgroup_name(other, "payroll-2026").split("-")[1] != name.split("-")[1]
