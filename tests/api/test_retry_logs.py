"""A retried job's output followed from a given attempt (``follow=true&attempt=N``)
through every later one, and the CLI's follow (``submit --wait``, ``logs -f``),
which starts at attempt 1 and resumes a broken connection at (attempt, offset).
Real jobs on the in-process executor."""

import io
import threading

import pytest
import requests

from shell_service.client import watch
from shell_service.client.api import Api
from shell_service.client.settings import Settings

from ..helpers import create_job, wait_for_job, wait_until

#: Exits 75 until its third attempt, saying which attempt it is; no back-off, so
#: attempts end and start faster than a client polls.
FLAKY = 'echo "attempt $SHELL_SERVICE_ATTEMPT"; echo "err $SHELL_SERVICE_ATTEMPT" >&2\n'
FLAKY += '[ "$SHELL_SERVICE_ATTEMPT" -ge 3 ] || exit 75'
ALL_ATTEMPTS = "attempt 1\nattempt 2\nattempt 3\n"


def submit(api, code, **fields) -> str:
    return create_job(api, code, execute=True, **fields)


def follow(api, job_id: str, **query) -> requests.Response:
    response = api.get(f"/api/jobs/{job_id}/log", params={"follow": "true", **query})
    assert response.status_code == 200, response.text
    return response


@pytest.fixture
def client_api(api):
    """The CLI's Api, as ``api``'s user."""
    return Api(Settings(api.base_url, api.token, "--token", 0))


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch):
    monkeypatch.setattr(watch, "POLL_INTERVAL", 0.05)


def test_a_follow_from_attempt_1_of_an_ended_job_streams_every_attempt(api):
    job_id = submit(api, FLAKY, retry={"attempts": 3})
    assert wait_for_job(api, job_id)["attempt"] == 3
    assert follow(api, job_id, attempt=1).text == ALL_ATTEMPTS
    assert follow(api, job_id, attempt=2).text == "attempt 2\nattempt 3\n"
    assert follow(api, job_id, attempt=1, offset=8).text == "1\nattempt 2\nattempt 3\n"
    assert follow(api, job_id, attempt=1, stream="stderr").text == "err 1\nerr 2\nerr 3\n"
    # The last 4 bytes of attempt 1, then the rest.
    assert follow(api, job_id, attempt=1, tail=4).text == "t 1\nattempt 2\nattempt 3\n"
    # Without attempt: the current attempt's, as before.
    assert follow(api, job_id).text == "attempt 3\n"
    # One attempt alone.
    assert follow(api, job_id, attempt=2, one_attempt="true").text == "attempt 2\n"
    assert follow(api, job_id, attempt=3, one_attempt="true").text == "attempt 3\n"
    missing = api.get(f"/api/jobs/{job_id}/log", params={"follow": "true", "attempt": 4})
    assert missing.status_code == 404


def test_a_follow_from_attempt_1_goes_on_live_with_the_running_attempt(api, gate):
    code = FLAKY.replace("|| exit 75", f"|| exit 75\n{gate.code}\necho done")
    job_id = submit(api, code, retry={"attempts": 3})
    wait_until(lambda: api.get(f"/api/jobs/{job_id}").json()["data"]["attempt"] == 3, "attempt 3")
    response = api.get(
        f"/api/jobs/{job_id}/log", params={"follow": "true", "attempt": 1}, stream=True
    )
    received = b""
    chunks = response.iter_content(chunk_size=None)
    while received != ALL_ATTEMPTS.encode():
        received += next(chunks)
    gate.open()  # attempt 3 goes on while followed
    received += b"".join(chunks)
    assert received.decode() == ALL_ATTEMPTS + "done\n"


def test_a_one_attempt_follow_ends_with_its_attempt(api, gate):
    code = (
        'echo "attempt $SHELL_SERVICE_ATTEMPT"\n'
        f'if [ "$SHELL_SERVICE_ATTEMPT" = 1 ]; then {gate.code}; echo "more 1"; exit 75; fi\n'
        "sleep 1; echo late"
    )
    job_id = submit(api, code, retry={"attempts": 2})
    wait_until(lambda: api.get(f"/api/jobs/{job_id}").json()["data"]["status"] == "RUNNING", "")
    result: list[str] = []
    reader = threading.Thread(
        target=lambda: result.append(follow(api, job_id, attempt=1, one_attempt="true").text)
    )
    reader.start()
    gate.open()
    reader.join(30)
    # Attempt 2's text (written a second after it starts) is not in it.
    assert result == ["attempt 1\nmore 1\n"]
    assert wait_for_job(api, job_id)["status"] == "COMPLETE"


def test_the_cli_follow_prints_every_attempt_even_when_started_after_them(api, client_api):
    job_id = submit(api, FLAKY, retry={"attempts": 3})
    assert wait_for_job(api, job_id)["attempt"] == 3
    out, err = io.BytesIO(), io.BytesIO()
    watch.stream_output(client_api, job_id, out, err)
    assert out.getvalue().decode() == ALL_ATTEMPTS
    assert err.getvalue().decode() == "err 1\nerr 2\nerr 3\n"


def test_submit_wait_prints_every_attempt_of_fast_retries(api, client_api, capfd):
    job_id = submit(api, FLAKY, retry={"attempts": 3})
    assert watch.wait_for_job(client_api, job_id) == 0
    out, err = capfd.readouterr()
    assert out == ALL_ATTEMPTS
    assert "err 1\nerr 2\nerr 3\n" in err


class CutOnce(Api):
    """The CLI's Api whose first followed stream breaks after its first chunk (the
    connection closed mid-stream); its reconnect waits for ``resume``."""

    def __init__(self, settings):
        super().__init__(settings)
        self.resume = threading.Event()
        self.follows: list[tuple] = []

    def follow_log(self, job_id, stream, offset, attempt=None):
        self.follows.append((attempt, offset))
        if len(self.follows) == 2:
            assert self.resume.wait(60)
        chunks = super().follow_log(job_id, stream, offset, attempt)
        if len(self.follows) > 1:
            yield from chunks
            return
        yield next(chunks)
        chunks.close()  # closes the response: the connection is gone
        raise requests.exceptions.ChunkedEncodingError("connection cut")


def test_a_follow_cut_mid_attempt_resumes_in_that_attempt_after_the_next_started(api, gate):
    code = (
        'echo "attempt $SHELL_SERVICE_ATTEMPT"\n'
        f'if [ "$SHELL_SERVICE_ATTEMPT" = 1 ]; then {gate.code}; echo "more 1"; exit 75; fi\n'
        'echo "end $SHELL_SERVICE_ATTEMPT"'
    )
    job_id = submit(api, code, retry={"attempts": 2})
    client = CutOnce(Settings(api.base_url, api.token, "--token", 0))
    sink = io.BytesIO()
    copier = watch.StreamCopier(client, job_id, "stdout", sink)
    copier.start()
    wait_until(lambda: sink.getvalue() == b"attempt 1\n", "attempt 1's first line")
    # While the connection is down, attempt 1 ends and attempt 2 runs to the end.
    gate.open()
    job = wait_for_job(api, job_id)
    assert (job["status"], job["attempt"]) == ("COMPLETE", 2)
    client.resume.set()
    copier.join(30)
    assert copier.error is None
    assert sink.getvalue() == b"attempt 1\nmore 1\nattempt 2\nend 2\n"
    assert client.follows[:2] == [(1, 0), (1, 10)]


@pytest.mark.parametrize(
    "query",
    [
        {"attempt": "\uff13"},  # a full-width 3
        {"attempt": "\u0663"},  # an Arabic-Indic 3
        {"offset": "\uff10"},
        {"tail": "1_000"},
        {"attempt": " 1"},
        {"attempt": "+\uff11"},
    ],
)
def test_a_number_in_a_query_is_ascii_digits_only(api, query):
    job_id = create_job(api, "true")
    response = api.get(f"/api/jobs/{job_id}/log", params=query)
    assert response.status_code == 400, response.text
    [field] = query
    assert response.json()["data"]["errors"] == {field: ["Not a valid integer."]}
    listed = api.get("/api/jobs", params={"limit": "\uff15"})
    assert listed.status_code == 400
    waited = api.get(f"/api/jobs/{job_id}", params={"wait": "\uff11.5"})
    assert waited.status_code == 400 and "wait" in waited.json()["data"]["errors"]


@pytest.mark.parametrize(
    "extra",
    [{"tail": 2}, {"offset": 1}, {"offset": 0}, {"follow": "true"}, {"one_attempt": "false"}],
)
def test_a_download_takes_no_part_or_stream_argument(api, extra):
    job_id = submit(api, "echo hi")
    wait_for_job(api, job_id)
    response = api.get(f"/api/jobs/{job_id}/log", params={"download": "true", **extra})
    assert response.status_code == 400
    assert list(response.json()["data"]["errors"]) == list(extra)
    whole = api.get(f"/api/jobs/{job_id}/log", params={"download": "true"})
    assert whole.content == b"hi\n"


def test_the_cli_follow_of_a_ready_job_waits_for_it_and_prints_only_its_output(
    api, client_api, capfd
):
    lines = "".join(f"line {i}\n" for i in range(1, 301))
    job_id = create_job(api, "seq 1 300 | sed 's/^/line /'")
    sink = io.BytesIO()
    copier = threading.Thread(
        target=watch.copy_stream, args=(client_api, job_id, "stdout", sink), daemon=True
    )
    copier.start()
    try:
        wait_until(lambda: "is READY, not queued" in capfd.readouterr().err, "the note", 10)
        assert api.post(f"/api/jobs/{job_id}/execute").status_code == 200
    finally:
        copier.join(30)
    assert not copier.is_alive()
    assert sink.getvalue().decode() == lines  # no JSON page, nothing missing


def test_each_attempt_says_whether_its_stored_output_was_cut(api, server):
    limit = server.cfg["jobs"]["max_output_bytes"]
    server.cfg["jobs"]["max_output_bytes"] = 1000
    try:
        # Attempt 1 writes 2,000 bytes to stdout and fails; attempt 2 writes little.
        code = (
            'if [ "$SHELL_SERVICE_ATTEMPT" = 1 ]; then head -c 2000 /dev/zero | tr "\\0" a;'
            " echo e >&2; exit 3; fi; echo ok"
        )
        job_id = submit(api, code, retry={"attempts": 2})
        job = wait_for_job(api, job_id)
    finally:
        server.cfg["jobs"]["max_output_bytes"] = limit
    assert job["status"] == "COMPLETE", job
    first, second = job["attempts"]
    assert (first["stdout_truncated"], first["stderr_truncated"]) == (True, False)
    assert (second["stdout_truncated"], second["stderr_truncated"]) == (False, False)
    stored = api.get(f"/api/jobs/{job_id}/log", params={"attempt": 1}).json()["data"]
    assert stored["text"] == "a" * 1000


def test_an_attempt_cancelled_in_its_back_off_has_no_output_of_the_last_ones(api, client_api):
    # Attempt 2 never ran: the job's directory still holds attempt 1's files, which
    # are not attempt 2's output (nor the job's, which ended at attempt 2).
    code = 'echo "try $SHELL_SERVICE_ATTEMPT"; exit 1'
    job_id = submit(api, code, retry={"attempts": 5, "backoff": {"initial": 300}})
    wait_until(
        lambda: api.get(f"/api/jobs/{job_id}").json()["data"]["waiting_for"] == "backoff",
        "the back-off",
    )
    assert api.post(f"/api/jobs/{job_id}/cancel").status_code == 200
    job = wait_for_job(api, job_id)
    assert (job["status"], job["attempt"], job["stdout"]) == ("CANCELLED", 2, None)
    log = f"/api/jobs/{job_id}/log"
    for query in ({}, {"attempt": 2}, {"tail": 100}):
        assert api.get(log, params=query).json()["data"]["text"] == "", query
    assert api.get(log, params={"download": "true"}).content == b""
    assert api.get(log, params={"attempt": 1}).json()["data"]["text"] == "try 1\n"
    assert follow(api, job_id, attempt=1).text == "try 1\n"
    assert follow(api, job_id).text == ""
    # The CLI's follow prints every attempt's, each once.
    out, err = io.BytesIO(), io.BytesIO()
    watch.stream_output(client_api, job_id, out, err)
    assert (out.getvalue(), err.getvalue()) == (b"try 1\n", b"")
