"""The client sends calls again while the service cannot answer (503, no connection),
honouring Retry-After, for a bounded time; and only the calls that are safe to repeat."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shell_service.client import api as api_module
from shell_service.client.api import Api
from shell_service.client.cli import run
from shell_service.client.errors import ClientError, ExitCode
from shell_service.client.settings import DEFAULT_RETRY_SECONDS, Settings, resolve_settings

UNAVAILABLE = {"status": "error", "message": "The database is unavailable", "data": {}}


def envelope(data, status="success", message=""):
    return {"status": status, "data": data, "message": message, "version": "test"}


class FakeService:
    """An HTTP server answering from a script: each request takes the next answer,
    ``(status, body, headers)``, a function of the request's JSON body giving one, or
    ``"drop"`` (read the request, close without an answer); ``requests`` records
    ``(method, path, json body)``."""

    def __init__(self, answers: list):
        self.answers = list(answers)
        self.requests: list[tuple[str, str, object]] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw or "null")
                service.requests.append((self.command, self.path, body))
                answer = service.answers.pop(0) if service.answers else (500, {}, {})
                if callable(answer):
                    answer = answer(body)
                if answer == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                status, body, headers = answer
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class FakeTime:
    """The retry loop's clock and sleep: sleeping moves the clock, at once."""

    def __init__(self):
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time(monkeypatch):
    fake = FakeTime()
    monkeypatch.setattr(api_module, "clock", fake.clock)
    monkeypatch.setattr(api_module, "sleep", fake.sleep)
    return fake


@pytest.fixture
def service():
    services = []

    def make(*answers):
        services.append(FakeService(list(answers)))
        return services[-1]

    yield make
    for one in services:
        one.close()


def closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def client(url, retry=DEFAULT_RETRY_SECONDS):
    notes: list[str] = []
    api = Api(Settings(url, "t", "--token", retry), note=notes.append)
    api.notes = notes
    return api


JOB = {"id": "j1", "status": "RUNNING", "code": "echo hi"}


def test_a_read_is_sent_again_after_each_503_as_retry_after_says(service, fake_time):
    fake = service(
        (503, UNAVAILABLE, {"Retry-After": "3"}),
        (503, UNAVAILABLE, {"Retry-After": "1"}),
        (200, envelope(JOB), {}),
    )
    api = client(fake.url)
    assert api.get_job("j1") == JOB
    assert fake_time.slept == [3, 1]
    assert len(fake.requests) == 3
    assert len(api.notes) == 1 and "database is unavailable" in api.notes[0], api.notes


def test_a_503_without_retry_after_backs_off(service, fake_time):
    fake = service(*[(503, UNAVAILABLE, {})] * 3, (200, envelope(JOB), {}))
    assert client(fake.url).get_job("j1") == JOB
    assert fake_time.slept == [0.5, 1.0, 2.0]


def test_retrying_stops_after_the_retry_time_with_the_service_s_error(service, fake_time):
    fake = service(*[(503, UNAVAILABLE, {"Retry-After": "10"})] * 20)
    with pytest.raises(ClientError, match="database is unavailable") as excinfo:
        client(fake.url, retry=25).get_job("j1")
    assert excinfo.value.http_status == 503 and excinfo.value.exit_code == ExitCode.ERROR
    assert fake_time.slept == [10, 10, 5]
    assert len(fake.requests) == 4


def test_a_retry_time_of_zero_sends_once(service, fake_time):
    fake = service((503, UNAVAILABLE, {"Retry-After": "1"}), (200, envelope(JOB), {}))
    with pytest.raises(ClientError):
        client(fake.url, retry=0).get_job("j1")
    assert len(fake.requests) == 1 and fake_time.slept == []


def test_a_refused_connection_is_tried_again_until_the_retry_time_then_unreachable(fake_time):
    api = client(closed_url(), retry=10)
    with pytest.raises(ClientError, match="cannot reach") as excinfo:
        api.list_jobs({})
    assert excinfo.value.exit_code == ExitCode.UNREACHABLE
    assert fake_time.slept == [0.5, 1.0, 2.0, 4.0, 2.5]
    assert len(api.notes) == 1


def test_other_errors_are_not_retried(service, fake_time):
    fake = service((404, envelope({}, "error", "No job with id 'j1'"), {}))
    with pytest.raises(ClientError, match="No job") as excinfo:
        client(fake.url).get_job("j1")
    assert excinfo.value.exit_code == ExitCode.NOT_FOUND
    assert len(fake.requests) == 1 and fake_time.slept == []


# ---- calls that are not plain reads -------------------------------------------------


def test_rerun_is_not_sent_again_after_a_503_or_a_broken_connection(service, fake_time):
    for first in [(503, UNAVAILABLE, {"Retry-After": "1"}), "drop"]:
        fake = service(first, (200, envelope({"id": "job_new"}), {}))
        with pytest.raises(ClientError):
            client(fake.url).rerun_job("j1")
        assert len(fake.requests) == 1, first
    assert fake_time.slept == []


def test_rerun_is_sent_again_when_the_connection_was_refused(fake_time):
    with pytest.raises(ClientError, match="cannot reach"):
        client(closed_url(), retry=2).rerun_job("j1")
    assert fake_time.slept == [0.5, 1.0, 0.5]


def created(body):
    """The service's answer to a job created from ``body``."""
    return 200, envelope({"id": body["id"]}), {}


def test_submit_chooses_the_job_id_and_sends_the_same_id_again(service, fake_time):
    fake = service("drop", (503, UNAVAILABLE, {"Retry-After": "1"}), created)
    job_id = client(fake.url).create_job({"code": "echo hi", "execute": True})
    ids = [body["id"] for _, _, body in fake.requests]
    assert len(ids) == 3 and len(set(ids)) == 1 and ids[0].startswith("job_")
    assert job_id == ids[0]


def test_a_submit_retried_after_a_lost_answer_finds_its_job_on_409(service, fake_time):
    taken = (409, envelope({}, "error", "A job with id 'nightly' exists already"), {})
    stored = {"id": "nightly", "code": "echo hi", "shell": "bash", "status": "QUEUED"}
    fake = service("drop", taken, (200, envelope(stored), {}))
    body = {"id": "nightly", "code": "echo hi", "shell": "bash", "execute": True}
    assert client(fake.url).create_job(body) == "nightly"
    assert [(method, path) for method, path, _ in fake.requests] == [
        ("POST", "/api/jobs"),
        ("POST", "/api/jobs"),
        ("GET", "/api/jobs/nightly"),
    ]


@pytest.mark.parametrize(
    "stored",
    [
        {"id": "nightly", "code": "echo other", "shell": "bash", "status": "QUEUED"},
        {"id": "nightly", "code": "echo hi", "shell": "sh", "status": "QUEUED"},
        {"id": "nightly", "code": "echo hi", "shell": "bash", "status": "READY"},
    ],
)
def test_a_submit_retried_after_a_lost_answer_reports_a_409_for_another_job(
    service, fake_time, stored
):
    taken = (409, envelope({}, "error", "A job with id 'nightly' exists already"), {})
    fake = service((503, UNAVAILABLE, {"Retry-After": "1"}), taken, (200, envelope(stored), {}))
    body = {"id": "nightly", "code": "echo hi", "shell": "bash", "execute": True}
    with pytest.raises(ClientError, match="exists already") as excinfo:
        client(fake.url).create_job(body)
    assert excinfo.value.exit_code == ExitCode.CONFLICT


def test_a_409_at_the_first_try_is_the_answer(service, fake_time):
    taken = (409, envelope({}, "error", "A job with id 'nightly' exists already"), {})
    fake = service(taken, (200, envelope({"id": "nightly", "code": "echo hi"}), {}))
    with pytest.raises(ClientError, match="exists already"):
        client(fake.url).create_job({"id": "nightly", "code": "echo hi"})
    assert len(fake.requests) == 1


def test_a_cancel_retried_after_a_lost_answer_is_done_when_the_job_is_cancelled(service, fake_time):
    ended = (409, envelope({}, "error", "Job 'j1' is CANCELLED; it has ended already"), {})
    fake = service(
        (503, UNAVAILABLE, {"Retry-After": "1"}),
        ended,
        (200, envelope({"id": "j1", "status": "CANCELLED"}), {}),
    )
    assert client(fake.url).cancel_job("j1") == {"id": "j1", "status": "CANCELLED"}
    assert len(fake.requests) == 3


# ---- the command line -----------------------------------------------------------------


def test_submit_waits_through_503s_and_says_so_on_stderr(
    service, fake_time, tmp_path, capsys, monkeypatch
):
    fake = service(
        (503, UNAVAILABLE, {"Retry-After": "2"}),
        (503, UNAVAILABLE, {"Retry-After": "2"}),
        created,
    )
    script = tmp_path / "job.sh"
    script.write_text("echo hi\n")
    monkeypatch.delenv("SHELL_SERVICE_RETRY", raising=False)
    # Before the command: submit's own --retry is its job's attempts.
    code = run(["--retry", "30", "submit", str(script), "--url", fake.url, "--token", "t"])
    out, err = capsys.readouterr()
    sent_id = fake.requests[0][2]["id"]
    assert code == ExitCode.OK and out == f"{sent_id}\n"
    assert err.count("shell-service:") == 1 and "trying again for up to 30 s" in err, err
    assert fake_time.slept == [2, 2]


def test_the_retry_time_comes_from_the_flag_then_the_environment():
    assert resolve_settings(None, "t", {}).retry_seconds == DEFAULT_RETRY_SECONDS
    assert resolve_settings(None, "t", {"SHELL_SERVICE_RETRY": "5"}).retry_seconds == 5
    assert resolve_settings(None, "t", {"SHELL_SERVICE_RETRY": "5"}, None, "0").retry_seconds == 0
    for bad in ["-1", "soon", "nan", "inf"]:
        with pytest.raises(ClientError, match="retry time") as excinfo:
            resolve_settings(None, "t", {}, None, bad)
        assert excinfo.value.exit_code == ExitCode.USAGE
