"""Output goes to files while the job runs; the log endpoint reads and follows them."""

import threading
import time

import requests

from ..helpers import create_job, run_job, wait_for_job


def test_log_reads_from_an_offset_and_says_where_to_continue(api):
    job = run_job(api, "printf 'abcdef'; printf 'err' >&2")
    first = api.get(f"/api/jobs/{job['id']}/log?offset=2").json()["data"]
    assert first == {"text": "cdef", "offset": 6, "finished": True, "size": 6}
    assert api.get(f"/api/jobs/{job['id']}/log?offset=6").json()["data"]["text"] == ""
    err = api.get(f"/api/jobs/{job['id']}/log?stream=stderr").json()["data"]
    assert err["text"] == "err"


def test_log_shows_output_while_the_job_runs(api):
    job_id = create_job(api, "echo first; sleep 30", execute=True)
    deadline = time.monotonic() + 10
    while api.get(f"/api/jobs/{job_id}/log").json()["data"]["text"] != "first\n":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert api.get(f"/api/jobs/{job_id}").json()["data"]["status"] == "RUNNING"
    api.post(f"/api/jobs/{job_id}/cancel")


def test_log_rejects_a_bad_stream_or_offset(api):
    job_id = create_job(api, "true")
    for query in ("stream=stdin", "offset=-1", "offset=x", "follow=perhaps"):
        response = api.get(f"/api/jobs/{job_id}/log?{query}")
        assert response.status_code == 400, query


def test_follow_streams_output_live_until_the_job_ends(api, server):
    job_id = create_job(api, "for i in 1 2 3; do echo tick $i; sleep 0.5; done", execute=True)
    received = []  # (seconds since start, chunk)
    started = time.monotonic()
    with requests.get(
        f"{server.url}/api/jobs/{job_id}/log?follow=true",
        headers={"Authorization": f"token {api.token}"},
        stream=True,
        timeout=30,
    ) as response:
        assert response.status_code == 200
        for chunk in response.iter_content(chunk_size=None):
            received.append((time.monotonic() - started, chunk.decode()))
    assert "".join(chunk for _, chunk in received) == "tick 1\ntick 2\ntick 3\n"
    # Live: the first tick arrived well before the job's end.
    assert received[0][0] < received[-1][0]
    assert wait_for_job(api, job_id)["status"] == "COMPLETE"


def test_row_keeps_output_up_to_max_output_bytes_and_flags_the_rest(api, server):
    limit = server.cfg["jobs"]["max_output_bytes"]
    server.cfg["jobs"]["max_output_bytes"] = 1000
    try:
        job = run_job(api, "head -c 5000 /dev/zero | tr '\\0' y")
    finally:
        server.cfg["jobs"]["max_output_bytes"] = limit
    assert job["stdout"] == "y" * 1000
    assert job["stdout_truncated"] is True
    assert job["stderr_truncated"] is False
    # The file still has all of it.
    log = api.get(f"/api/jobs/{job['id']}/log?offset=4990").json()["data"]
    assert log["text"] == "y" * 10


def test_another_users_log_is_a_404(api, admin_api):
    job = run_job(admin_api, "echo secret")
    assert api.get(f"/api/jobs/{job['id']}/log").status_code == 404


def test_many_jobs_writing_at_once_keep_their_own_output(api):
    ids = [
        create_job(api, f"for i in $(seq 200); do echo job{n}; done", execute=True)
        for n in range(10)
    ]
    for n, job_id in enumerate(ids):
        job = wait_for_job(api, job_id)
        assert job["stdout"] == f"job{n}\n" * 200


def test_follow_ends_when_the_client_goes_away(api, server):
    job_id = create_job(api, "while true; do echo y; sleep 0.1; done", execute=True)
    done = threading.Event()

    def follow_briefly():
        with requests.get(
            f"{server.url}/api/jobs/{job_id}/log?follow=true",
            headers={"Authorization": f"token {api.token}"},
            stream=True,
            timeout=30,
        ) as response:
            next(response.iter_content(chunk_size=None))
        done.set()

    threading.Thread(target=follow_briefly).start()
    assert done.wait(10)
    assert api.get("/api/sysinfo").status_code == 200
    assert api.post(f"/api/jobs/{job_id}/cancel").status_code == 200


def test_log_pages_never_cut_a_character_in_two(api):
    # 65535 ASCII bytes then "é" (2 bytes): the first 64 KiB page would end mid-character.
    job = run_job(api, "head -c 65535 /dev/zero | tr '\\0' a; printf '\\303\\251 done'")
    first = api.get(f"/api/jobs/{job['id']}/log").json()["data"]
    assert first["offset"] == 65535 and first["text"] == "a" * 65535
    second = api.get(f"/api/jobs/{job['id']}/log?offset={first['offset']}").json()["data"]
    assert second["text"] == "é done"


def test_many_follows_at_once_hold_no_database_connection(api, server):
    """More followers than the pool has connections, and the API still answers."""
    job_id = create_job(api, "sleep 3; echo end", execute=True)
    wait_for_job(api, job_id, statuses={"RUNNING"})
    outputs = []

    def follow():
        with requests.get(
            f"{server.url}/api/jobs/{job_id}/log?follow=true",
            headers={"Authorization": f"token {api.token}"},
            timeout=30,
        ) as response:
            outputs.append(response.text)

    followers = [threading.Thread(target=follow) for _ in range(25)]
    for thread in followers:
        thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    assert api.get("/api/sysinfo").status_code == 200
    assert time.monotonic() - started < 2
    for thread in followers:
        thread.join(30)
    assert outputs == ["end\n"] * 25
