"""Following a job's log: resumed from the right byte after a broken connection."""

import io

import pytest
import requests

from shell_service.client import watch
from shell_service.client.errors import ClientError, ExitCode


class FlakyLog:
    """An Api stand-in: the log ``b"abcdef"`` whose first connection breaks after ``abc``."""

    def __init__(self, breaks: list[Exception]):
        self.breaks = breaks
        self.offsets: list[int] = []

    def follow_log(self, job_id, stream, offset, attempt=None):
        self.offsets.append(offset)
        if self.breaks:
            error = self.breaks.pop(0)
            if offset == 0:
                yield b"abc"
            raise error
        yield b"abcdef"[offset:]

    def get_job(self, job_id):
        return {"id": job_id, "status": "COMPLETE"}

    def read_log(self, job_id, stream, offset, attempt=None):
        return {"text": "", "offset": offset}


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(watch, "POLL_INTERVAL", 0)


def test_a_broken_stream_resumes_from_the_bytes_already_copied():
    api = FlakyLog([requests.exceptions.ChunkedEncodingError("cut")])
    sink = io.BytesIO()
    watch.copy_stream(api, "j1", "stdout", sink)
    assert sink.getvalue() == b"abcdef"
    assert api.offsets == [0, 3]


def test_a_restarting_service_is_waited_for():
    restarting = ClientError("not available (HTTP 503)", ExitCode.ERROR, 503)
    down = ClientError("cannot reach", ExitCode.UNREACHABLE)
    api = FlakyLog([restarting, down])
    sink = io.BytesIO()
    watch.copy_stream(api, "j1", "stdout", sink)
    assert sink.getvalue() == b"abcdef"


def test_a_job_that_is_gone_ends_the_follow_at_once():
    api = FlakyLog([ClientError("No job with id 'j1' (HTTP 404)", ExitCode.NOT_FOUND, 404)])
    with pytest.raises(ClientError, match="No job"):
        watch.copy_stream(api, "j1", "stdout", io.BytesIO())
    assert api.offsets == [0]


def test_reconnecting_gives_up_after_the_window(monkeypatch):
    monkeypatch.setattr(watch, "RECONNECT_WINDOW", 0.05)

    class Down(FlakyLog):
        def follow_log(self, job_id, stream, offset, attempt=None):
            raise requests.ConnectionError("refused")

    api = Down([])
    with pytest.raises(ClientError, match="the job goes on") as excinfo:
        watch.copy_stream(api, "j1", "stdout", io.BytesIO())
    assert excinfo.value.exit_code == ExitCode.UNREACHABLE


def test_a_job_on_another_host_is_waited_for_then_its_stored_output_is_copied(capsys):
    """Its live output is on its host (409 while it runs): wait for its end, then copy
    what the service stored, from the first byte."""
    elsewhere = ClientError("Job 'j1' runs on host 'hostb': ... (HTTP 409)", ExitCode.CONFLICT, 409)

    class OnAnotherHost(FlakyLog):
        def __init__(self):
            super().__init__([])
            self.polls = 0

        def follow_log(self, job_id, stream, offset, attempt=None):
            self.offsets.append(offset)
            if self.polls < 3:
                raise elsewhere
            yield b"abcdef"[offset:]

        def get_job(self, job_id):
            self.polls += 1
            return {"id": job_id, "status": "RUNNING" if self.polls < 3 else "COMPLETE"}

    api = OnAnotherHost()
    sink = io.BytesIO()
    watch.copy_stream(api, "j1", "stdout", sink)
    assert sink.getvalue() == b"abcdef"
    assert api.offsets == [0, 0]
    assert "runs on host 'hostb'" in capsys.readouterr().err


def test_each_attempt_is_followed_alone_and_a_cut_resumes_in_its_attempt():
    """Attempt 1 (``one``) ends while the connection is down; its rest comes by
    (attempt 1, offset 3), then attempt 2 from its start: nothing lost or repeated."""
    outputs = {1: b"one\n", 2: b"two\n"}

    class Retried:
        def __init__(self):
            self.follows: list[tuple] = []

        def follow_log(self, job_id, stream, offset, attempt=None):
            self.follows.append((attempt, offset))
            if len(self.follows) == 1:
                yield b"one"
                raise requests.exceptions.ChunkedEncodingError("cut")
            yield outputs[attempt][offset:]

        def get_job(self, job_id):
            return {"id": job_id, "status": "COMPLETE", "attempt": 2}

        def read_log(self, job_id, stream, offset, attempt=None):
            text = outputs[attempt][offset:]
            return {"text": text.decode(), "offset": offset + len(text)}

    api = Retried()
    sink = io.BytesIO()
    watch.copy_stream(api, "j1", "stdout", sink)
    assert sink.getvalue() == b"one\ntwo\n"
    assert api.follows == [(1, 0), (1, 3), (2, 0)]
