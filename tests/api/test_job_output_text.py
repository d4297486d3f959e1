"""Output read back exactly (issue 11, 5): the row copy, log pages and follow
chunks are cut on UTF-8 character boundaries; a character cut short at the end
of a running job's output waits, and once the job has ended it is handed out
(as U+FFFD) and the offset reaches the end of the file."""

import time

import requests

from ..helpers import create_job, run_job, wait_for_job
from .envelope import assert_success

#: The job writes this, then waits for the test to create ``release`` in its
#: work directory: its output ends in the first byte of a 2-byte character.
PRIX = "printf 'prix: 5\\351'; while [ ! -e release ]; do sleep 0.05; done"
PAGE = 65536


def log(api, job_id: str, **params) -> dict:
    return assert_success(api.get(f"/api/jobs/{job_id}/log", params=params))


def follow(api, server, job_id: str) -> requests.Response:
    return requests.get(
        f"{server.url}/api/jobs/{job_id}/log?follow=true",
        headers={"Authorization": f"token {api.token}"},
        stream=True,
        timeout=30,
    )


def release(server, job_id: str) -> None:
    (server.executor.job_files(job_id).work / "release").touch()


def first_log_with_text(api, job_id: str, timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    while not (page := log(api, job_id))["text"]:
        assert time.monotonic() < deadline, f"no output from {job_id} after {timeout} s"
        time.sleep(0.05)
    return page


def test_a_cut_character_waits_while_the_job_runs_and_comes_out_once_it_ended(api, server):
    job_id = create_job(api, PRIX, execute=True)
    try:
        assert first_log_with_text(api, job_id) == {
            "text": "prix: 5",
            "offset": 7,
            "finished": False,
            "size": 8,
        }
        assert log(api, job_id, offset=7) == {"text": "", "offset": 7, "finished": False, "size": 8}
    finally:
        release(server, job_id)
    job = wait_for_job(api, job_id)
    assert job["status"] == "COMPLETE"
    assert job["stdout"] == "prix: 5\ufffd"
    # Ended: the rest is handed out and the offset reaches the file's end (8 bytes).
    assert log(api, job_id, offset=7) == {
        "text": "\ufffd",
        "offset": 8,
        "finished": True,
        "size": 8,
    }
    assert log(api, job_id) == {"text": "prix: 5\ufffd", "offset": 8, "finished": True, "size": 8}
    assert log(api, job_id, offset=8) == {"text": "", "offset": 8, "finished": True, "size": 8}


def test_follow_holds_a_cut_character_back_until_the_job_ends_then_sends_it(api, server):
    job_id = create_job(api, PRIX, execute=True)
    try:
        with follow(api, server, job_id) as response:
            assert response.status_code == 200
            assert response.headers["Content-Type"] == "text/plain; charset=UTF-8"
            chunks = response.iter_content(chunk_size=None)
            # While it runs: the whole characters, and not the half one.
            assert next(chunks) == b"prix: 5"
            release(server, job_id)
            rest = b"".join(chunks)  # ends when the job has ended and all is sent
    finally:
        release(server, job_id)
    assert rest.decode("utf-8") == "\ufffd"
    assert wait_for_job(api, job_id)["status"] == "COMPLETE"


def test_an_emoji_across_the_64_kib_page_boundary_comes_whole_on_the_next_page(api, server):
    # 65534 ASCII bytes, then U+1F600 (4 bytes: 65534-65537), across the 64 KiB page.
    job = run_job(api, "head -c 65534 /dev/zero | tr '\\0' a; printf '\\360\\237\\230\\200 end'")
    first = log(api, job["id"])
    assert first == {"text": "a" * 65534, "offset": 65534, "finished": True, "size": 65542}
    second = log(api, job["id"], offset=first["offset"])
    assert second == {"text": "\U0001f600 end", "offset": 65542, "finished": True, "size": 65542}
    with follow(api, server, job["id"]) as response:
        assert response.content.decode("utf-8") == "a" * 65534 + "\U0001f600 end"


def test_invalid_bytes_are_u_fffd_in_the_row_the_log_and_the_follow(api, server):
    # \377 and a lone \351 in the middle; a lead byte that never starts a
    # character (\300) just before the 64 KiB page boundary is not held back.
    job = run_job(
        api,
        "printf 'a\\377b\\351c'; head -c 65530 /dev/zero | tr '\\0' x; printf '\\300yz'",
    )
    expected = "a\ufffdb\ufffdc" + "x" * 65530 + "\ufffdyz"
    assert job["stdout"] == expected
    first = log(api, job["id"])
    assert first == {
        "text": expected[:65536],
        "offset": PAGE,
        "finished": True,
        "size": 65538,
    }
    assert log(api, job["id"], offset=PAGE)["text"] == "yz"
    with follow(api, server, job["id"]) as response:
        body = response.content
    assert body.decode("utf-8") == expected


def test_the_row_copy_is_cut_on_a_character_boundary(api, server):
    limit = server.cfg["jobs"]["max_output_bytes"]
    server.cfg["jobs"]["max_output_bytes"] = 1000
    try:
        # "é" takes bytes 999 and 1000: the first 1000 bytes end in its first half.
        job = run_job(api, "head -c 999 /dev/zero | tr '\\0' a; printf '\\303\\251 more'")
        exact = run_job(api, "head -c 998 /dev/zero | tr '\\0' a; printf '\\303\\251 more'")
    finally:
        server.cfg["jobs"]["max_output_bytes"] = limit
    assert job["stdout"] == "a" * 999
    assert job["stdout_truncated"] is True
    assert exact["stdout"] == "a" * 998 + "é"
    assert exact["stdout_truncated"] is True
