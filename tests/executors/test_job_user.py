"""Issue 11 section 3: a job's user, as on a batch cluster. Each API user's jobs run
as that user's own Unix account (a name, a home that persists, umask 022); one
user's jobs share files, other users' jobs cannot read or signal them."""

import os
import pwd
import subprocess
import uuid

import pytest

from ..factories import TokenFactory
from ..helpers import create_job, run_job, wait_for_job

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="user accounts need root")


@pytest.fixture
def other_api(server):
    """A second normal user."""
    from ..conftest import Client

    token = TokenFactory()
    client = Client(server.url, token.secret)
    client.user = token.user
    return client


def test_the_job_has_a_name_a_home_and_a_login_environment(api):
    """The issue's inputs: ``whoami``, ``getpass.getuser()``, USER and LOGNAME."""
    job = run_job(api, 'whoami; echo "$USER $LOGNAME $HOME"; cd ~ && pwd; id -un')
    assert job["status"] == "COMPLETE", job
    name, env_line, home, id_name = job["stdout"].split("\n", 3)[0:4]
    user, logname, env_home = env_line.split()
    assert name == user == logname == id_name.strip()
    assert env_home == home
    entry = pwd.getpwnam(name)
    assert entry.pw_dir == home and entry.pw_uid != 0
    py = run_job(
        api,
        "import getpass, os, pathlib, pwd\n"
        "print(getpass.getuser(), pwd.getpwuid(os.getuid()).pw_name, pathlib.Path.home())",
        shell="python3",
    )
    assert py["stdout"].split() == [name, name, home]


def test_the_name_comes_from_the_username(api):
    name = run_job(api, "whoami")["stdout"].strip()
    assert api.user.username.lower().replace(".", "_")[:20] in name


def test_one_users_jobs_share_files_and_the_home_persists(api):
    """The issue's input: job 1 writes /tmp/x/out.csv, job 2 of the same user reads it."""
    first = run_job(api, "mkdir -p /tmp/x && echo a,b > /tmp/x/out.csv && echo kept > ~/notes")
    assert first["status"] == "COMPLETE", first
    second = run_job(api, "cat /tmp/x/out.csv ~/notes; umask")
    assert second["status"] == "COMPLETE", second
    assert second["stdout"] == "a,b\nkept\n0022\n"


def test_files_are_shared_between_jobs_of_one_user_running_at_once(api):
    writer = create_job(api, "echo part > /tmp/shared.txt; sleep 30", execute=True)
    wait_for_job(api, writer, statuses={"RUNNING"})
    reader = run_job(
        api,
        "for i in $(seq 100); do [ -s /tmp/shared.txt ] && break; sleep 0.1; done; "
        "cat /tmp/shared.txt",
    )
    api.post(f"/api/jobs/{writer}/cancel")
    assert reader["stdout"] == "part\n"


def test_umask_follows_the_config(api, server):
    saved = server.executor.setup.umask
    server.executor.setup.umask = 0o077
    try:
        job = run_job(api, "umask; touch f; stat -c %a f")
    finally:
        server.executor.setup.umask = saved
    assert job["stdout"] == "0077\n600\n"


def test_another_users_jobs_cannot_read_or_see_my_files(api, other_api):
    secret = uuid.uuid4().hex
    mine = run_job(
        api,
        f"echo {secret} > ~/secret; mkdir -p /tmp/x; echo {secret} > /tmp/x/out.csv; "
        "echo $HOME; pwd",
    )
    home, work = mine["stdout"].split()
    theirs = run_job(
        other_api,
        f"cat {home}/secret /tmp/x/out.csv {work}/script; ls {home} {work}; echo end",
    )
    assert secret not in theirs["stdout"]
    assert "end" in theirs["stdout"]
    assert run_job(other_api, "whoami")["stdout"] != run_job(api, "whoami")["stdout"]


def test_another_users_job_cannot_signal_mine(api, other_api):
    m = f"7{uuid.uuid4().int % 10**8:08d}"
    victim = create_job(api, f"sleep {m}; echo survived", execute=True, timeout=60)
    wait_for_job(api, victim, statuses={"RUNNING"})
    attacker = run_job(
        other_api,
        f"for i in $(seq 50); do pkill -f 'sleep {m}' && echo killed; sleep 0.02; done; "
        "kill -9 -1; echo tried",
    )
    assert "killed" not in attacker["stdout"]
    assert api.get(f"/api/jobs/{victim}").json()["data"]["status"] == "RUNNING"
    api.post(f"/api/jobs/{victim}/cancel")


def test_a_job_cannot_signal_the_service(api):
    service_pid = os.getpid()
    job = run_job(api, f"kill -TERM {service_pid} && echo reached; kill -9 -1; echo done")
    assert "reached" not in job["stdout"]
    assert api.get("/api/sysinfo").status_code == 200


@pytest.mark.parametrize("shared", ["/tmp", "/var/tmp", "/dev/shm", "/run/lock"])
def test_no_world_writable_directory_is_shared_with_another_user(api, other_api, shared):
    secret = uuid.uuid4().hex
    mine = run_job(api, f"echo {secret} > {shared}/left-{secret} && echo written")
    assert mine["stdout"] == "written\n", mine
    theirs = run_job(other_api, f"cat {shared}/left-{secret}; ls {shared}; echo end")
    assert secret not in theirs["stdout"]
    assert theirs["stdout"].endswith("end\n")


def test_system_v_ipc_is_the_jobs_own_and_goes_with_it(api, other_api):
    """Shared memory and message queues: no other job sees them (another user's
    job could attach), and none outlives the job (it would hold memory past any
    memory_mb)."""
    make = (
        "import ctypes, sys\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "shm = libc.shmget(0x5EC0DE, 1 << 20, 0o1666)\n"  # IPC_CREAT | 0666
        "msq = libc.msgget(0x5EC0DE, 0o1666)\n"
        "print(shm >= 0, msq >= 0)\n"
    )
    assert run_job(api, make, shell="python3")["stdout"] == "True True\n"
    look = (
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.shmget(0x5EC0DE, 0, 0) >= 0, libc.msgget(0x5EC0DE, 0) >= 0)\n"
    )
    assert run_job(other_api, look, shell="python3")["stdout"] == "False False\n"
    assert run_job(api, look, shell="python3")["stdout"] == "False False\n"
    host = subprocess.run(["ipcs", "-m", "-q"], capture_output=True, text=True).stdout
    assert "0x005ec0de" not in host
