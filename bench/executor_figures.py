"""Executor figures against a running stack (`make run`): burst rate and cancel latency.

    .venv/bin/python bench/executor_figures.py [--url http://127.0.0.1:5000] [--jobs 1000]

Prints jobs/s for a burst of `true` jobs created with "execute": true from 16
clients until all are COMPLETE, and the time from a cancel call to CANCELLED
with the job's processes gone.
"""

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor

import requests
import yaml


def client(url, token):
    session = requests.Session()
    session.headers["Authorization"] = f"token {token}"
    adapter = requests.adapters.HTTPAdapter(pool_connections=16, pool_maxsize=16)
    session.mount("http://", adapter)
    return session


def burst(api, url, count, clients=16):
    def submit(_):
        response = api.post(f"{url}/api/jobs", json={"code": "true", "execute": True})
        if response.status_code != 200:
            raise SystemExit(f"submit failed: {response.status_code} {response.text}")
        return response.json()["data"]["id"]

    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        ids = list(pool.map(submit, range(count)))
    submitted = time.monotonic() - started
    pending = set(ids)
    while pending:
        jobs = api.get(f"{url}/api/jobs", params={"limit": 1000}).json()["data"]
        pending -= {j["id"] for j in jobs if j["status"] == "COMPLETE"}
        if pending:
            time.sleep(0.05)
    elapsed = time.monotonic() - started
    return count / elapsed, count / submitted, elapsed


def cancel_latency(api, url, repeats=5):
    latencies = []
    for _ in range(repeats):
        job_id = api.post(
            f"{url}/api/jobs", json={"code": "sleep 300 & sleep 300", "execute": True}
        ).json()["data"]["id"]
        while api.get(f"{url}/api/jobs/{job_id}").json()["data"]["status"] != "RUNNING":
            time.sleep(0.02)
        time.sleep(0.2)
        started = time.monotonic()
        api.post(f"{url}/api/jobs/{job_id}/cancel")
        while api.get(f"{url}/api/jobs/{job_id}").json()["data"]["status"] != "CANCELLED":
            time.sleep(0.01)
        while any_sleep_300():
            time.sleep(0.01)
        latencies.append(time.monotonic() - started)
    return latencies


def any_sleep_300() -> bool:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read() == b"sleep\x00300\x00":
                    return True
        except OSError:
            pass
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:5000")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--tokens", default=".tokens.yaml")
    args = parser.parse_args()
    with open(args.tokens) as f:
        api = client(args.url, yaml.safe_load(f)["INITIAL_ADMIN"])
    rate, submit_rate, elapsed = burst(api, args.url, args.jobs)
    print(
        f"burst: {args.jobs} jobs COMPLETE in {elapsed:.2f} s: {rate:.0f} jobs/s "
        f"(submitted at {submit_rate:.0f}/s)"
    )
    latencies = cancel_latency(api, args.url)
    print(
        "cancel -> CANCELLED and processes gone: "
        + ", ".join(f"{x * 1000:.0f} ms" for x in latencies)
    )


if __name__ == "__main__":
    main()
