"""The job init program (``job_init.c``): its request, its build, and the way it ends
a job's processes where it has no PID namespace (a service not run as root)."""

import json
import os
import select
import signal
import socket
import struct

import pytest

from shell_service.executors import job_init
from shell_service.executors.init_program import PROGRAM, BuildError, build
from shell_service.executors.launcher import FIRST_FREE_FD, Launcher, above
from shell_service.executors.processes import Limits

from ..helpers import create_job, wait_for_job, wait_until


def request(where, script: str, **changes) -> dict:
    """A launch request of ``JobLaunch.request``'s shape, run as us."""
    return {
        "id": "t",
        "root": str(where),
        "script": script,
        "stdin": None,
        "uid": None,
        "gid": None,
        "tmp": None,
        "private_mounts": False,
        "argv": ["/bin/sh", "./script"],
        "env": {"PATH": "/usr/bin:/bin"},
        "umask": 0o077,
        "rlimits": Limits(cpu_seconds=60, address_space_bytes=2**32).rlimits(),
        "cgroup": None,
        "kill_grace": 0.5,
        "max_log_bytes": 2**20,
        **changes,
    }


def entries(encoded: bytes) -> list[tuple[str, str]]:
    assert encoded.endswith(b"\0")
    return [tuple(e.decode().split("=", 1)) for e in encoded[:-1].split(b"\0")]


def test_the_request_keeps_argv_order_and_every_env_value_whole(tmp_path):
    env = {"A": "x=y=z", "EMPTY": "", "SPACES": " a b ", "UNICODE": "é☃"}
    argv = ["/bin/sh", "./script", "", "--flag=1", "two words"]
    got = entries(job_init.encode_request(request(tmp_path, "", argv=argv, env=env), True))
    assert [value for key, value in got if key == "arg"] == argv
    assert [value for key, value in got if key == "env"] == [f"{k}={v}" for k, v in env.items()]
    assert ("pid_namespace", "1") in got
    assert ("kill_grace_ms", "500") in got
    assert ("rlimit", f"{job_init.RLIMITS['cpu_seconds']}:60") in got


@pytest.mark.parametrize(
    "change",
    [
        {"env": {"A": "x\0y"}},
        {"env": {"A\0B": "x"}},
        {"argv": ["/bin/sh", "./script", "a\0b"]},
        {"root": "/srv/jobs/a\0b"},
    ],
)
def test_a_nul_anywhere_in_the_request_is_refused(tmp_path, change):
    """A NUL would end the string early in C: an argument or a variable the job did
    not ask for. None may reach the init."""
    with pytest.raises(ValueError, match="NUL"):
        job_init.encode_request(request(tmp_path, "", **change), True)


@pytest.mark.parametrize("where", ["env", "args"])
def test_the_api_refuses_a_nul_in_env_or_args(api, where):
    fields = {"env": {"A": "x\u0000y"}} if where == "env" else {"args": ["a\u0000b"]}
    response = api.post("/api/jobs", json={"code": "true", **fields})
    assert response.status_code == 400, response.text
    assert response.json()["status"] == "error"


# ---- without a PID namespace: a child subreaper ------------------------------------------
def run_init(root, script: str, **changes) -> dict:
    """Start the init for ``script`` the launcher's way, with no PID namespace; wait
    for it; its end record."""
    here, there = socket.socketpair()
    launcher = Launcher(here)
    launcher.pid_namespaces = False
    try:
        pid = launcher.start_job_init(request(root, script, **changes))
        pidfd = os.pidfd_open(pid)
        try:
            ended, _, _ = select.select([pidfd], [], [], 30)
        finally:
            os.close(pidfd)
        if not ended:  # fail, and leave nothing running behind
            kill_tree(pid)
        _, status = os.waitpid(pid, 0)
        assert ended, "the init did not end within 30 s"
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        here.close()
        there.close()
    record = job_init_record(root)
    assert record is not None
    return record


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and every process below it (found in /proc)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rpartition(")")[2].split()[1])
            except (OSError, ValueError):
                pass
    tree, todo = [], [pid]
    while todo:
        parent = todo.pop()
        tree.append(parent)
        todo += [child for child, ppid in parents.items() if ppid == parent]
    for member in tree:
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass


def job_init_record(root) -> dict | None:
    try:
        return json.loads((root / "exit_status").read_text())
    except FileNotFoundError:
        return None


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize(
    "leaver",
    [
        "sleep 60 & echo $! > ../left",  # a background child
        "setsid sh -c 'echo $$ > ../left; exec sleep 60' &",  # a new session
        "sh -c 'sleep 60 & echo $! > ../left' &",  # a double fork: reparented to the init
        "sh -c 'trap \"\" TERM; echo $$ > ../left; while :; do sleep 0.1; done' &",  # ignores TERM
    ],
)
def test_without_a_namespace_whatever_the_script_leaves_is_ended(tmp_path, leaver):
    root = tmp_path / "job"
    # The leftover has written its pid before the script ends (not a fixed sleep).
    wait_for_left = "while [ ! -s ../left ]; do sleep 0.01; done"
    record = run_init(root, f"{leaver}\n{wait_for_left}\necho main done")
    left = int((root / "left").read_text())
    assert not alive(left)
    assert record == {"code": 0, "dropped": []}
    assert (root / "stdout").read_text() == "main done\n"


def test_without_a_namespace_the_output_is_capped_on_a_character_boundary(tmp_path):
    root = tmp_path / "job"
    # 'é' is two bytes: a cap of 5 after "abcd" would cut one in half.
    record = run_init(root, "printf 'abcdéé'; printf 'x' >&2", max_log_bytes=5)
    assert (root / "stdout").read_bytes() == b"abcd"
    assert (root / "stderr").read_bytes() == b"x"
    assert record == {"code": 0, "dropped": ["stdout"]}


@pytest.mark.parametrize(
    "leaver", ["", "sh -c 'trap \"\" TERM; echo $$ > ../left; while :; do sleep 0.1; done' &"]
)
def test_the_init_ends_the_job_at_its_timeout_by_itself(tmp_path, leaver):
    """The init keeps the timeout without an executor: TERM at the deadline, KILL
    after the grace for what ignores it; the record says the init timed it out."""
    root = tmp_path / "job"
    wait_for_left = "while [ ! -s ../left ]; do sleep 0.01; done\n" if leaver else ""
    record = run_init(root, f"{leaver}\n{wait_for_left}echo started\nsleep 30", timeout=0.3)
    assert record == {"code": 143, "dropped": [], "timed_out": True}
    assert (root / "stdout").read_text() == "started\n"
    if leaver:
        assert not alive(int((root / "left").read_text()))


def test_a_job_within_its_timeout_is_not_timed_out(tmp_path):
    record = run_init(tmp_path / "job", "sleep 0.2", timeout=5)
    assert record == {"code": 0, "dropped": [], "timed_out": False}


def test_a_script_that_ends_in_time_is_not_timed_out_by_its_leftovers(tmp_path):
    """Trial input: the script ended before its timeout, a TERM-ignoring leftover
    outlived the deadline during the grace: the job did not time out."""
    leftover = "sh -c 'trap \"\" TERM; while :; do sleep 0.1; done' &"
    record = run_init(tmp_path / "job", f"{leftover}\nsleep 0.1\necho done", timeout=1.5)
    assert record == {"code": 0, "dropped": [], "timed_out": False}


def test_an_interpreter_that_cannot_run_is_recorded_as_such(tmp_path):
    root = tmp_path / "job"
    record = run_init(root, "true", argv=["/nonexistent/shell", "./script"])
    assert record["code"] == 127
    assert "/nonexistent/shell" in record["exec_error"]
    assert "could not start the job" in (root / "stderr").read_text()


def test_a_large_script_and_stdin_arrive_whole(tmp_path):
    """Both pass through anonymous files, far past a pipe's 64 KiB."""
    root = tmp_path / "job"
    filler = "# " + "x" * 78 + "\n"
    script = filler * 4000 + "wc -c; echo end\n"  # 324 KB
    stdin = "y" * 300_001
    record = run_init(root, script, stdin=stdin)
    assert record == {"code": 0, "dropped": []}
    assert (root / "stdout").read_text() == "300001\nend\n"
    assert (root / "work" / "script").read_text() == script
    assert (root / "stdin").read_text() == stdin


def test_the_init_is_given_descriptors_above_those_it_is_handed_on():
    """posix_spawn's dup2 actions run in order: a source numbered 3 to 9 could be
    replaced by an earlier action before its turn. ``above`` moves it out."""
    assert max(job_init.JOB_INIT_FDS.values()) < FIRST_FREE_FD
    fd = os.open(os.devnull, os.O_RDONLY)
    try:
        with above(fd, fd + 5) as moved:
            assert moved >= fd + 5
            assert os.path.samestat(os.fstat(moved), os.fstat(fd))
        with pytest.raises(OSError):
            os.fstat(moved)  # the copy is closed
        os.fstat(fd)  # the original is the caller's
        with above(fd, fd) as same:
            assert same == fd
    finally:
        os.close(fd)


# ---- the build -------------------------------------------------------------------------
def has_interpreter(program) -> bool:
    """Whether an ELF64 program names a dynamic loader (a PT_INTERP header)."""
    data = program.read_bytes()
    assert data[:4] == b"\x7fELF"
    phoff = struct.unpack_from("<Q", data, 0x20)[0]
    size, count = struct.unpack_from("<HH", data, 0x36)
    types = [struct.unpack_from("<I", data, phoff + i * size)[0] for i in range(count)]
    return 3 in types  # PT_INTERP


def test_the_built_init_is_static_and_only_we_may_change_it():
    assert PROGRAM.is_file()
    assert not has_interpreter(PROGRAM)
    mode = PROGRAM.stat().st_mode & 0o7777
    assert mode == 0o755
    assert PROGRAM.stat().st_uid == os.geteuid()
    assert PROGRAM.parent.stat().st_mode & 0o022 == 0


def test_a_source_that_does_not_compile_says_why_and_keeps_the_old_program(tmp_path):
    source = tmp_path / "broken.c"
    source.write_text("int main(void) { return undeclared_name; }\n")
    program = tmp_path / "program"
    program.write_text("the old one")
    with pytest.raises(BuildError, match="undeclared_name"):
        build(source, program)
    assert program.read_text() == "the old one"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_running_job_keeps_its_init_when_the_program_is_rebuilt(api, server, tmp_path):
    """The build renames the new program over the old: an init that runs goes on
    (its own copy of the file), the next job starts the new one."""
    job_id = create_job(api, "sleep 2; echo finished")
    assert api.post(f"/api/jobs/{job_id}/execute").status_code == 200
    files = server.executor.job_files(job_id)
    wait_until(lambda: files.wrapper_pid.exists(), "the init's pid file")
    build()
    job = wait_for_job(api, job_id)
    assert (job["status"], job["stdout"]) == ("COMPLETE", "finished\n")
