"""Command-line parsing: options, their checks, and the job body they make."""

import pytest

from shell_service.client import cli
from shell_service.client.errors import ExitCode


def parse(*argv):
    return cli.build_parser().parse_args(argv)


def test_submit_options_become_the_job_body_and_it_is_executed():
    args = parse(
        "submit", "job.sh", "--shell", "bash", "--timeout", "30", "--arg", "a b",
        "--arg=-x", "--env", "K=v=w", "--env", "EMPTY=", "--id", "nightly",
        "--priority", "-5", "--cpus", "2", "--memory-mb", "512", "--wait",
    )  # fmt: skip
    assert args.file == "job.sh" and args.wait
    assert cli.submit_body(args, "echo hi") == {
        "code": "echo hi",
        "execute": True,
        "id": "nightly",
        "shell": "bash",
        "timeout": 30,
        "priority": -5,
        "cpus": 2,
        "memory_mb": 512,
        "args": ["a b", "-x"],
        "env": {"K": "v=w", "EMPTY": ""},
    }


def test_submit_sends_only_the_options_given():
    args = parse("submit", "-")
    assert args.file == "-" and not args.wait
    assert cli.submit_body(args, "true") == {"code": "true", "execute": True}


def test_submit_retry_options_become_the_jobs_retry():
    args = parse(
        "submit", "x.sh", "--retry", "3", "--retry-on", "failed,host_lost",
        "--retry-exit-codes", "1,75", "--retry-backoff", "10:2:600",
    )  # fmt: skip
    assert cli.submit_body(args, "true")["retry"] == {
        "attempts": 3,
        "on": ["FAILED", "HOST_LOST"],
        "exit_codes": [1, 75],
        "backoff": {"initial": 10, "factor": 2, "max": 600},
    }
    assert cli.submit_body(parse("submit", "x.sh", "--retry-backoff", "1.5"), "true")["retry"] == {
        "backoff": {"initial": 1.5}
    }
    # The connection's --retry (seconds) goes before submit, whose own is the attempts.
    both = parse("--retry", "30", "submit", "x.sh", "--retry", "2")
    assert (both.retry, both.attempts) == ("30", 2)


@pytest.mark.parametrize(
    "given, sent",
    [("3", 3), ("3-3", "3-3"), ("0-99%10", "0-99%10"), ("1,3,5-9", "1,3,5-9"), ("３", "３")],
)
def test_array_alone_a_number_is_a_size_as_in_the_api(given, sent):
    # --array 3 is 3 tasks (the API's "array": 3); index 3 alone is 3-3.
    assert cli.submit_body(parse("submit", "x.sh", "--array", given), "true")["array"] == sent


@pytest.mark.parametrize(
    "given, both", [("3%1", ("0-2%1", "3-3%1")), ("10%4", ("0-9%4", "10-10%4"))]
)
def test_array_a_number_with_a_bound_is_refused_naming_both_meanings(capsys, given, both):
    # sbatch reads 3%1 as index 3 alone, this option's 3 as three tasks: neither is guessed.
    with pytest.raises(SystemExit) as exited:
        parse("submit", "x.sh", "--array", given)
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "ambiguous" in error and all(spelling in error for spelling in both)


def test_depends_on_takes_sbatch_text_or_the_list_form_in_json():
    text = parse("submit", "x.sh", "--depends-on", "afterok:a:b")
    assert cli.submit_body(text, "true")["depends_on"] == "afterok:a:b"
    listed = parse("submit", "x.sh", "--depends-on", '[{"job": "parts:7"}]')
    assert cli.submit_body(listed, "true")["depends_on"] == [{"job": "parts:7"}]


def test_logs_attempt_reads_an_earlier_attempt():
    assert parse("logs", "job1", "--attempt", "2").attempt == 2
    assert parse("logs", "job1").attempt is None


@pytest.mark.parametrize(
    "argv",
    [
        ("submit", "x.sh", "--retry", "0"),
        ("submit", "x.sh", "--retry-backoff", "10:x"),
        ("submit", "x.sh", "--retry-backoff", "1:2:3:4"),
        ("submit", "x.sh", "--retry-backoff", "nan"),
        ("submit", "x.sh", "--retry-backoff", "10:inf"),
        ("submit", "x.sh", "--retry-backoff", "1:2:-Infinity"),
        ("submit", "x.sh", "--retry-exit-codes", "one"),
        ("logs", "job1", "--attempt", "0"),
        ("submit", "x.sh", "--env", "NOEQUALS"),
        ("submit", "x.sh", "--env", "=v"),
        ("submit", "x.sh", "--timeout", "0"),
        ("submit", "x.sh", "--timeout", "soon"),
        ("submit",),
        ("ls", "--status", "DONE"),
        ("ls", "--limit", "-1"),
        ("logs",),
        ("frobnicate",),
        (),
    ],
)
def test_bad_command_lines_exit_with_usage_code(argv, capsys):
    with pytest.raises(SystemExit) as excinfo:
        parse(*argv)
    assert excinfo.value.code == ExitCode.USAGE
    assert "error:" in capsys.readouterr().err


def test_connection_options_are_accepted_before_or_after_the_command():
    before = parse("--url", "http://a:1", "--token", "t1", "ls")
    after = parse("ls", "--url", "http://b:2", "--token", "t2")
    assert (before.url, before.token) == ("http://a:1", "t1")
    assert (after.url, after.token) == ("http://b:2", "t2")
    assert parse("ls").url is None
    assert parse("--token=-starts-with-dash", "ls").token == "-starts-with-dash"


def test_ls_status_takes_several_states_in_any_case():
    args = parse("ls", "--status", "running,queued", "--status", "Failed")
    assert args.status == [["RUNNING", "QUEUED"], ["FAILED"]]
    assert args.limit == 20


def test_logs_follow_and_stderr_flags():
    args = parse("logs", "job1", "-f", "--stderr")
    assert (args.job_id, args.follow, args.stderr) == ("job1", True, True)
    assert parse("rerun", "job1", "--wait").wait


def test_help_documents_exit_codes_and_where_settings_come_from(capsys):
    with pytest.raises(SystemExit) as excinfo:
        parse("--help")
    assert excinfo.value.code == 0
    out = capsys.readouterr().out
    for text in ("exit codes:", "SHELL_SERVICE_URL", "SHELL_SERVICE_TOKEN", ".tokens.yaml", "124"):
        assert text in out


def test_no_token_anywhere_is_a_clear_error_before_any_request(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHELL_SERVICE_TOKEN", raising=False)
    # An address nothing listens on: reaching for it would be a different error.
    assert cli.run(["--url", "http://127.0.0.1:9", "ls"]) == ExitCode.UNAUTHORIZED
    assert "no API token: pass --token" in capsys.readouterr().err


def test_read_script_refuses_a_file_that_is_not_utf8(tmp_path):
    script = tmp_path / "bin.sh"
    script.write_bytes(b"echo \xff\n")
    with pytest.raises(cli.ClientError, match="is not UTF-8 text"):
        cli.read_script(str(script))
    with pytest.raises(cli.ClientError, match="cannot read"):
        cli.read_script(str(tmp_path / "missing.sh"))
