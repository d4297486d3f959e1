"""Two hosts on one database: the test stack's executor and a second one, started
here with another host name (``hostb``), its own jobs directory and three slots,
stand in for two machines. A burst spreads over both and no job starts twice; each
host's limits hold; a host whose executor is killed for good is lost (its jobs end
"host hostb lost", or are queued again) while the other goes on; one restarted
within ``hosts.lost_after`` adopts its jobs.

tests/config.test.yaml sets ``hosts.lost_after`` to 8 s and the queue ``hostb``,
which only that host serves."""

import collections
import datetime
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from shell_service.job_paths import reachable_dir

from ..helpers import create_job, wait_for_job, wait_until

HOST_B = "hostb"
SLOTS_B = 3


class SecondHost:
    """The executor of a second host: ``services/executor`` as supervisor runs it,
    with config overrides of its own (host name, jobs directory, slots)."""

    def __init__(self, cfg, stack: str):
        self.cfg, self.stack = cfg, stack
        run_dir = cfg.path("app.run_dir")
        self.jobs_dir = run_dir / "jobs_hostb"
        self.overrides = run_dir / "hostb.yaml"
        self.overrides.write_text(
            yaml.safe_dump(
                {
                    "hosts": {"name": HOST_B},
                    "jobs": {"dir": str(self.jobs_dir), "max_running": SLOTS_B},
                }
            )
        )
        self.log = cfg.path("app.log_dir") / "executor_hostb.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "BASELAYER_CONFIG": f"{os.environ['BASELAYER_CONFIG']}:{self.overrides}",
            "PYTHONUNBUFFERED": "1",
            "PROMETHEUS_MULTIPROC_DIR": str(self.cfg.path("app.run_dir") / "metrics"),
        }
        command = [sys.executable, "-m", "services.executor.executor"]
        command += ["--run-dir", str(self.cfg.path("app.run_dir"))]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=self.cfg.root, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        name = f"{HOST_B}:{self.process.pid}"

        def registered():
            assert self.process.poll() is None, f"hostb's executor exited: see {self.log}"
            info = requests.get(self.stack + "/api/sysinfo", timeout=5).json()["data"]
            return name in {e["id"] for e in info["executors"]}

        wait_until(registered, "hostb's executor in the registry", timeout=60)

    def kill(self) -> None:
        """SIGKILL, as a machine that goes away: its jobs' processes go on."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


def end_hostb_jobs(stack_admin) -> None:
    """Cancel every unfinished job of the queue ``hostb`` (an earlier run's, or this
    test's) and wait until they have ended: each test starts with hostb's slots free."""
    path = "/api/jobs?queue=hostb&status=QUEUED,RUNNING&limit=1000"
    for job in stack_admin.get(path).json()["data"]:
        stack_admin.post(f"/api/jobs/{job['id']}/cancel")
    wait_until(lambda: not stack_admin.get(path).json()["data"], "hostb's jobs ended", 60)


@pytest.fixture
def second_host(cfg, stack, stack_admin):
    host = SecondHost(cfg, stack)
    host.start()
    end_hostb_jobs(stack_admin)
    yield host
    if host.process.poll() is not None:
        host.start()
    end_hostb_jobs(stack_admin)
    host.stop()


def stack_host(stack_admin) -> str:
    ids = {e["id"] for e in stack_admin.get("/api/sysinfo").json()["data"]["executors"]}
    # The Slurm executor's "<host>/slurm" is no host of local jobs.
    (name,) = {i.rpartition(":")[0] for i in ids if "/" not in i} - {HOST_B}
    return name


def most_at_once(jobs: list[dict]) -> int:
    """The most of ``jobs`` RUNNING at one moment (from started_at to finished_at)."""
    at = datetime.datetime.fromisoformat
    edges = sorted(
        [(at(job["started_at"]), 1) for job in jobs]
        + [(at(job["finished_at"]), -1) for job in jobs],
        key=lambda edge: (edge[0], edge[1]),  # an end before a start at the same time
    )
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


def starts(client, job_id: str) -> int:
    events = client.get(f"/api/jobs/{job_id}/events").json()["data"]
    return sum(1 for e in events if e["to_status"] == "RUNNING" and e["from_status"] != "RUNNING")


def init_pid(host: SecondHost, job_id: str) -> int:
    # Where the executor really puts job directories (a run dir under /tmp, say,
    # gets a fallback jobs cannot see past): job_paths' rule.
    jobs_dir = reachable_dir(host.jobs_dir, os.geteuid() == 0, "jobs")
    path = jobs_dir / job_id / "wrapper.pid"
    wait_until(path.exists, f"{path}")
    return int(path.read_text().split()[0])


def test_a_burst_spreads_over_both_hosts_within_each_ones_slots(
    second_host, stack_admin, stack_user
):
    ids = [create_job(stack_user, "sleep 1", execute=True) for _ in range(80)]
    jobs = [wait_for_job(stack_user, job_id, timeout=120) for job_id in ids]
    assert {job["status"] for job in jobs} == {"COMPLETE"}
    by_host = collections.defaultdict(list)
    for job in jobs:
        by_host[job["host"]].append(job)
    assert set(by_host) == {stack_host(stack_admin), HOST_B}, {
        h: len(j) for h, j in by_host.items()
    }
    assert most_at_once(by_host[HOST_B]) <= SLOTS_B
    assert all(starts(stack_user, job_id) == 1 for job_id in ids)


def test_a_host_lost_for_good_loses_its_jobs_and_the_other_goes_on(
    second_host, stack_admin, stack_user
):
    lost = create_job(stack_user, "echo before the loss; sleep 120", queue=HOST_B, execute=True)
    # Its first run waits long; queued again, its second run finds the mark and ends.
    mark = f"$HOME/.requeued_{time.time_ns()}"
    again = create_job(
        stack_user,
        f'if [ -e "{mark}" ]; then echo second run; else touch "{mark}"; sleep 120; fi',
        queue=HOST_B,
        requeue_on_host_loss=True,
        execute=True,
    )
    # One that ends by itself while its host is away: its end is on hostb alone.
    meanwhile = create_job(stack_user, "echo one; sleep 3; echo two", queue=HOST_B, execute=True)
    for job_id in (lost, again, meanwhile):
        job = wait_for_job(stack_user, job_id, timeout=30, statuses={"RUNNING"})
        assert job["host"] == HOST_B
    lost_pid, again_pid = init_pid(second_host, lost), init_pid(second_host, again)
    init_pid(second_host, meanwhile)

    second_host.kill()
    # The other host goes on meanwhile.
    other = create_job(stack_user, "echo still here", execute=True)
    assert wait_for_job(stack_user, other)["stdout"] == "still here\n"

    ended = wait_for_job(stack_user, lost, timeout=40)
    assert ended["status"] == "SERVER_ERROR"
    assert ended["status_message"].startswith("host hostb lost")
    assert ended["stdout"] is None  # on hostb, out of reach while it is lost
    queued = wait_for_job(stack_user, again, timeout=40, statuses={"QUEUED"})
    assert queued["host"] is None and queued["started_at"] is None
    events = stack_user.get(f"/api/jobs/{again}/events").json()["data"]
    assert ("RUNNING", "QUEUED", "host hostb lost; queued again") in {
        (e["from_status"], e["to_status"], e["detail"]) for e in events
    }
    # Never adopted by the other host: their processes are on hostb, still running.
    assert Path(f"/proc/{lost_pid}").exists() and Path(f"/proc/{again_pid}").exists()

    second_host.start()  # the host comes back: its lost jobs' processes end
    wait_until(lambda: not Path(f"/proc/{lost_pid}").exists(), "the lost job's init gone")
    wait_until(lambda: not Path(f"/proc/{again_pid}").exists(), "the first run's init gone")
    done = wait_for_job(stack_user, again, timeout=40)
    assert (done["status"], done["stdout"], done["host"]) == ("COMPLETE", "second run\n", HOST_B)
    assert starts(stack_user, again) == 2
    # This stack does not share hostb's jobs directory: the log is the stored output.
    page = stack_user.get(f"/api/jobs/{again}/log?offset=0").json()["data"]
    assert (page["text"], page["offset"], page["finished"]) == ("second run\n", 11, True)
    followed = stack_user.get(f"/api/jobs/{again}/log?follow=true&offset=7")
    assert followed.text == "run\n"
    # What the lost job wrote, recovered once its processes ended; still SERVER_ERROR.
    recovered = wait_until(
        lambda: (job := stack_user.get(f"/api/jobs/{lost}").json()["data"])["stdout"] and job,
        "the lost job's output recovered",
    )
    assert (recovered["status"], recovered["stdout"]) == ("SERVER_ERROR", "before the loss\n")
    events = stack_user.get(f"/api/jobs/{lost}/events").json()["data"]
    assert events[-1]["detail"].startswith("output recovered from host hostb after its loss")
    finished = stack_user.get(f"/api/jobs/{meanwhile}").json()["data"]
    assert (finished["status"], finished["stdout"], finished["return_code"]) == (
        "SERVER_ERROR",
        "one\ntwo\n",
        0,
    )
    events = stack_user.get(f"/api/jobs/{meanwhile}/events").json()["data"]
    assert events[-1]["detail"] == (
        "output recovered from host hostb after its loss (the job had ended with exit code 0)"
    )


def test_a_host_back_within_lost_after_adopts_its_jobs(second_host, stack_user):
    job_id = create_job(stack_user, "sleep 4; echo adopted", queue=HOST_B, execute=True)
    wait_for_job(stack_user, job_id, timeout=30, statuses={"RUNNING"})
    live = stack_user.get(f"/api/jobs/{job_id}/log")
    assert live.status_code == 409
    assert "runs on host 'hostb'" in live.json()["message"]
    # Killed once its init runs (killed while launching, a job ends SERVER_ERROR).
    init_pid(second_host, job_id)
    killed_at = datetime.datetime.now(datetime.UTC)
    second_host.kill()
    second_host.start()
    assert datetime.datetime.now(datetime.UTC) - killed_at < datetime.timedelta(seconds=8)
    done = wait_for_job(stack_user, job_id, timeout=40)
    assert (done["status"], done["stdout"], done["host"]) == ("COMPLETE", "adopted\n", HOST_B)
    events = stack_user.get(f"/api/jobs/{job_id}/events").json()["data"]
    assert any((e["detail"] or "").startswith("adopted by hostb:") for e in events)
