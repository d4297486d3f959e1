"""Removing job directories (``job_removal``): whatever the job left in ``work/``
goes, as the job's user, and nothing outside it, whatever it links to."""

import os
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from sqlalchemy import delete

from shell_service.executors.job_removal import RemovalError, remove_job_directory
from shell_service.models import Job

from ..helpers import run_job, wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="removes as the job's user: root")

NOBODY = 65534


@pytest.fixture
def job_dir():
    """A job directory as the launcher and init make it: root's 0711, its files
    0600, and ``work/`` the (nobody) user's 0700. Removed at the end if left."""
    parent = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="removal_"))
    os.chmod(parent, 0o711)
    root = parent / "job"
    root.mkdir(mode=0o711)
    for name in ("stdout", "stderr", "exit_status", "wrapper.pid"):
        (root / name).write_text(name)
        os.chmod(root / name, 0o600)
    (root / "work").mkdir(mode=0o700)
    os.chown(root / "work", NOBODY, NOBODY)
    yield root
    subprocess.run(["/bin/rm", "-rf", "--", str(parent)])  # deep: not shutil.rmtree


def as_job(root: Path, script: str) -> None:
    """Run ``script`` as the job's user in its work directory."""
    subprocess.run(
        ["/bin/sh", "-c", script],
        cwd=root / "work",
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
        env={"PATH": "/usr/bin:/bin"},
        check=True,
    )


def test_a_tree_deeper_than_python_recursion_goes(job_dir):
    """Trial input: 5000 nested directories made a rmtree raise RecursionError (a 500
    on DELETE, the directory left, the id's next job SERVER_ERROR)."""
    as_job(job_dir, DEEP_JOB)
    remove_job_directory(job_dir)
    assert not job_dir.exists()


def test_many_files_unreadable_dirs_and_odd_names_go(job_dir):
    as_job(
        job_dir,
        "mkdir -p a/b locked && for i in $(seq 2000); do : > a/b/$i; done; "
        ": > locked/inside; chmod 000 locked; : > ' -rf '; : > \"$(printf 'x\\ny')\"; "
        "mkdir -- -- && : > ./--/x",
    )
    remove_job_directory(job_dir)
    assert not job_dir.exists()


def test_symlinks_out_of_the_job_are_never_followed(job_dir):
    # The job's user's own: a removal that followed a link could remove it.
    canary = job_dir.parent / "canary"
    canary.mkdir()
    (canary / "keep").write_text("root's")
    os.chmod(canary, 0o755)
    os.chown(canary, NOBODY, NOBODY)
    os.chown(canary / "keep", NOBODY, NOBODY)
    as_job(job_dir, f"ln -s {canary} link_dir; ln -s {canary}/keep link_file; mkdir real")
    remove_job_directory(job_dir)
    assert not job_dir.exists()
    assert (canary / "keep").read_text() == "root's"


def test_the_user_removes_nothing_they_could_not_remove_themselves(job_dir):
    """A file of root's inside work/ (none is ever there: here to show whose rights
    the removal runs with) stays, and the removal says so."""
    as_job(job_dir, "mkdir sub")
    (job_dir / "work" / "sub" / "roots").write_text("root's")
    os.chmod(job_dir / "work" / "sub", 0o755)
    os.chown(job_dir / "work" / "sub", 0, 0)
    with pytest.raises(RemovalError, match="could not remove"):
        remove_job_directory(job_dir)
    assert (job_dir / "work" / "sub" / "roots").read_text() == "root's"


def test_a_missing_directory_is_no_error(job_dir):
    remove_job_directory(job_dir)
    remove_job_directory(job_dir)
    assert not job_dir.exists()


DEEP_JOB = (
    '/usr/bin/python3 -c "'
    "import os\n"
    "fd = os.open('.', os.O_RDONLY)\n"
    "for _ in range(5000):\n"
    "    os.mkdir('d', dir_fd=fd)\n"
    "    fd, old = os.open('d', os.O_RDONLY, dir_fd=fd), fd\n"
    "    os.close(old)\n"
    '"'
)


def test_a_deleted_jobs_deep_tree_goes_and_its_id_runs_again(api, server):
    """Trial input: DELETE of a job with 5000 nested directories answered 500, left
    the directory, and the id's next job ended SERVER_ERROR (RecursionError)."""
    job_id = f"deep-{uuid.uuid4().hex[:8]}"
    assert run_job(api, DEEP_JOB, id=job_id)["status"] == "COMPLETE"
    files = server.executor.setup.job_files(job_id)
    assert (files.work / "d" / "d").is_dir()
    assert api.delete(f"/api/jobs/{job_id}").status_code == 200
    wait_until(lambda: not os.path.lexists(files.root), "the directory removed")
    again = run_job(api, "echo again", id=job_id)
    assert (again["status"], again["stdout"]) == ("COMPLETE", "again\n")


def test_a_directory_left_under_an_id_is_removed_before_its_next_job(api, server, session_factory):
    """A directory an earlier job with this id left (its removal had not run yet):
    the executor removes it as its owner before the launch; the launcher itself
    never removes what a job wrote."""
    job_id = f"left-{uuid.uuid4().hex[:8]}"
    first = run_job(api, "mkdir -p a/b && echo x > a/b/f", id=job_id)
    assert first["status"] == "COMPLETE"
    files = server.executor.setup.job_files(job_id)
    # Its row goes; its directory stays (as if the executor had not removed it yet).
    with session_factory() as session:
        session.execute(delete(Job).where(Job.id == job_id))
        session.commit()
    assert (files.work / "a" / "b" / "f").exists()
    again = run_job(api, "ls; echo again", id=job_id)
    assert (again["status"], again["stdout"]) == ("COMPLETE", "script\nagain\n")
