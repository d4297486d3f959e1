"""What the client prints and exits with, from API answers (no network)."""

import io

import pytest
import requests

from shell_service.client import output, watch
from shell_service.client.api import Api, job_path
from shell_service.client.errors import ExitCode
from shell_service.client.settings import Settings

JOB = {
    "id": "nightly",
    "code": "echo hi\nexit 3",
    "shell": "bash",
    "args": ["a b", "c"],
    "env": {"MODE": "fast"},
    "stdin": None,
    "timeout": 60,
    "priority": 0,
    "cpus": 1,
    "memory_mb": 256,
    "status": "FAILED",
    "status_message": None,
    "return_code": 3,
    "stdout": "hi\n",
    "stderr": "",
    "stdout_truncated": False,
    "stderr_truncated": False,
    "submitter_id": 2,
    "queue": "default",
    "host": "node1",
    "created_at": "2026-11-27T22:38:46.421120",
    "queued_at": "2026-11-27T22:38:46.500000",
    "started_at": "2026-11-27T22:38:47.000000",
    "finished_at": "2026-11-27T22:38:49.250000",
}


def test_job_table_aligns_columns_and_marks_missing_codes():
    running = dict(JOB, id="j2", status="RUNNING", return_code=None)
    lines = output.job_table([JOB, running]).splitlines()
    assert lines[0].split() == ["ID", "STATUS", "QUEUE", "CODE", "CREATED", "(UTC)"]
    assert lines[1].split() == ["nightly", "FAILED", "default", "3", "2026-11-27", "22:38:46"]
    assert lines[2].split() == ["j2", "RUNNING", "default", "-", "2026-11-27", "22:38:46"]
    assert lines[1].index("FAILED") == lines[2].index("RUNNING")


def test_job_details_show_fields_script_and_history():
    events = [
        {
            "from_status": "RUNNING",
            "to_status": "FAILED",
            "actor_id": None,
            "detail": "exit code 3",
            "created_at": "2026-11-27T22:38:49.250000",
        }
    ]
    text = output.job_details(JOB, events)
    assert "status:      FAILED" in text
    assert "return code: 3" in text
    assert "args:        'a b' c" in text
    assert "env:         MODE=fast" in text
    assert "ran:         2.2 s" in text
    assert "code:\n    echo hi\n    exit 3" in text
    assert "2026-11-27 22:38:49  RUNNING -> FAILED: exit code 3" in text


def test_job_details_show_a_retried_jobs_strategy_and_attempts():
    job = dict(
        JOB,
        attempt=2,
        retry={
            "attempts": 3,
            "on": ["FAILED", "HOST_LOST"],
            "exit_codes": [75],
            "backoff": {"initial": 10, "factor": 2, "max": 600},
        },
        attempts=[
            {
                "number": 1,
                "status": "FAILED",
                "status_message": None,
                "return_code": 75,
                "host": "node1",
                "started_at": "2026-11-27T22:38:40.000000",
                "finished_at": "2026-11-27T22:38:41.500000",
            },
            {
                "number": 2,
                "status": "FAILED",
                "status_message": None,
                "return_code": 3,
                "host": "node1",
                "started_at": "2026-11-27T22:38:47.000000",
                "finished_at": "2026-11-27T22:38:49.250000",
            },
        ],
    )
    text = output.job_details(job, [])
    assert (
        "retry:       attempt 2 of 3, on FAILED exit 75, HOST_LOST, back-off 10 s x2 up to 600 s"
        in text
    )
    assert (
        "attempts (UTC):\n    1: FAILED (exit 75) on node1 started 2026-11-27 22:38:40 ran 1.5 s"
        in text
    )
    assert "    2: FAILED (exit 3) on node1 started 2026-11-27 22:38:47 ran 2.2 s" in text
    waiting = dict(job, status="QUEUED", waiting_for="backoff", eligible_at="2026-11-27T22:39:09")
    assert "waiting for: backoff (until 2026-11-27 22:39:09 UTC)" in output.job_details(waiting, [])
    assert "attempts" not in output.job_details(JOB, [])


@pytest.mark.parametrize(
    ("changes", "code", "said"),
    [
        ({"status": "COMPLETE", "return_code": 0}, 0, None),
        ({"status": "FAILED", "return_code": 3}, 3, None),
        ({"status": "FAILED", "return_code": 137, "status_message": "killed by signal 9"}, 137,
         "FAILED: killed by signal 9"),
        ({"status": "TIMED_OUT", "return_code": 143}, ExitCode.JOB_TIMED_OUT, "TIMED_OUT"),
        ({"status": "CANCELLED", "return_code": None}, ExitCode.JOB_CANCELLED, "CANCELLED"),
        ({"status": "SERVER_ERROR", "status_message": "lost"}, ExitCode.JOB_SERVER_ERROR,
         "SERVER_ERROR: lost"),
    ],
)  # fmt: skip
def test_a_waited_jobs_end_gives_its_exit_code_and_says_why(changes, code, said):
    messages = io.StringIO()
    assert watch.job_exit_code(dict(JOB, **changes), messages) == code
    if said:
        assert said in messages.getvalue() and "nightly" in messages.getvalue()
    else:
        assert messages.getvalue() == ""


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


class QueuedThenRunning:
    """An Api stand-in whose job is QUEUED for a few looks."""

    def __init__(self, looks):
        self.statuses = ["QUEUED"] * looks + ["RUNNING"]

    def get_job(self, job_id):
        return {"id": job_id, "status": self.statuses.pop(0)}


def test_queued_job_shows_a_spinner_on_a_terminal_and_erases_it(monkeypatch):
    monkeypatch.setattr(watch, "POLL_INTERVAL", 0.02)
    monkeypatch.setattr(watch, "SPIN_INTERVAL", 0.01)
    terminal = FakeTerminal()
    job = watch.wait_while_queued(QueuedThenRunning(3), "j1", output.Spinner(terminal))
    assert job["status"] == "RUNNING"
    drawn = terminal.getvalue()
    assert "j1 is queued" in drawn
    assert drawn.endswith("\r\x1b[K")


def test_no_spinner_when_stderr_is_not_a_terminal(monkeypatch):
    monkeypatch.setattr(watch, "POLL_INTERVAL", 0.01)
    pipe = io.StringIO()
    watch.wait_while_queued(QueuedThenRunning(2), "j1", output.Spinner(pipe))
    assert pipe.getvalue() == ""


def response(status: int, body: bytes) -> requests.Response:
    answer = requests.Response()
    answer.status_code, answer._content, answer.url = status, body, "http://h/api/jobs/x"
    answer.reason = "Reason"
    return answer


@pytest.mark.parametrize(
    ("status", "exit_code"),
    [(401, ExitCode.UNAUTHORIZED), (404, ExitCode.NOT_FOUND), (409, ExitCode.CONFLICT),
     (400, ExitCode.ERROR), (503, ExitCode.ERROR)],
)  # fmt: skip
def test_error_answers_give_the_envelopes_message_and_an_exit_code(status, exit_code):
    api = Api(Settings("http://h", "t", "$SHELL_SERVICE_TOKEN"))
    body = b'{"status": "error", "data": {}, "message": "Job x is FAILED", "version": "1"}'
    error = api.error_for(response(status, body))
    assert error.exit_code == exit_code
    assert error.message.startswith(f"Job x is FAILED (HTTP {status})")
    if status == 401:
        assert "$SHELL_SERVICE_TOKEN was refused" in error.message


def test_an_error_page_without_an_envelope_names_the_status():
    api = Api(Settings("http://h", "t", "--token"))
    error = api.error_for(response(502, b"<html>Bad Gateway</html>"))
    assert error.message == "HTTP 502 Reason from http://h/api/jobs/x"
    assert error.exit_code == ExitCode.ERROR


def test_job_ids_are_quoted_in_paths():
    assert job_path("a.b-c_1") == "/api/jobs/a.b-c_1"
    assert job_path("x/y z", "log") == "/api/jobs/x%2Fy%20z/log"


def test_queue_table_shows_limits_counts_and_the_default():
    queues = [
        {
            "name": "default",
            "default": True,
            "description": "Any job",
            "limits": {
                "max_running": None,
                "max_running_per_user": 64,
                "memory_budget_mb": None,
                "timeout": {"default": 3600, "max": 86400},
                "cpus": {"default": 1, "max": 2},
                "memory_mb": {"default": 256, "max": 16384},
            },
            "jobs": {"queued": 5, "running": 2, "running_by_host": {"node1": 2}},
        }
    ]
    lines = output.queue_table(queues).splitlines()
    assert lines[0].split()[:3] == ["QUEUE", "QUEUED", "RUNNING"]
    assert lines[1].split() == [
        "default",
        "*",
        "5",
        "2",
        "-",
        "64",
        "86400",
        "2",
        "16384",
        "Any",
        "job",
    ]


def test_printable_shows_terminal_controls_as_escapes_and_keeps_lines_and_tabs():
    from shell_service.client.output import printable

    assert printable("a\x1b[2Kb\x07\x9b\x7f\x00") == "a\\x1b[2Kb\\x07\\x9b\\x7f\\x00"
    assert printable("line 1\n\tline 2 é ✓") == "line 1\n\tline 2 é ✓"
    assert printable("a\rb") == "a\\x0db"
