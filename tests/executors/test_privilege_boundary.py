"""Issue 11 section 1: nothing a job controls reaches a process with the service's
rights. The job's ``env`` is applied only in the job's own process, after it
dropped to its user; every privileged step names programs by absolute path and
never follows or writes what a job can write."""

import os
import uuid

import pytest

from shell_service.executors.init_program import PROGRAM

from ..helpers import create_job, run_job, wait_for_job, wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the boundary is root's")


def planted_program(api, name: str, where: str) -> str:
    """A job plants ``where/name``: a program that records who runs it, then does
    what the real one would. Returns the path of its record."""
    record = f"{where}/who-ran-{name}"
    job = run_job(
        api,
        f"mkdir -p {where} && chmod 777 {where} && "
        f"printf '#!/bin/sh\\nid -u >> {record}\\nexec /usr/bin/{name} \"$@\"\\n' > {where}/{name} "
        f"&& chmod 755 {where}/{name}",
    )
    assert job["status"] == "COMPLETE", job
    return record


@pytest.mark.parametrize("program", ["setpriv", "sh", "dash", "bash", "python3", "bwrap", "id"])
def test_a_job_path_never_runs_a_planted_program_as_root(api, program):
    """The issue's input (a planted ``setpriv`` on the PATH of the next job), and the
    other programs a privileged step could be tempted to run by bare name."""
    # In the user's home: the same path for the host's processes and in the job's
    # own mounts (a program planted in the job's /tmp would be out of sight of a
    # privileged process outside them, and the test could not fail).
    home = run_job(api, "echo $HOME")["stdout"].strip()
    where = f"{home}/planted-{uuid.uuid4().hex[:8]}"
    record = planted_program(api, program, where)
    job = run_job(api, "echo hi", env={"PATH": f"{where}:/usr/bin:/bin"})
    assert job["status"] == "COMPLETE"
    assert job["stdout"] == "hi\n"
    seen = run_job(api, f"cat {record} 2>/dev/null; echo end")["stdout"]
    assert "0\n" not in seen.splitlines(keepends=True)
    assert seen.endswith("end\n")
    # Read as root too: a record a root process wrote could be unreadable to the job.
    if os.path.exists(record):
        with open(record) as f:
            assert "0" not in f.read().split()


@pytest.mark.parametrize(
    "env",
    [
        {"LD_PRELOAD": "/tmp/evil.so"},
        {"PYTHONPATH": "/tmp/evil", "PYTHONSTARTUP": "/tmp/evil.py", "PYTHONHOME": "/tmp"},
        {"BASH_ENV": "/tmp/evil.sh", "ENV": "/tmp/evil.sh"},
        {"CDPATH": "/tmp", "SHELLOPTS": "xtrace", "PS4": "$(id)"},
    ],
)
def test_hostile_env_reaches_only_the_job(api, env):
    """Variables that steer a dynamic loader, Python or a shell: a privileged process
    given them would run the job's code as root. The job itself just gets them."""
    job = run_job(api, "id -u; printenv | sort", env=env, shell="sh")
    assert job["status"] == "COMPLETE", job
    assert not job["stdout"].startswith("0\n")
    for name, value in env.items():
        assert f"{name}={value}" in job["stdout"]


def test_env_cannot_change_who_the_job_runs_as(api, server):
    job = run_job(
        api, "id -u; echo $USER", env={"USER": "root", "HOME": "/root", "LOGNAME": "root"}
    )
    uid, user = job["stdout"].split()
    assert uid != "0"
    assert user == "root"  # the job's own variable, nothing more


def test_no_new_privileges_a_setuid_program_cannot_raise_the_job(api):
    """``su`` and friends: the job runs with no_new_privs, so a setuid bit is ignored."""
    job = run_job(
        api, "grep NoNewPrivs /proc/self/status; ls -l /bin/su >/dev/null && su -c id root"
    )
    assert "NoNewPrivs:\t1" in job["stdout"]
    assert "uid=0" not in job["stdout"]


def test_the_job_cannot_swap_its_directory_files_for_symlinks(api, server, tmp_path):
    """The output files and the end record live in a root-owned directory the job
    cannot write: a job that tries to replace them fails, and root never follows."""
    secret = tmp_path / "secret"
    secret.write_text("root only\n")
    os.chmod(secret, 0o600)
    job = run_job(
        api,
        f"cd ..; ln -sf {secret} stdout 2>&1; ln -sf {secret} exit_status 2>&1; "
        f"rm -f stderr 2>&1; echo done",
    )
    assert "Permission denied" in job["stdout"]
    assert job["stdout"].endswith("done\n")
    assert secret.read_text() == "root only\n"
    files = server.executor.job_files(job["id"])
    assert not files.stdout.is_symlink()
    assert files.root.stat().st_uid == 0


def test_a_rerun_under_the_same_id_does_not_follow_the_old_jobs_symlinks(api, server, tmp_path):
    """The job directory is made fresh by root on each run; what the last run left in
    its work directory (a symlink to a root file) is removed, never followed."""
    target = tmp_path / "precious"
    target.write_text("keep\n")
    os.chmod(tmp_path, 0o755)
    job = run_job(api, f"ln -s {target} script.bak; ln -s {tmp_path} dir; echo planted")
    assert job["stdout"] == "planted\n"
    files = server.executor.job_files(job["id"])
    server.executor.retention.remove_files(job["id"])
    assert not files.root.exists()
    assert target.read_text() == "keep\n"
    assert tmp_path.exists()


def started(files) -> bool:
    try:
        return files.stdout.read_text() == "started\n"
    except FileNotFoundError:
        return False


def test_the_job_init_is_our_program_with_nothing_of_the_job_or_the_launcher(api, server):
    """The init runs as root for the job's whole life: it is ``build/job_init`` by
    absolute path (static: no loader reads an environment), with an empty
    environment whatever the job's ``env`` holds, and no descriptor of the
    launcher's (its socket to the executor) or of the job's files beyond its
    directory, output files and pipes."""
    hostile = {"LD_PRELOAD": "/tmp/evil.so", "PATH": "/tmp", "GLIBC_TUNABLES": "glibc.x=1"}
    job_id = create_job(api, "echo started; /bin/sleep 30", env=hostile)
    assert api.post(f"/api/jobs/{job_id}/execute").status_code == 200
    files = server.executor.job_files(job_id)
    # Once the output came through, the init has started the job and only copies.
    wait_until(lambda: started(files), "the job's first output")
    pid = int(files.wrapper_pid.read_text().split()[0])
    try:
        assert os.readlink(f"/proc/{pid}/exe") == str(PROGRAM)
        with open(f"/proc/{pid}/environ", "rb") as f:
            assert f.read() == b""
        with open(f"/proc/{pid}/status") as f:
            assert "Uid:\t0\t0\t0\t0" in f.read()
        held = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        in_job_dir = sorted(t for t in held if t.startswith(str(files.root)))
        assert in_job_dir == sorted([str(files.root), str(files.stdout), str(files.stderr)])
        # Besides: /dev/null as stdio, the two output pipes, its signalfd. Nothing else
        # (the launcher's socket to the executor above all).
        others = sorted(t for t in held if not t.startswith(str(files.root)))
        assert [t.split(":")[0] for t in others] == [
            "/dev/null",
            "/dev/null",
            "/dev/null",
            "anon_inode",
            "pipe",
            "pipe",
        ], held
    finally:
        assert api.post(f"/api/jobs/{job_id}/cancel").status_code == 200
    assert wait_for_job(api, job_id)["status"] == "CANCELLED"
