"""Restart safety: jobs outlive the executor that started them, the app workers, and
the whole stack."""

import os
import signal
import subprocess
import sys
import time

import requests

from ..helpers import create_job, wait_for_job


def job_ids(client, count, code, **fields):
    return [create_job(client, code, execute=True, **fields) for _ in range(count)]


def wait_all_running(client, ids, timeout=30):
    for job_id in ids:
        wait_for_job(client, job_id, timeout=timeout, statuses={"RUNNING"})


def wait_until_answering(url, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/api/sysinfo", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not come back within {timeout} s")


def service_pids(supervisorctl) -> list[int]:
    """Pids of the running app workers and the executor, from `supervisorctl status`."""
    pids = []
    for line in supervisorctl("status").stdout.splitlines():
        words = line.replace(",", " ").split()
        if words and words[0].startswith(("app:", "executor")) and "RUNNING" in words:
            pids.append(int(words[words.index("pid") + 1]))
    return pids


def test_sigkill_of_the_executor_and_every_app_worker_loses_no_job(
    stack, stack_admin, supervisorctl, cfg
):
    done_ids = job_ids(stack_admin, 20, "sleep 5; echo done")
    failing = create_job(stack_admin, "sleep 4; exit 3", execute=True)
    timed = create_job(stack_admin, "sleep 60", timeout=8, execute=True)
    to_cancel = create_job(stack_admin, "sleep 60", execute=True)
    wait_all_running(stack_admin, done_ids + [failing, timed, to_cancel])

    pids = service_pids(supervisorctl)
    assert len(pids) == int(cfg["server.processes"]) + 1
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    wait_until_answering(stack)  # supervisor restarts them; the new executor adopts the jobs

    assert stack_admin.post(f"/api/jobs/{to_cancel}/cancel").status_code == 200
    for job_id in done_ids:
        job = wait_for_job(stack_admin, job_id, timeout=40)
        assert (job["status"], job["return_code"], job["stdout"]) == ("COMPLETE", 0, "done\n")
    job = wait_for_job(stack_admin, failing, timeout=40)
    assert (job["status"], job["return_code"]) == ("FAILED", 3)
    assert wait_for_job(stack_admin, timed, timeout=40)["status"] == "TIMED_OUT"
    assert wait_for_job(stack_admin, to_cancel, timeout=10)["status"] == "CANCELLED"
    assert not set(service_pids(supervisorctl)) & set(pids)


def test_stop_and_start_of_the_whole_stack_loses_no_job(stack, stack_admin):
    ids = job_ids(stack_admin, 5, "sleep 6; echo survived")
    wait_all_running(stack_admin, ids)
    tool = [sys.executable, "-m", "baselayer.tools.stack"]
    stopped = subprocess.run([*tool, "stop"], capture_output=True, text=True, timeout=120)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    started = subprocess.run([*tool, "start"], capture_output=True, text=True, timeout=180)
    assert started.returncode == 0, started.stdout + started.stderr
    wait_until_answering(stack)
    for job_id in ids:
        job = wait_for_job(stack_admin, job_id, timeout=40)
        assert (job["status"], job["return_code"], job["stdout"]) == ("COMPLETE", 0, "survived\n")


def program_pids(supervisorctl) -> dict[str, int]:
    """``{program: pid}`` of every running program, from `supervisorctl status`."""
    pids = {}
    for line in supervisorctl("status").stdout.splitlines():
        words = line.replace(",", " ").split()
        if "RUNNING" in words:
            pids[words[0]] = int(words[words.index("pid") + 1])
    return pids


def test_make_run_after_a_code_change_restarts_what_runs_the_code(
    stack, stack_admin, supervisorctl, cfg
):
    from baselayer.tools.app_services import foreign_programs
    from baselayer.tools.code_version import recorded_digest, stack_code_digest

    ids = job_ids(stack_admin, 2, "sleep 4; echo survived")
    wait_all_running(stack_admin, ids)
    before = program_pids(supervisorctl)
    # As if the stack had started from other code, before a `git pull`.
    (cfg.path("app.run_dir") / "code.sha256").write_text("0" * 64 + "\n")
    tool = [sys.executable, "-m", "baselayer.tools.stack"]
    started = subprocess.run([*tool, "start"], capture_output=True, text=True, timeout=180)
    assert started.returncode == 0, started.stdout + started.stderr
    assert "changed since the stack started" in started.stdout
    after = program_pids(supervisorctl)
    # System programs run none of our code: postgres, nginx, and the Slurm test
    # cluster's daemons (services/slurm_cluster/) keep running.
    system = ("postgres", "nginx", "migrations", *foreign_programs(cfg.root))
    ours = [name for name in before if not name.startswith(system)]
    assert ours and all(after[name] != before[name] for name in ours), (before, after)
    for name in ("postgres", "nginx", "munged", "slurmctld", "slurmd"):
        assert after[name] == before[name], name
    assert recorded_digest(cfg.path("app.run_dir")) == stack_code_digest(cfg)
    for job_id in ids:  # adopted by the new executor
        job = wait_for_job(stack_admin, job_id, timeout=40)
        assert (job["status"], job["stdout"]) == ("COMPLETE", "survived\n")
    # Nothing changed since: a second `make run` restarts nothing.
    again = subprocess.run([*tool, "start"], capture_output=True, text=True, timeout=180)
    assert again.returncode == 0 and "changed since the stack started" not in again.stdout
    # (The one-shot migrations run again at every `make run`.)
    now = {name: pid for name, pid in program_pids(supervisorctl).items() if name in ours}
    assert now == {name: after[name] for name in ours}
