"""A job's log: the API's size, tail and download; the dashboard's one stream of
stdout and stderr (resumable by byte offsets) and its downloads."""

import json
import threading

import requests

from .. import factories
from ..api.envelope import assert_success
from ..conftest import Client
from ..helpers import run_job
from .conftest import Browser

#: Both streams, a multi-byte character, colours (256 and true colour) and a progress bar.
SCRIPT = (
    "printf 'one\\n\\033[38;5;196mred\\033[0m \\033[38;2;0;128;255mblue\\033[0m\\n'; "
    "printf 'oops \\303\\251\\n' >&2; "
    "printf 'progress 10%%\\rprogress 50%%\\rprogress 100%%\\n'; "
    "printf 'last\\n'"
)
STDOUT = (
    "one\n\033[38;5;196mred\033[0m \033[38;2;0;128;255mblue\033[0m\n"
    "progress 10%\rprogress 50%\rprogress 100%\nlast\n"
)
STDERR = "oops é\n"


def session_client(web: Browser) -> Client:
    client = Client(web.base_url, web.token)
    return client


def events(response: requests.Response) -> list[dict]:
    """The events of a finished Server-Sent Events answer."""
    out = []
    for block in response.text.split("\n\n"):
        if not block.strip() or block.startswith(":"):
            continue
        event = {}
        for line in block.split("\n"):
            key, _, value = line.partition(": ")
            event[key] = value
        event["data"] = json.loads(event["data"])
        out.append(event)
    return out


def test_the_api_answers_the_files_size_a_tail_and_a_download(web):
    api = session_client(web)
    job = run_job(api, SCRIPT)
    assert job["status"] == "COMPLETE", job
    size = len(STDOUT.encode())
    page = assert_success(api.get(f"/api/jobs/{job['id']}/log"))
    assert (page["text"], page["size"], page["offset"]) == (STDOUT, size, size)
    page = assert_success(api.get(f"/api/jobs/{job['id']}/log", params={"tail": 5}))
    assert (page["text"], page["offset"], page["size"]) == ("last\n", size, size)
    # A tail that starts inside "é" (2 bytes) moves on to the next character.
    page = assert_success(
        api.get(f"/api/jobs/{job['id']}/log", params={"stream": "stderr", "tail": 2})
    )
    assert page["text"] == "\n"
    page = assert_success(api.get(f"/api/jobs/{job['id']}/log", params={"tail": 10**9}))
    assert page["text"] == STDOUT
    download = api.get(f"/api/jobs/{job['id']}/log", params={"download": "true"})
    assert download.status_code == 200
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.headers["Content-Disposition"] == f'attachment; filename="{job["id"]}.stdout"'
    assert download.content == STDOUT.encode()
    assert api.get(f"/api/jobs/{job['id']}/log", params={"tail": -1}).status_code == 400


def test_a_ready_jobs_log_is_empty_with_size_zero(web):
    api = session_client(web)
    job_id = assert_success(api.post("/api/jobs", json={"code": "echo"}))["id"]
    page = assert_success(api.get(f"/api/jobs/{job_id}/log", params={"tail": 100}))
    assert (page["text"], page["size"], page["offset"]) == ("", 0, 0)


def test_the_dashboard_streams_stdout_and_stderr_together_with_their_offsets(web):
    job = run_job(session_client(web), SCRIPT)
    response = web.get(f"/ui/jobs/{job['id']}/log")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    got = events(response)
    assert got[-1]["event"] == "end" and got[-1]["data"] == "COMPLETE"
    out = "".join(e["data"] for e in got if e["event"] == "out")
    err = "".join(e["data"] for e in got if e["event"] == "err")
    assert (out, err) == (STDOUT, STDERR)
    # Where each file was read to: its attempt and the byte offset in it.
    assert got[-1]["id"] == f"1:{len(STDOUT.encode())},1:{len(STDERR.encode())}"


def test_the_stream_resumes_from_the_last_event_id_with_no_gap_or_duplicate(web):
    lines = "".join(f"line {i}\n" for i in range(20000))  # 228,890 bytes: several reads
    job = run_job(
        session_client(web), "i=0; while [ $i -lt 20000 ]; do echo line $i; i=$((i+1)); done"
    )
    first = events(web.get(f"/ui/jobs/{job['id']}/log"))
    outs = [e for e in first if e["event"] == "out"]
    assert len(outs) >= 3
    cut = outs[1]
    resumed = events(web.get(f"/ui/jobs/{job['id']}/log", headers={"Last-Event-ID": cut["id"]}))
    text = (
        outs[0]["data"]
        + outs[1]["data"]
        + "".join(e["data"] for e in resumed if e["event"] == "out")
    )
    assert text == lines
    # ?from= (a reopened stream after the tab was hidden) is the same.
    again = events(web.get(f"/ui/jobs/{job['id']}/log?from={cut['id']}"))
    assert [e["data"] for e in again] == [e["data"] for e in resumed]


def test_the_stream_goes_on_with_each_next_attempt_and_resumes_in_an_earlier_one(web):
    # No back-off: attempts follow each other faster than the stream looks.
    code = (
        'n=$SHELL_SERVICE_ATTEMPT; echo "out $n"; echo "err $n" >&2; sleep 0.3; '
        'echo "out $n end"; [ "$n" -ge 3 ] || exit 75'
    )
    api = session_client(web)
    made = api.post("/api/jobs", json={"code": code, "execute": True, "retry": {"attempts": 3}})
    assert made.status_code == 200, made.text
    job_id = made.json()["data"]["id"]
    got = events(web.get(f"/ui/jobs/{job_id}/log?from=1:0,1:0"))
    assert got[-1]["event"] == "end" and got[-1]["data"] == "COMPLETE"
    out = "".join(e["data"] for e in got if e["event"] == "out")
    err = "".join(e["data"] for e in got if e["event"] == "err")
    assert out == "".join(f"out {n}\nout {n} end\n" for n in (1, 2, 3))
    assert err == "".join(f"err {n}\n" for n in (1, 2, 3))
    assert got[-1]["id"] == "3:16,3:6"  # "out 3\nout 3 end\n", "err 3\n"
    # Resumed in attempt 1 (a browser that lost the stream then): the rest of
    # attempts 1 and 2 come from their stored output, then attempt 3's file.
    resumed = events(web.get(f"/ui/jobs/{job_id}/log", headers={"Last-Event-ID": "1:6,1:0"}))
    out = "".join(e["data"] for e in resumed if e["event"] == "out")
    assert out == "out 1 end\n" + "".join(f"out {n}\nout {n} end\n" for n in (2, 3))


def test_a_bad_event_id_starts_the_stream_afresh(web):
    job = run_job(session_client(web), "echo hi")
    for bad in ("1:2", "x:1,1:0", "1:,1:0", "-1:0,0", "1:2:3,0", "9" * 19 + ",0"):
        got = events(web.get(f"/ui/jobs/{job['id']}/log", headers={"Last-Event-ID": bad}))
        assert "".join(e["data"] for e in got if e["event"] == "out") == "hi\n", bad


def test_a_big_log_starts_half_a_mebibyte_before_each_end(web):
    job = run_job(session_client(web), "head -c 3000000 /dev/zero | tr '\\0' 'x'")
    got = events(web.get(f"/ui/jobs/{job['id']}/log"))
    out = "".join(e["data"] for e in got if e["event"] == "out")
    assert len(out) == 512 * 1024  # no line starts near there: exactly the tail
    # The page is told what it does not show.
    assert got[0]["event"] == "skipped"
    assert got[0]["data"] == {"stream": "stdout", "bytes": 3_000_000 - 512 * 1024}
    assert [e for e in got if e["event"] == "skipped"] == got[:1]  # stderr is empty
    assert got[-1]["id"] == "1:3000000,1:0"
    download = web.get(f"/ui/jobs/{job['id']}/download/stdout")
    assert download.status_code == 200 and len(download.content) == 3_000_000
    assert download.headers["Content-Length"] == "3000000"


def test_another_users_log_stream_and_downloads_are_404(web, server):
    theirs = factories.JobFactory(status="COMPLETE")
    for path in ("log", "download/stdout", "download/stderr"):
        assert web.get(f"/ui/jobs/{theirs.id}/{path}").status_code == 404
    # And no session: to sign-in.
    assert Browser(server.url).get(f"/ui/jobs/{theirs.id}/log").status_code == 302


def test_a_big_logs_first_look_starts_at_a_line_of_each_file(web):
    # 100,000 numbered lines on each (588,895 and 688,895 bytes).
    script = "seq 1 100000; seq 1 100000 | sed 's/^/e/' >&2"
    job = run_job(session_client(web), script)
    got = events(web.get(f"/ui/jobs/{job['id']}/log"))
    out = "".join(e["data"] for e in got if e["event"] == "out")
    err = "".join(e["data"] for e in got if e["event"] == "err")
    for text, whole in ((out, job["stdout"]), (err, job["stderr"])):
        assert whole.endswith(text) and len(text) <= 512 * 1024
        assert whole[len(whole) - len(text) - 1] == "\n"  # a whole first line
        assert len(text) > 512 * 1024 - 4096
    skipped = {e["data"]["stream"]: e["data"]["bytes"] for e in got if e["event"] == "skipped"}
    assert skipped == {
        "stdout": len(job["stdout"]) - len(out),
        "stderr": len(job["stderr"]) - len(err),
    }


def test_a_ready_jobs_stream_waits_and_follows_once_it_is_queued(web):
    client = session_client(web)
    response = client.post("/api/jobs", json={"code": "echo queued at last"})
    job_id = response.json()["data"]["id"]
    executed = threading.Timer(1.0, lambda: client.post(f"/api/jobs/{job_id}/execute"))
    executed.start()
    try:
        got = events(web.get(f"/ui/jobs/{job_id}/log"))
    finally:
        executed.join()
    assert "".join(e["data"] for e in got if e["event"] == "out") == "queued at last\n", got
    assert (got[-1]["event"], got[-1]["data"]) == ("end", "COMPLETE")


def test_a_ready_jobs_stream_ends_when_it_is_deleted(web):
    client = session_client(web)
    job_id = client.post("/api/jobs", json={"code": "true"}).json()["data"]["id"]
    deleted = threading.Timer(1.0, lambda: client.delete(f"/api/jobs/{job_id}"))
    deleted.start()
    try:
        got = events(web.get(f"/ui/jobs/{job_id}/log"))
    finally:
        deleted.join()
    assert [(e["event"], e["data"]) for e in got] == [("end", "deleted")]
