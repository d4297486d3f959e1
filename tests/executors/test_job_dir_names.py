"""A job's id names its directory: an id made of dots, or not a name at all, is
refused everywhere a job's directory is made, read or removed, and by the API
and the database before that."""

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from shell_service import job_paths
from shell_service.executors.retention import Retention

from ..api.envelope import assert_error

BAD_IDS = [".", "..", "...", "a/b", "../x", "", "x" * 129, "a b", "\x00"]


@pytest.mark.parametrize("job_id", BAD_IDS)
def test_job_dir_refuses_anything_but_a_jobs_name(tmp_path, job_id):
    with pytest.raises(ValueError):
        job_paths.job_dir(tmp_path, job_id)
    with pytest.raises(ValueError):
        job_paths.output_file(tmp_path, job_id, "stdout")


@pytest.mark.parametrize("job_id", ["a", "a.b", ".a", "a..", "-", "_" * 128])
def test_job_dir_takes_every_jobs_name(tmp_path, job_id):
    assert job_paths.job_dir(tmp_path, job_id) == tmp_path / job_id


@pytest.mark.parametrize("job_id", [".", ".."])
def test_removing_a_deleted_job_of_a_dotted_name_removes_nothing(tmp_path, job_id):
    jobs_dir = tmp_path / "jobs"
    other = jobs_dir / "someone_elses_job"
    other.mkdir(parents=True)
    (other / "stdout").write_text("kept")
    (tmp_path / "beside").write_text("kept")
    Retention(cfg=None, sql=None, host="h", jobs_dir=jobs_dir).remove_files(job_id)
    assert (other / "stdout").read_text() == "kept"
    assert (tmp_path / "beside").read_text() == "kept"


@pytest.mark.parametrize("job_id", [".", "..", "....", "a/b"])
def test_the_database_refuses_a_job_id_that_is_not_a_name(engine, job_id):
    with pytest.raises(IntegrityError), engine.begin() as connection:
        user_id = connection.execute(
            text("INSERT INTO users (username) VALUES (:u) RETURNING id"),
            {"u": f"dots_{uuid.uuid4().hex[:8]}"},
        ).scalar_one()
        connection.execute(
            text(
                "INSERT INTO jobs (id, code, shell, status, submitter_id)"
                " VALUES (:id, 'true', 'sh', 'READY', :user)"
            ),
            {"id": job_id, "user": user_id},
        )


@pytest.mark.parametrize("job_id", [".", "..", "..."])
def test_every_call_that_names_a_new_job_refuses_dots(api, job_id):
    assert_error(api.post("/api/jobs", json={"id": job_id, "code": "true"}), 400)
    name = f"dots_{uuid.uuid4().hex[:8]}"
    assert api.post("/api/definitions", json={"name": name, "code": "true"}).status_code == 200
    body = assert_error(api.post(f"/api/definitions/{name}/run", json={"id": job_id}), 400)
    assert "id" in body["data"]["errors"]
