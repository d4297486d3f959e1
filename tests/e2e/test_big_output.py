"""A job printing 2 GB: output goes to files, never through a service process's memory."""

import shutil
import threading

import pytest

from ..helpers import create_job, wait_for_job
from .test_restart import service_pids

PRINT_2GB = """
import os
chunk = b"x" * 2**20
for _ in range(2048):
    try:
        os.write(1, chunk)
    except OSError:  # past jobs.max_log_bytes the file refuses more: dropped
        pass
"""


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@pytest.mark.skipif(not shutil.which("python3"), reason="python3 is not installed")
def test_2gb_of_output_raises_no_app_worker_or_executor_memory_by_50mb(stack_admin, supervisorctl):
    pids = service_pids(supervisorctl)  # the app workers and the executor
    before = {pid: rss_mb(pid) for pid in pids}
    peak = dict(before)
    done = threading.Event()

    def sample():
        while not done.is_set():
            for pid in pids:
                peak[pid] = max(peak[pid], rss_mb(pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        job_id = create_job(stack_admin, PRINT_2GB, shell="python3", execute=True)
        job = wait_for_job(stack_admin, job_id, timeout=300)
        tail = stack_admin.get(f"/api/jobs/{job_id}/log?offset=0").json()["data"]
    finally:
        done.set()
        sampler.join()
    assert job["status"] == "COMPLETE"
    assert job["stdout_truncated"] is True
    assert len(job["stdout"]) == 2**20  # the row keeps jobs.max_output_bytes
    assert len(tail["text"]) == 65536
    growth = {pid: peak[pid] - before[pid] for pid in pids}
    print(f"RSS before (MB): {before}; growth during the 2 GB job (MB): {growth}")
    assert max(growth.values()) < 50
