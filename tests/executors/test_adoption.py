"""Restart safety: a job outlives the worker that started it, and is never left RUNNING.

These tests fake a dead worker: a RUNNING row whose ``worker`` names a process that
no longer exists. The in-process executor's adoption loop must take the job over.
"""

import datetime
import socket
import subprocess
import time

from baselayer.app.models import utcnow
from shell_service.executors.processes import WRAPPER, WRAPPER_SHELL, job_command

from ..factories import JobFactory
from ..helpers import wait_for_job

ADOPTION_WAIT = 20  # the adoption loop runs every 5 s


def dead_worker() -> str:
    process = subprocess.Popen(["true"])
    process.wait()
    return f"{socket.gethostname()}:{process.pid}"


def orphan(api, server, **fields):
    job = JobFactory(
        submitter=api.user,
        status="RUNNING",
        worker=dead_worker(),
        started_at=utcnow(),
        queued_at=utcnow(),
        **fields,
    )
    files = server.executor.job_files(job.id)
    files.prepare(job.code, None, server.executor.job_uid(job.number))
    return job, files


def start_orphan_wrapper(server, job, files) -> subprocess.Popen:
    """A wrapper that no live worker started, as after a worker was SIGKILLed."""
    command = job_command("sh", [], server.executor.job_uid(job.number))
    with open(files.stdout, "wb") as out:
        wrapper = subprocess.Popen(
            [WRAPPER_SHELL, str(WRAPPER), str(files.root), "-", "c=0", *command],
            cwd=files.work,
            stdout=out,
            stderr=subprocess.DEVNULL,
            process_group=0,
        )
    return wrapper


def test_finished_orphan_is_finalized_from_its_status_file(api, server):
    job, files = orphan(api, server, code="echo hi; exit 3")
    files.stdout.write_text("hi\n")
    files.exit_status.write_text("3\n")
    done = wait_for_job(api, job.id, timeout=ADOPTION_WAIT)
    assert (done["status"], done["return_code"], done["stdout"]) == ("FAILED", 3, "hi\n")
    events = api.get(f"/api/jobs/{job.id}/events").json()["data"]
    assert any("adopted" in (e["detail"] or "") for e in events)


def test_running_orphan_is_watched_to_completion(api, server):
    job, files = orphan(api, server, code="sleep 2; echo done; exit 4")
    wrapper = start_orphan_wrapper(server, job, files)
    done = wait_for_job(api, job.id, timeout=ADOPTION_WAIT)
    wrapper.wait()
    assert (done["status"], done["return_code"], done["stdout"]) == ("FAILED", 4, "done\n")


def test_orphan_past_its_timeout_is_killed_as_timed_out(api, server):
    job, files = orphan(api, server, code="sleep 60", timeout=1)
    wrapper = start_orphan_wrapper(server, job, files)
    done = wait_for_job(api, job.id, timeout=ADOPTION_WAIT + 10)
    wrapper.wait(10)
    assert done["status"] == "TIMED_OUT"


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
        worker="a-host-that-is-gone:4242",
        queued_at=utcnow() - datetime.timedelta(minutes=10),
        started_at=utcnow() - datetime.timedelta(minutes=10),
    )
    done = wait_for_job(api, job.id, timeout=ADOPTION_WAIT)
    assert done["status"] == "SERVER_ERROR"
    assert "heartbeat" in done["status_message"]


def test_recent_job_of_another_host_is_left_alone(api):
    job = JobFactory(
        submitter=api.user,
        status="RUNNING",
        worker="another-host:4242",
        queued_at=utcnow(),
        started_at=utcnow(),
    )
    time.sleep(7)  # more than one adoption round
    assert api.get(f"/api/jobs/{job.id}").json()["data"]["status"] == "RUNNING"
    session = JobFactory._meta.sqlalchemy_session
    session.delete(session.get(type(job), job.id))
    session.commit()
