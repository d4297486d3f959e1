"""Restart safety: a job outlives the executor that started it, and is never left RUNNING.

These tests fake a dead executor: a RUNNING row whose ``executor`` names a process that
no longer exists. The in-process executor's adoption loop must take the job over.
"""

import asyncio
import dataclasses
import datetime
import json
import logging
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from baselayer.app.models import utcnow
from shell_service import queue
from shell_service.executors.job_files import JobFiles
from shell_service.executors.job_init import process_start_time
from shell_service.executors.launch import launch_job
from shell_service.executors.launcher_client import LauncherClient
from shell_service.executors.local import RunningJob
from shell_service.executors.processes import open_job_init, wait_for_pidfd
from shell_service.queue import ClaimedJob

from ..factories import JobFactory
from ..helpers import wait_for_job, wait_until

ADOPTION_WAIT = 20  # the adoption loop runs every 5 s


def dead_executor() -> str:
    process = subprocess.Popen(["true"])
    process.wait()
    return f"{socket.gethostname()}:{process.pid}"


def orphan(api, server, **fields):
    job = JobFactory(
        submitter=api.user,
        status="RUNNING",
        executor=dead_executor(),
        host=socket.gethostname(),
        started_at=utcnow(),
        queued_at=utcnow(),
        **fields,
    )
    return job, server.executor.job_files(job.id)


@pytest.fixture
def other_launcher():
    """A launcher of no live executor's, as after an executor was SIGKILLed."""
    loop = asyncio.new_event_loop()
    launcher = loop.run_until_complete(asyncio.to_thread(LauncherClient))
    yield loop, launcher
    launcher.sock.close()
    launcher.process.wait(10)
    loop.close()


def start_orphan(server, other_launcher, job, username, init_keeps_timeout=True):
    """Start ``job`` through another launcher, exactly as the executor would have;
    returns a coroutine-free waiter: call it to wait for the job's init to exit.
    ``init_keeps_timeout=False``: the init is not told the timeout (only the
    executor keeps it then)."""
    loop, launcher = other_launcher
    executor = server.executor
    claimed = ClaimedJob(
        id=job.id, number=job.number, code=job.code, shell=job.shell, args=job.args,
        env=job.env, stdin=job.stdin, timeout=job.timeout, cpus=job.cpus,
        memory_mb=job.memory_mb, queued_at=job.queued_at, started_at=job.started_at,
        submitter_id=job.submitter_id, username=username, executor=job.executor,
        cancel_requested_at=job.cancel_requested_at, queue=job.queue,
    )  # fmt: skip
    running = RunningJob(
        id=job.id,
        files=executor.job_files(job.id),
        started_at=job.started_at,
        deadline=job.started_at + datetime.timedelta(seconds=job.timeout),
        cgroup=executor.setup.job_cgroup(job.id),
    )
    launch = executor.setup.job_launch(claimed, running, executor.account(claimed))
    if not init_keeps_timeout:
        launch = dataclasses.replace(launch, timeout=None)
    pidfd = loop.run_until_complete(launch_job(launcher, launch))
    return lambda: loop.run_until_complete(wait_for_pidfd(pidfd))


def test_finished_orphan_is_finalized_from_its_status_file(api, server):
    job, files = orphan(api, server, code="echo hi; exit 3")
    files.root.mkdir(parents=True)
    files.stdout.write_text("hi\n")
    files.exit_status.write_text(json.dumps({"code": 3}))
    done = wait_for_job(api, job.id, timeout=ADOPTION_WAIT)
    assert (done["status"], done["return_code"], done["stdout"]) == ("FAILED", 3, "hi\n")
    events = api.get(f"/api/jobs/{job.id}/events").json()["data"]
    assert any("adopted" in (e["detail"] or "") for e in events)


def test_running_orphan_is_watched_to_completion(api, server, other_launcher):
    job, files = orphan(api, server, code="sleep 2; echo done; exit 4")
    wait_for_init = start_orphan(server, other_launcher, job, api.user.username)
    done = wait_for_job(api, job.id, timeout=ADOPTION_WAIT)
    wait_for_init()
    assert (done["status"], done["return_code"], done["stdout"]) == ("FAILED", 4, "done\n")


def test_orphan_past_its_timeout_is_killed_as_timed_out(api, server, other_launcher):
    """The adopter ends an orphan past its deadline (here its init was not told
    the timeout): the executor's own timer, after a restart."""
    job, files = orphan(api, server, code="sleep 60", timeout=1)
    wait_for_init = start_orphan(
        server, other_launcher, job, api.user.username, init_keeps_timeout=False
    )
    done = wait_for_job(api, job.id, timeout=ADOPTION_WAIT + 10)
    wait_for_init()
    assert done["status"] == "TIMED_OUT"
    assert "timed_out" not in files.read_end()  # the adopter ended it, not the init


def test_an_unwatched_job_ends_at_its_timeout_by_its_init_alone(api, server, other_launcher):
    """No executor watches the job (its launcher's executor is gone, as during a
    make stop): its init ends it at the deadline all the same, and says so; the
    adopter then records TIMED_OUT from the record."""
    job, files = orphan(api, server, code="echo started; sleep 60", timeout=1)
    wait_for_init = start_orphan(server, other_launcher, job, api.user.username)
    wait_for_init()  # returns at the deadline (+ the grace), adopter or not
    record = files.read_end()
    assert (record["code"], record["timed_out"]) == (143, True)
    done = wait_for_job(api, job.id, timeout=ADOPTION_WAIT + 10)
    assert (done["status"], done["stdout"]) == ("TIMED_OUT", "started\n")


def test_cancel_of_an_orphan_is_carried_out_by_its_adopter(api, server, other_launcher):
    """The cancel came while no executor ran the job (its NOTIFY reached nobody):
    the adopter sees ``cancel_requested_at`` and ends it, with its final record."""
    job, files = orphan(api, server, code="echo started; sleep 60")
    wait_for_init = start_orphan(server, other_launcher, job, api.user.username)
    assert api.post(f"/api/jobs/{job.id}/cancel").status_code == 200
    done = wait_for_job(api, job.id, timeout=ADOPTION_WAIT + 10)
    wait_for_init()
    assert (done["status"], done["return_code"], done["stdout"]) == ("CANCELLED", 143, "started\n")


def test_orphan_with_no_process_and_no_status_becomes_server_error(api, server):
    job, files = orphan(api, server, code="sleep 1")
    session = JobFactory._meta.sqlalchemy_session
    session.get(type(job), job.id).started_at = utcnow() - datetime.timedelta(minutes=5)
    session.commit()
    done = wait_for_job(api, job.id, timeout=ADOPTION_WAIT)
    assert done["status"] == "SERVER_ERROR"
    assert "gone" in done["status_message"]


def test_job_of_a_host_that_went_silent_becomes_server_error(api):
    job = JobFactory(
        submitter=api.user,
        status="RUNNING",
        executor="a-host-that-is-gone:4242",
        host="a-host-that-is-gone",
        queued_at=utcnow() - datetime.timedelta(minutes=10),
        started_at=utcnow() - datetime.timedelta(minutes=10),
    )
    done = wait_for_job(api, job.id, timeout=ADOPTION_WAIT)
    assert done["status"] == "SERVER_ERROR"
    assert "heartbeat" in done["status_message"]


def test_recent_job_of_another_host_is_left_alone(api):
    """A stale job of a silent host beside it: once that one is ended, an adoption
    round has looked at both rows, and the recent one must still be RUNNING."""
    recent = JobFactory(
        submitter=api.user,
        status="RUNNING",
        executor="another-host:4242",
        host="another-host",
        queued_at=utcnow(),
        started_at=utcnow(),
    )
    stale = JobFactory(
        submitter=api.user,
        status="RUNNING",
        executor="a-host-that-is-gone:4243",
        host="a-host-that-is-gone",
        queued_at=utcnow() - datetime.timedelta(minutes=10),
        started_at=utcnow() - datetime.timedelta(minutes=10),
    )
    assert wait_for_job(api, stale.id, timeout=ADOPTION_WAIT)["status"] == "SERVER_ERROR"
    assert api.get(f"/api/jobs/{recent.id}").json()["data"]["status"] == "RUNNING"
    session = JobFactory._meta.sqlalchemy_session
    session.delete(session.get(type(recent), recent.id))
    session.commit()


def test_a_cancel_while_no_executor_holds_the_job_is_carried_out_once_one_is_back(
    api, server, other_launcher
):
    """The app worker only records a cancel: while the job's executor is stopped
    (here: a live process stands for it, so no adopter takes the job) the job
    stays RUNNING with its processes; once that executor is gone for good, the
    executor that adopts the job ends it as CANCELLED."""
    stand_in = subprocess.Popen(["sleep", "600"])
    try:
        job, files = orphan(api, server, code="echo started; sleep 60")
        session = JobFactory._meta.sqlalchemy_session
        session.get(type(job), job.id).executor = f"{socket.gethostname()}:{stand_in.pid}"
        session.commit()
        wait_for_init = start_orphan(server, other_launcher, job, api.user.username)
        wait_until(lambda: files.stdout.exists() and files.stdout.read_text(), "the job started")
        assert api.post(f"/api/jobs/{job.id}/cancel").status_code == 200
        time.sleep(6)  # more than an adoption round: nobody ends it
        recorded = api.get(f"/api/jobs/{job.id}").json()["data"]
        assert (recorded["status"], bool(recorded["cancel_requested_at"])) == ("RUNNING", True)
        assert files.read_end() is None  # its processes run on
    finally:
        stand_in.kill()
        stand_in.wait()
    done = wait_for_job(api, job.id, timeout=ADOPTION_WAIT + 10)
    wait_for_init()
    assert (done["status"], done["return_code"], done["stdout"]) == ("CANCELLED", 143, "started\n")


def test_an_init_that_exited_unreaped_does_not_run(tmp_path):
    # A retry's next attempt on this host finds the last attempt's init so: its
    # directory is reused without "ending the processes of its earlier run".
    files = JobFiles(tmp_path / "job_x")
    files.root.mkdir()
    live = subprocess.Popen(["sleep", "30"])
    exited = subprocess.Popen(["true"])
    try:
        files.wrapper_pid.write_text(f"{live.pid} {process_start_time(live.pid)}\n")
        fd = open_job_init(files)
        assert fd is not None
        os.close(fd)
        started = process_start_time(exited.pid)
        stat = Path(f"/proc/{exited.pid}/stat")
        wait_until(lambda: stat.read_text().split()[2] == "Z", "the child a zombie", 10)
        files.wrapper_pid.write_text(f"{exited.pid} {started}\n")  # a zombie now
        assert open_job_init(files) is None
    finally:
        live.kill()
        live.wait()
        exited.wait()


def test_a_job_whose_end_is_being_stored_is_not_taken_from_its_executor(
    api, server, monkeypatch, caplog
):
    # Its end is stored on the executor's ends thread; until that returns the job is
    # still watched, though the database no longer shows it RUNNING here. An
    # adoption pass meanwhile must not judge it taken (a WARNING per job, and its
    # pidfd signalled after the end).
    job_id = api.post("/api/jobs", json={"code": "true"}).json()["data"]["id"]
    stored, release = threading.Event(), threading.Event()
    finish_job = queue.finish_job

    def finish_then_hold(sql, finished_id, *args, **kwargs):
        result = finish_job(sql, finished_id, *args, **kwargs)
        if finished_id == job_id:
            stored.set()
            release.wait(30)
        return result

    monkeypatch.setattr(queue, "finish_job", finish_then_hold)
    assert api.post(f"/api/jobs/{job_id}/execute").status_code == 200
    try:
        assert stored.wait(30)
        executor = server.executor
        assert job_id in executor.watching
        with caplog.at_level(logging.WARNING, logger="shell_service.executors.local"):
            asyncio.run_coroutine_threadsafe(executor.adopt_jobs(), server.loop).result(30)
        assert not executor.watching[job_id].taken
        assert "was taken from this executor" not in caplog.text
    finally:
        release.set()
    assert wait_for_job(api, job_id)["status"] == "COMPLETE"
