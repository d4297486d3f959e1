"""What a job can ask for: interpreter, arguments, environment, stdin, limits."""

import shutil

import pytest

from ..helpers import create_job, run_job, wait_for_job

needs_python = pytest.mark.skipif(not shutil.which("python3"), reason="python3 is not installed")


def test_options_are_stored_and_returned(api):
    job_id = create_job(
        api,
        "echo hi",
        shell="sh",
        args=["a"],
        env={"X": "1"},
        stdin="in",
        timeout=60,
        priority=5,
        cpus=1,
        memory_mb=128,
    )
    job = api.get(f"/api/jobs/{job_id}").json()["data"]
    assert (job["shell"], job["args"], job["env"], job["stdin"]) == ("sh", ["a"], {"X": "1"}, "in")
    assert (job["timeout"], job["priority"], job["cpus"], job["memory_mb"]) == (60, 5, 1, 128)


def test_defaults_come_from_config(api, cfg):
    job = api.get(f"/api/jobs/{create_job(api, 'true')}").json()["data"]
    assert job["shell"] == cfg["jobs.default_shell"]
    assert job["timeout"] == cfg["jobs.default_timeout"]
    assert job["memory_mb"] == cfg["jobs.default_memory_mb"]


def test_args_become_positional_parameters(api):
    job = run_job(api, 'printf "%s|" "$@"; echo "$#"', args=["one two", "$HOME", "'q'"])
    assert job["stdout"] == "one two|$HOME|'q'|3\n"


def test_env_is_added_to_a_clean_environment(api):
    job = run_job(api, "env | sort", env={"GREETING": "hello world"})
    names = {line.split("=", 1)[0] for line in job["stdout"].splitlines()}
    assert "GREETING=hello world" in job["stdout"]
    # What a login on a cluster node has, and nothing of the service's.
    assert {"HOME", "USER", "LOGNAME", "SHELL", "PATH", "LANG", "SHELL_SERVICE_JOB_ID"} <= names
    assert names <= {
        "GREETING",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "LANG",
        "PATH",
        "PWD",
        "SHLVL",
        "SHELL_SERVICE_JOB_ID",
        "SHELL_SERVICE_ATTEMPT",
        "_",
    }
    for leaked in ("BASELAYER_CONFIG", "PGHOST", "SUPERVISOR_ENABLED", "VIRTUAL_ENV"):
        assert leaked not in names


def test_stdin_is_given_to_the_script(api):
    assert run_job(api, "tr a-z A-Z", stdin="shout\n")["stdout"] == "SHOUT\n"


def test_large_script_with_quotes_runs_intact(api):
    code = "\n".join(f"echo 'line {i} \"quoted\" $((1+{i}))'" for i in range(5000))
    job = run_job(api, code)
    assert job["status"] == "COMPLETE"
    assert job["stdout"].splitlines()[-1] == 'line 4999 "quoted" $((1+4999))'


@pytest.mark.skipif(not shutil.which("bash"), reason="bash is not installed")
def test_bash_runs_bash_syntax(api):
    assert run_job(api, "echo ${BASH_VERSION:+bash}", shell="bash")["stdout"] == "bash\n"


@pytest.mark.skipif(not shutil.which("python3"), reason="python3 is not installed")
def test_python3_runs_python(api):
    job = run_job(api, "import sys; print(sys.argv[1:])", shell="python3", args=["x"])
    assert job["stdout"] == "['x']\n"


def test_unknown_shell_is_refused_naming_the_allowed_ones(api):
    response = api.post("/api/jobs", json={"code": "x", "shell": "zsh-nope"})
    assert response.status_code == 400
    assert "shell" in response.json()["message"]
    assert "sh" in response.json()["data"]["errors"]["shell"][0]


@pytest.mark.parametrize(
    "field, value",
    [
        ("timeout", 0),
        ("timeout", 10**9),
        ("timeout", "10"),
        ("cpus", 0),
        ("cpus", 1000),
        ("memory_mb", 1),
        ("memory_mb", 10**9),
        ("priority", 1000),
        ("args", "not a list"),
        ("args", [1, 2]),
        ("env", {"1BAD": "x"}),
        ("env", {"GOOD": 5}),
        ("env", ["x"]),
        ("stdin", 5),
        ("execute", "maybe"),
    ],
)
def test_invalid_option_is_a_400_naming_the_field(api, field, value):
    response = api.post("/api/jobs", json={"code": "true", field: value})
    assert response.status_code == 400, response.text
    assert field in response.json()["message"]


def test_execute_true_creates_and_queues_in_one_call(api):
    job_id = create_job(api, "echo now", execute=True)
    job = wait_for_job(api, job_id)
    assert job["status"] == "COMPLETE"
    assert job["stdout"] == "now\n"


def test_nonzero_exit_code_is_kept(api):
    job = run_job(api, "echo out; echo err >&2; exit 7")
    assert (job["status"], job["return_code"]) == ("FAILED", 7)
    assert (job["stdout"], job["stderr"]) == ("out\n", "err\n")


@pytest.mark.parametrize("shell", ["sh", "bash"])
@pytest.mark.parametrize(
    "code, stdout",
    [
        ("echo one\r\necho two\r\n", "one\ntwo\n"),  # the input
        ("\ufeffecho hi", "hi\n"),  # the input: a byte-order mark
        ("\ufeffx=1\r\nif [ $x = 1 ]; then\r\n  echo yes\r\nfi\r\n", "yes\n"),
        ('printf "%s|" a\\\r\nb\r\necho', "ab|\n"),  # a CRLF line continuation
    ],
)
def test_scripts_written_on_windows_run_in_posix_shells(api, shell, code, stdout):
    job = run_job(api, code, shell=shell)
    assert (job["status"], job["stdout"], job["stderr"]) == ("COMPLETE", stdout, "")
    # Stored as given: the conversion happens only where the script is written.
    assert api.get(f"/api/jobs/{job['id']}").json()["data"]["code"] == code


def test_a_lone_carriage_return_inside_a_line_is_kept(api):
    job = run_job(api, "printf 'a\\rb' | od -c | head -1")
    assert "\\r" in job["stdout"]


@needs_python
def test_other_interpreters_get_the_script_as_is(api):
    job = run_job(api, "print(repr(open(__file__, newline='').read()))\r\n", shell="python3")
    assert job["stdout"] == "\"print(repr(open(__file__, newline='').read()))\\r\\n\"\n"
