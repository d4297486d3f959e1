"""The `shell-service` command, installed in the virtualenv, against the test stack."""

import json
import os
import pty
import select
import socket
import subprocess
import sys
import time

import pytest

from ..helpers import create_job, wait_for_job

#: The console script `make run` installs beside this interpreter.
SHELL_SERVICE = os.path.join(os.path.dirname(sys.executable), "shell-service")


def cli_env() -> dict:
    """The environment without the client's variables: every test passes --url/--token."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SHELL_SERVICE_")}


class Cli:
    """Runs `shell-service --url <stack> --token <user's token> ...` in a scratch dir."""

    def __init__(self, url: str, token: str, cwd):
        self.url, self.token, self.cwd = url, token, cwd

    def command(self, args, url=None, token=None) -> list[str]:
        url, token = url or self.url, token or self.token
        # --token=...: a token may start with "-", which argparse would take for an option.
        return [SHELL_SERVICE, f"--url={url}", f"--token={token}", *args]

    def __call__(self, *args, input=None, url=None, token=None, timeout=60):
        return subprocess.run(
            self.command(args, url, token),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.cwd,
            env=cli_env(),
        )

    def start(self, *args, **popen_args) -> subprocess.Popen:
        return subprocess.Popen(self.command(args), cwd=self.cwd, env=cli_env(), **popen_args)

    def script(self, name: str, code: str) -> str:
        path = self.cwd / name
        path.write_text(code)
        return str(path)


@pytest.fixture
def cli(stack, stack_user, tmp_path):
    """The command as a new normal user (so `ls` shows only this test's jobs)."""
    return Cli(stack, stack_user.token, tmp_path)


def read_until(fd: int, marker: bytes, timeout: float) -> bytes:
    """Bytes from ``fd`` until ``marker`` has been read, the writer closes, or time is up."""
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # a pty whose other end has closed
            break
        if not chunk:
            break
        data += chunk
    return data


def wait_until_running(client, job_id: str, timeout: float = 30) -> None:
    """Wait for a job another process is creating to exist and run."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/api/jobs/{job_id}")
        if response.status_code == 200 and response.json()["data"]["status"] == "RUNNING":
            return
        assert time.monotonic() < deadline, f"{job_id} not RUNNING after {timeout} s"
        time.sleep(0.05)


def cancel_quietly(client, job_ids) -> None:
    for job_id in job_ids:
        client.post(f"/api/jobs/{job_id}/cancel")  # 409 once ended: fine


# ---- submit -----------------------------------------------------------------


def test_submit_wait_streams_stdout_and_stderr_apart_and_exits_zero(cli):
    script = cli.script("ok.sh", "echo out; echo err >&2; echo more")
    result = cli("submit", script, "--wait")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "out\nmore\n"
    assert result.stderr == "err\n"  # no spinner or notes on a pipe


def test_submit_wait_exits_with_the_jobs_nonzero_code(cli):
    result = cli("submit", cli.script("fail.sh", "echo failing; exit 7"), "--wait")
    assert result.returncode == 7
    assert result.stdout == "failing\n"


def test_submit_wait_prints_output_while_the_job_still_runs(cli, stack_gate):
    # The job waits at the gate until its first line has come out of the CLI.
    script = cli.script("slow.sh", f"echo first; {stack_gate.code}; echo second")
    proc = cli.start("submit", script, "--wait", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = read_until(proc.stdout.fileno(), b"first\n", timeout=30)
        assert first == b"first\n"
        assert proc.poll() is None  # the job still waits
        stack_gate.open()
        rest, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert rest == b"second\n"
    assert proc.returncode == 0


def test_submit_from_stdin_with_shell_args_and_env(cli):
    result = cli(
        "submit", "-", "--shell", "bash", "--arg", "ada", "--arg=-x", "--env", "GREETING=hello",
        "--wait", input='echo "$GREETING, $1 $2 ${BASH_VERSION:+bash}"',
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello, ada -x bash\n"


def test_submit_without_wait_prints_the_id_of_a_submitted_job(cli, stack_user):
    result = cli("submit", cli.script("a.sh", "echo hi"))
    assert result.returncode == 0, result.stderr
    job_id = result.stdout.strip()
    assert result.stdout == job_id + "\n"
    job = wait_for_job(stack_user, job_id)
    assert (job["status"], job["stdout"]) == ("COMPLETE", "hi\n")

    job_id = f"cli_{time.time_ns()}"
    named = cli("submit", cli.script("b.sh", "true"), "--id", job_id)
    assert (named.returncode, named.stdout) == (0, job_id + "\n")


def test_submitting_a_taken_id_is_a_409_and_exit_6(cli):
    job_id = f"cli_taken_{time.time_ns()}"
    assert cli("submit", cli.script("b.sh", "true"), "--id", job_id).returncode == 0
    again = cli("submit", cli.script("b.sh", "true"), "--id", job_id)
    assert again.returncode == 6
    assert "exists already (HTTP 409)" in again.stderr


def test_submit_wait_of_a_timed_out_job_says_so_and_exits_124(cli):
    result = cli("submit", cli.script("t.sh", "echo start; sleep 30"), "--timeout", "1", "--wait")
    assert result.returncode == 124
    assert result.stdout == "start\n"
    assert "TIMED_OUT (timeout 1 s)" in result.stderr


def test_submit_wait_of_a_job_cancelled_elsewhere_says_so_and_exits_125(cli, stack_user):
    job_id = f"cli_cancel_{time.time_ns()}"
    proc = cli.start(
        "submit", cli.script("c.sh", "echo start; sleep 30"), "--id", job_id, "--wait",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_until_running(stack_user, job_id)
        # RUNNING comes with the claim: wait for the script itself to have run.
        deadline = time.monotonic() + 30
        while not stack_user.get(f"/api/jobs/{job_id}/log").json()["data"]["text"]:
            assert time.monotonic() < deadline, "the job wrote nothing in 30 s"
            time.sleep(0.05)
        assert stack_user.post(f"/api/jobs/{job_id}/cancel").status_code == 200
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 125
    assert out == "start\n"
    assert f"job {job_id} was CANCELLED" in err


def test_queued_job_shows_a_progress_indicator_on_a_terminal(cfg, cli, stack_user):
    # Fill the stack's memory budget with sleeping jobs, so the next one waits in the
    # queue: n jobs of at most jobs.max_memory_mb, together within less than n MiB of it.
    budget = stack_user.get("/api/sysinfo").json()["data"]["capacity"]["memory_budget_mb"]
    biggest = int(cfg["jobs.max_memory_mb"])
    count = -(-budget // biggest)
    each = budget // count
    blockers = [
        create_job(stack_user, "sleep 60", memory_mb=each, execute=True) for _ in range(count)
    ]
    terminal, terminal_end = pty.openpty()
    try:
        for job_id in blockers:
            wait_for_job(stack_user, job_id, statuses={"RUNNING"})
        too_big = max(budget - count * each + 1, 16)
        proc = cli.start(
            "submit", cli.script("q.sh", "echo ran"), "--memory-mb", str(too_big), "--wait",
            stdout=subprocess.PIPE, stderr=terminal_end,
        )  # fmt: skip
        os.close(terminal_end)
        try:
            drawn = read_until(terminal, b"is queued, waiting for capacity", timeout=20)
            cancel_quietly(stack_user, blockers)
            out, _ = proc.communicate(timeout=30)
        finally:
            proc.kill()
        drawn += read_until(terminal, b"\0", timeout=2)
    finally:
        cancel_quietly(stack_user, blockers)
        os.close(terminal)
    assert b"is queued, waiting for capacity" in drawn
    assert drawn.rstrip(b"\r\n").endswith(b"\r\x1b[K")  # the line is erased before output
    assert out == b"ran\n"
    assert proc.returncode == 0


# ---- ls, show, logs, cancel, rerun ------------------------------------------


def test_ls_shows_the_users_jobs_and_filters_by_status(cli):
    ok_id, bad_id = f"ls_ok_{time.time_ns()}", f"ls_no_{time.time_ns()}"
    ok = cli("submit", cli.script("ok.sh", "true"), "--id", ok_id, "--wait")
    bad = cli("submit", cli.script("no.sh", "exit 3"), "--id", bad_id, "--wait")
    assert (ok.returncode, bad.returncode) == (0, 3)

    listing = cli("ls")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["ID", "STATUS", "QUEUE", "CODE", "CREATED", "(UTC)"]
    assert [line.split()[:4] for line in lines[1:]] == [
        [bad_id, "FAILED", "default", "3"],  # newest first
        [ok_id, "COMPLETE", "default", "0"],
    ]

    failed = cli("ls", "--status", "failed")
    assert [line.split()[0] for line in failed.stdout.splitlines()[1:]] == [bad_id]
    several = cli("ls", "--status", "FAILED,COMPLETE")
    assert len(several.stdout.splitlines()) == 3

    in_default = cli("ls", "--queue", "default")
    assert [line.split()[0] for line in in_default.stdout.splitlines()[1:]] == [bad_id, ok_id]
    elsewhere = cli("ls", "--queue", "nope")
    assert elsewhere.returncode == 0 and elsewhere.stdout == ""

    queues = cli("queues")
    assert queues.returncode == 0, queues.stderr
    header, default = queues.stdout.splitlines()[:2]
    assert header.split()[:3] == ["QUEUE", "QUEUED", "RUNNING"]
    assert default.split()[:2] == ["default", "*"]
    unknown = cli("submit", cli.script("q.sh", "true"), "--queue", "nope")
    assert unknown.returncode == 1
    assert "no queue is called 'nope'; the queues are: default" in unknown.stderr

    newest = cli("ls", "--limit", "1")
    assert [line.split()[0] for line in newest.stdout.splitlines()[1:]] == [bad_id]
    assert "1 of 2 jobs" in newest.stderr


def test_show_prints_the_jobs_fields_script_and_history(cli):
    job_id = f"show_{time.time_ns()}"
    cli("submit", cli.script("s.sh", "echo shown\nexit 2"), "--id", job_id, "--shell", "bash",
        "--arg", "x y", "--wait")  # fmt: skip
    result = cli("show", job_id)
    assert result.returncode == 0, result.stderr
    for text in (
        f"id:          {job_id}",
        "status:      FAILED",
        "return code: 2",
        "shell:       bash",
        "args:        'x y'",
        "code:\n    echo shown\n    exit 2",
        "READY -> QUEUED",
        "RUNNING -> FAILED: exit code 2",
    ):
        assert text in result.stdout


def test_logs_prints_stdout_or_stderr_of_an_ended_job(cli):
    job_id = f"logs_{time.time_ns()}"
    code = "printf 'line 1\\nno newline'; echo oops >&2; printf '\\303\\251t\\303\\251\\n'"
    cli("submit", "-", "--id", job_id, "--wait", input=code)
    out = cli("logs", job_id)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "line 1\nno newlineété\n"
    err = cli("logs", job_id, "--stderr")
    assert err.stdout == "oops\n"


def test_logs_without_follow_prints_what_a_running_job_wrote_so_far(cli, stack_user):
    job_id = f"logs_now_{time.time_ns()}"
    cli("submit", "-", "--id", job_id, input="echo early; sleep 30")
    try:
        deadline = time.monotonic() + 20
        while stack_user.get(f"/api/jobs/{job_id}/log").json()["data"]["text"] != "early\n":
            assert time.monotonic() < deadline, "the job never wrote its first line"
            time.sleep(0.1)
        result = cli("logs", job_id, timeout=10)
        assert (result.returncode, result.stdout) == (0, "early\n")
        assert stack_user.get(f"/api/jobs/{job_id}").json()["data"]["status"] == "RUNNING"
    finally:
        cancel_quietly(stack_user, [job_id])


def test_logs_follow_streams_until_the_job_ends(cli, stack_user, stack_gate):
    job_id = f"logs_f_{time.time_ns()}"
    code = f"echo a; {stack_gate.code}; echo b; echo c >&2"
    cli("submit", "-", "--id", job_id, input=code)
    proc = cli.start("logs", job_id, "-f", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # What the job wrote so far comes out while it runs, and the follow goes on.
        assert read_until(proc.stdout.fileno(), b"a\n", timeout=30) == b"a\n"
        assert proc.poll() is None
        stack_gate.open()
        rest, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert (proc.returncode, rest, err) == (0, b"b\n", b"")
    assert stack_user.get(f"/api/jobs/{job_id}").json()["data"]["status"] == "COMPLETE"
    assert cli("logs", "-f", "--stderr", job_id).stdout == "c\n"


def test_cancel_ends_a_running_job_and_refuses_an_ended_one(cli, stack_user):
    job_id = f"cancel_{time.time_ns()}"
    cli("submit", "-", "--id", job_id, input="sleep 30")
    wait_for_job(stack_user, job_id, statuses={"RUNNING"})
    result = cli("cancel", job_id)
    assert (result.returncode, result.stdout) == (0, f"cancelled {job_id}\n")
    assert wait_for_job(stack_user, job_id)["status"] == "CANCELLED"

    again = cli("cancel", job_id)
    assert again.returncode == 6
    assert "it has ended already (HTTP 409)" in again.stderr


def test_rerun_submits_a_copy_and_prints_its_id(cli, stack_user):
    job_id = f"rerun_{time.time_ns()}"
    cli("submit", "-", "--id", job_id, "--arg", "A", "--wait", input='echo "again $1"; exit 4')
    result = cli("rerun", job_id)
    assert result.returncode == 0, result.stderr
    new_id = result.stdout.strip()
    assert new_id and new_id != job_id
    job = wait_for_job(stack_user, new_id)
    assert (job["status"], job["return_code"], job["stdout"]) == ("FAILED", 4, "again A\n")

    waited = cli("rerun", job_id, "--wait")
    assert (waited.returncode, waited.stdout) == (4, "again A\n")


# ---- errors -----------------------------------------------------------------


def test_a_wrong_token_is_a_clear_401_and_exit_4(cli):
    result = cli("ls", token="not-a-real-token")
    assert result.returncode == 4
    assert result.stdout == ""
    assert result.stderr.startswith("shell-service: error: Missing or invalid token")
    assert "(HTTP 401); the token from --token was refused" in result.stderr


def test_an_unreachable_url_says_to_start_the_service_and_exits_3(cli):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    error = (
        f"shell-service: error: cannot reach shell_service at {url}: is it running? `make run`\n"
    )
    result = cli("ls", "--retry=0", url=url)
    assert result.returncode == 3
    assert result.stderr == error
    # By default it keeps trying for a while first, and says so.
    result = cli("ls", "--retry=1", url=url)
    assert result.returncode == 3
    note, rest = result.stderr.split("\n", 1)
    assert note.startswith(f"shell-service: cannot reach {url}; trying again for up to 1 s"), note
    assert rest == error


def test_an_unknown_job_is_a_404_and_exit_5(cli):
    for command in (("show", "no_such_job"), ("logs", "no_such_job"), ("cancel", "no_such_job")):
        result = cli(*command)
        assert result.returncode == 5
        assert "No job with id 'no_such_job' (HTTP 404)" in result.stderr


def test_module_entry_point_runs_the_same_client():
    result = subprocess.run(
        [sys.executable, "-m", "shell_service.client", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0
    assert "usage: shell-service" in result.stdout and "exit codes:" in result.stdout


# ---- definitions ------------------------------------------------------------

NIGHTLY_FILE = """\
name: nightly_load
description: Load one day of rows
shell: bash
timeout: 120
code_file: nightly.sh
parameters:
  - {name: day, type: string, required: true, pattern: '\\d{4}-\\d{2}-\\d{2}'}
  - {name: rows, type: integer, default: 10, min: 1}
  - {name: tags, type: multichoice, choices: [a, b, c]}
"""


def cli_user_name(cli) -> str:
    return json.loads(cli("def", "show", "nightly_load", "--json").stdout)["owner"]


def test_def_create_show_run_wait_update_and_ls(cli):
    cli.script("nightly.sh", 'echo "day=$day rows=$rows tags=$tags"\n')
    spec = cli.script("nightly.yaml", NIGHTLY_FILE)
    created = cli("def", "create", spec)
    assert created.returncode == 0, created.stderr
    assert created.stdout == "created nightly_load version 1\n"

    shown = cli("def", "show", "nightly_load")
    assert shown.returncode == 0, shown.stderr
    assert "version:     1 of 1" in shown.stdout
    assert "day  string  required  as $day  pattern \\d{4}-\\d{2}-\\d{2}" in shown.stdout
    assert "rows  integer  optional  as $rows  default 10  min 1" in shown.stdout
    assert 'echo "day=$day rows=$rows tags=$tags"' in shown.stdout

    ran = cli(
        "def", "run", "nightly_load", "--param", "day=2026-11-30", "--param", "tags=a,c",
        "--param", "rows=5", "--wait",
    )  # fmt: skip
    assert (ran.returncode, ran.stdout) == (0, "day=2026-11-30 rows=5 tags=a,c\n"), ran.stderr

    wrong = cli("def", "run", "nightly_load", "--param", "day=yesterday")
    assert wrong.returncode == 1
    assert "parameters.day" in wrong.stderr and "pattern" in wrong.stderr

    job_id = cli("def", "run", "nightly_load", "--param", "day=2026-12-01").stdout.strip()
    listed = cli("ls", "--definition", "nightly_load")
    assert job_id in listed.stdout and len(listed.stdout.splitlines()) == 3
    details = " ".join(cli("show", job_id).stdout.split())  # labels are padded
    assert "definition: nightly_load version 1" in details
    assert "parameters: day=2026-12-01 rows=10" in details

    cli.script("nightly.sh", 'echo "v2 $day"\n')
    updated = cli("def", "update", spec)
    assert updated.stdout == "updated nightly_load: version 2\n", updated.stderr
    assert cli("def", "run", "nightly_load", "--param", "day=2026-11-30", "--wait").stdout == (
        "v2 2026-11-30\n"
    )
    old = cli("def", "run", "nightly_load", "--version", "1", "--param", "day=2026-11-30", "--wait")
    assert old.stdout == "day=2026-11-30 rows=10 tags=\n"

    table = cli("def", "ls").stdout.splitlines()
    assert table[0].split()[:4] == ["NAME", "OWNER", "VERSION", "SHARED"]
    # Other users' shared definitions may be listed too (the stack outlives a test).
    mine = [row.split() for row in table[1:] if row.split()[1] == cli_user_name(cli)]
    assert [(row[0], row[2]) for row in mine] == [("nightly_load", "2")]

    assert cli("def", "rm", "nightly_load").returncode == 0
    missing = cli("def", "show", "nightly_load")
    assert missing.returncode == 5 and "No definition" in missing.stderr


def test_def_create_from_a_file_that_is_not_a_definition_says_why(cli):
    for text, words in (("- a\n- b\n", "expected a mapping"), ("code_file: nope.sh\n", "nope.sh")):
        result = cli("def", "create", cli.script("bad.yaml", text))
        assert result.returncode == 1 and words in result.stderr, result.stderr


def test_def_run_reads_a_secret_from_a_file_or_stdin_and_refuses_a_parameter_twice(cli):
    spec = cli.script(
        "secret.yaml",
        "name: with_secret\ncode: 'printf %s \"$PW\" | wc -c'\n"
        "parameters:\n  - {name: PW, type: secret, required: true}\n",
    )
    assert cli("def", "create", spec).returncode == 0
    secret_file = cli.script("pw.txt", "s3cret-value\n")
    from_file = cli("def", "run", "with_secret", "--param-file", f"PW={secret_file}", "--wait")
    assert (from_file.returncode, from_file.stdout.strip()) == (0, "12"), from_file.stderr
    from_stdin = cli("def", "run", "with_secret", "--param-file", "PW=-", "--wait", input="abc\n")
    assert from_stdin.stdout.strip() == "3", from_stdin.stderr
    twice = cli("def", "run", "with_secret", "--param", "PW=a", "--param", "PW=b")
    assert twice.returncode == 2 and "given twice" in twice.stderr


def test_def_show_prints_terminal_controls_as_escapes(cli, stack_user):
    code = "echo hi\x1b[1A\x1b[2K # hidden\r\n\x1b]0;title\x07echo more"
    body = {"name": "controls", "code": code, "description": "desc\x1b[31m red"}
    response = stack_user.post("/api/definitions", json=body)
    assert response.status_code == 200, response.text
    shown = cli("def", "show", "controls")
    assert shown.returncode == 0, shown.stderr
    assert "\x1b" not in shown.stdout and "\r" not in shown.stdout and "\x07" not in shown.stdout
    assert "\\x1b[1A\\x1b[2K # hidden" in shown.stdout
    listed = cli("def", "ls")
    assert "\x1b" not in listed.stdout and "\\x1b[31m" in listed.stdout


def test_def_create_reads_code_file_only_beside_the_definition_file(cli, tmp_path):
    (tmp_path / "outside.sh").write_text("echo outside")
    inner = tmp_path / "defs"
    inner.mkdir()
    (inner / "sub").mkdir()
    (inner / "sub" / "ok.sh").write_text("echo ok")
    for code_file in ("../outside.sh", "/etc/passwd", "sub/../../outside.sh"):
        spec = inner / "bad.yaml"
        spec.write_text(f"name: escape\ncode_file: {code_file}\n")
        result = cli("def", "create", str(spec))
        assert result.returncode == 1 and "is not in" in result.stderr, (code_file, result)
    spec = inner / "good.yaml"
    spec.write_text(
        "name: inside\ncode_file: sub/ok.sh\nparameters:\n"
        "  - {name: day, type: string, default: 2026-11-30}\n"
        "  - {name: answer, type: choice, choices: [yes, no], default: no}\n"
    )
    created = cli("def", "create", str(spec))
    assert created.returncode == 0, created.stderr
    shown = cli("def", "show", "inside", "--json")
    parameters = json.loads(shown.stdout)["parameters"]
    assert parameters[0]["default"] == "2026-11-30"
    assert parameters[1]["choices"] == ["yes", "no"]
