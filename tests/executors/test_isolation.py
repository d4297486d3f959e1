"""A job runs as nobody the service trusts: it cannot read, signal or reach the service."""

import os

import pytest

from ..conftest import Client
from ..factories import TokenFactory
from ..helpers import create_job, run_job, wait_for_job, wait_until

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="per-job users need the service to run as root"
)


@needs_root
def test_job_never_runs_as_root(api):
    first = run_job(api, "id -u; id -G")
    assert "0" not in first["stdout"].split()


@needs_root
def test_job_cannot_read_the_tokens_file(api, cfg):
    """The stack's own token file (outside /tmp: a job's /tmp is its user's own)."""
    secret = cfg.path("app.tokens_file")
    assert secret.exists() and secret.stat().st_mode & 0o077 == 0
    job = run_job(api, f"cat {secret}")
    assert job["status"] == "FAILED"
    assert job["stdout"] == ""
    # Denied; or, for a project under /tmp, out of sight (the job's /tmp is its own).
    hidden = str(secret).startswith("/tmp/")
    assert ("No such file" if hidden else "Permission denied") in job["stderr"]


@needs_root
def test_job_cannot_read_another_users_job_directory(api, server):
    """One user's jobs share their account; another user's job cannot enter them."""
    first = run_job(api, "echo private > mine.txt; pwd")
    other_dir = first["stdout"].strip()
    assert run_job(api, f"cat {other_dir}/mine.txt")["stdout"] == "private\n"
    token = TokenFactory()
    other = Client(server.url, token.secret)
    job = run_job(other, f"cat {other_dir}/mine.txt; ls {os.path.dirname(other_dir)}/..")
    assert "private" not in job["stdout"]
    assert "Permission denied" in job["stderr"]


@needs_root
def test_kill_minus_one_in_a_job_leaves_the_service_running(api):
    job = run_job(api, "kill -9 -1; sleep 0.2; echo still here")
    assert job["status"] == "COMPLETE"
    assert api.get("/api/sysinfo").status_code == 200
    assert run_job(api, "echo next")["status"] == "COMPLETE"


@needs_root
def test_job_cannot_connect_to_the_service_database(api, cfg):
    if cfg["database.host"]:
        pytest.skip("the database is an external server; its own auth protects it")
    socket_dir = cfg.path("app.run_dir") / "pgsock"
    job = run_job(
        api,
        f"ls {socket_dir} && echo listed; "
        f"cat < /dev/null > {socket_dir}/.s.PGSQL.5432 && echo opened",
    )
    assert "listed" not in job["stdout"]
    assert "opened" not in job["stdout"]


def test_job_output_past_the_log_cap_is_dropped_and_flagged(api, server):
    cap = int(server.cfg["jobs.max_log_bytes"])
    server.cfg["jobs"]["max_log_bytes"] = 100_000
    try:
        job = run_job(api, "head -c 300000 /dev/zero | tr '\\0' x; echo done >&2")
    finally:
        server.cfg["jobs"]["max_log_bytes"] = cap
    assert job["stdout_truncated"] is True
    assert "max_log_bytes" in job["status_message"]
    files = server.executor.job_files(job["id"])
    assert files.stdout.stat().st_size == 100_000
    assert "done" in job["stderr"]


def test_output_cut_at_the_cap_is_cut_on_a_character_boundary(api, server):
    cap = int(server.cfg["jobs.max_log_bytes"])
    server.cfg["jobs"]["max_log_bytes"] = 100_001
    try:
        # 3-byte characters: 100,001 is not a multiple of 3.
        job = run_job(api, "i=0; while [ $i -lt 40000 ]; do printf '€'; i=$((i+1)); done")
    finally:
        server.cfg["jobs"]["max_log_bytes"] = cap
    data = server.executor.job_files(job["id"]).stdout.read_bytes()
    assert len(data) == 99_999
    assert data.decode("utf-8") == "€" * 33_333


@pytest.mark.parametrize("extra, truncated", [(0, False), (1, True)])
def test_output_exactly_at_the_cap_is_not_flagged_one_byte_more_is(api, server, extra, truncated):
    cap = int(server.cfg["jobs.max_log_bytes"])
    server.cfg["jobs"]["max_log_bytes"] = 5000
    try:
        job = run_job(api, f"head -c {5000 + extra} /dev/zero | tr '\\0' x")
    finally:
        server.cfg["jobs"]["max_log_bytes"] = cap
    assert job["stdout_truncated"] is truncated
    assert ("max_log_bytes" in (job["status_message"] or "")) is truncated
    assert len(job["stdout"]) == 5000


@needs_root
def test_a_job_cannot_find_the_cgroups_of_other_jobs_but_reads_its_own_limit(api, server):
    """Job cgroups under a parent of root's 0711 (no listing), named by a keyed hash
    of the job id (no guessing from an id: trial input). A job still reads its own
    limit, as a JVM or Go runtime sizes itself from it."""
    if server.executor.setup.cgroups is None:
        pytest.skip("this host gives the service no writable cgroup memory controller")
    other = create_job(api, "sleep 30", memory_mb=128)
    assert api.post(f"/api/jobs/{other}/execute").status_code == 200
    # Its cgroup exists while it runs: a guess could find it only then.
    wait_for_job(api, other, statuses={"RUNNING"})
    try:
        script = """
            for d in /sys/fs/cgroup/shell_service /sys/fs/cgroup/*/shell_service; do
                [ -d "$d" ] && { ls "$d" >/dev/null 2>&1 && echo "listed $d" || echo hidden; }
            done
            own=$(grep -E '(:memory:|^0::)/' /proc/self/cgroup | head -1 | cut -d: -f3)
            # Guess the other job's cgroup from our own name's stack prefix and its id.
            guess="$(dirname "$own")/$(basename "$own" | cut -d- -f1)-OTHER"
            for d in /sys/fs/cgroup/memory /sys/fs/cgroup; do
                [ -e "$d$guess" ] && echo "guessed $d$guess"
            done
            cat "/sys/fs/cgroup/memory$own/memory.limit_in_bytes" 2>/dev/null \
                || cat "/sys/fs/cgroup$own/memory.max"
        """.replace("OTHER", other)
        job = run_job(api, script, memory_mb=64)
        lines = job["stdout"].split()
        assert "listed" not in job["stdout"] and "hidden" in lines, job
        assert "guessed" not in job["stdout"], job
        assert lines[-1] == str(64 * 2**20), job
    finally:
        api.post(f"/api/jobs/{other}/cancel")


@needs_root
def test_the_init_pid_file_is_the_services_alone(api, server):
    """``wrapper.pid`` holds the init's host pid: only the executor reads it."""
    job_id = create_job(api, "sleep 30")
    assert api.post(f"/api/jobs/{job_id}/execute").status_code == 200
    files = server.executor.job_files(job_id)
    try:
        wait_until(lambda: files.wrapper_pid.exists(), "the init's pid file")
        assert files.wrapper_pid.stat().st_mode & 0o777 == 0o600
        seen = run_job(api, f"cat {files.wrapper_pid} && echo READ")
        assert "READ" not in seen["stdout"], seen
        # Refused, not out of sight (the job directory is on the same path in its mounts).
        assert "Permission denied" in seen["stderr"], seen
    finally:
        api.post(f"/api/jobs/{job_id}/cancel")
