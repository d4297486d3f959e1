"""A job's directory says whose it is (job_paths.ATTEMPT_FILE: the attempt and the
job's never-reused number), so a deleted job's directory, left until the executor
removes it, is never read as the output of a new job given the same id."""

import os
import uuid

from sqlalchemy import text

from shell_service.executors.job_files import write_attempt
from shell_service.job_paths import attempt_in

from ..helpers import create_job, wait_for_job
from ..ui.conftest import Browser

LEFTOVER = "a deleted job's secret\n"


def leftover_directory(server, job_id: str, number: int) -> None:
    """What a deleted job of id ``job_id`` (numbered ``number``) leaves behind."""
    directory = server.app.settings["jobs_dir"] / job_id
    directory.mkdir(mode=0o700)
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        write_attempt(fd, 1, number)
    finally:
        os.close(fd)
    for stream in ("stdout", "stderr"):
        (directory / stream).write_text(LEFTOVER)


def test_attempt_in_reads_only_the_jobs_own_directory(tmp_path):
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        write_attempt(fd, 3, 41)
    finally:
        os.close(fd)
    assert attempt_in(tmp_path, 41) == 3
    assert attempt_in(tmp_path, 42) is None  # another job's
    assert attempt_in(tmp_path / "none", 41) is None
    (tmp_path / "attempt").write_text("3\n")  # no number: not known to be this job's
    assert attempt_in(tmp_path, 41) is None


def test_a_new_job_never_shows_a_deleted_jobs_leftover_output(server, api, db_session):
    # The new job waits for a READY one: QUEUED, never started.
    hold = create_job(api, "true")
    job_id = f"reused_{uuid.uuid4().hex[:8]}"
    create_job(api, "echo mine", id=job_id, execute=True, depends_on=[{"job": hold}])
    number = db_session.scalar(text("SELECT number FROM jobs WHERE id = :id"), {"id": job_id})
    db_session.commit()
    leftover_directory(server, job_id, number + 1000)
    base = f"/api/jobs/{job_id}/log"
    for query in ("", "?stream=stderr", "?tail=100", "?offset=3"):
        page = api.get(base + query).json()["data"]
        assert page["text"] == "" and page["size"] == 0, query
    download = api.get(base + "?download=true")
    assert download.status_code == 200 and download.content == b""
    # The dashboard's stream and downloads too.
    web = Browser(server.url)
    web.sign_in(api.token)
    assert web.get(f"/ui/jobs/{job_id}/download/stdout").content == b""
    assert LEFTOVER not in web.get(f"/ui/jobs/{job_id}").text
    # Cancelled (its dependency never runs): ended, so the stream answers at once.
    assert api.post(f"/api/jobs/{job_id}/cancel").status_code == 200
    stream = web.get(f"/ui/jobs/{job_id}/log").text
    assert "secret" not in stream and "event: end" in stream
    assert LEFTOVER not in api.get(base).json()["data"]["text"]
    assert LEFTOVER.encode() not in api.get(base + "?download=true").content
    follow = api.get(base + "?follow=true")
    assert follow.status_code == 200 and LEFTOVER not in follow.text


def test_a_jobs_own_directory_is_read(server, api):
    job_id = create_job(api, "echo mine; echo err >&2", execute=True)
    wait_for_job(api, job_id)
    assert api.get(f"/api/jobs/{job_id}/log").json()["data"]["text"] == "mine\n"
    assert api.get(f"/api/jobs/{job_id}/log?download=true").content == b"mine\n"
