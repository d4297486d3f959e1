"""Retries on the test stack, through nginx and the CLI: a back-off waited out
by the waiting-jobs service as supervisord runs it (``services/waiting``)."""

import time

from ..helpers import wait_for_job
from .test_cli import Cli

#: Exits 75 until its third attempt, saying which attempt it is.
FLAKY = 'echo "attempt $SHELL_SERVICE_ATTEMPT"\n[ "$SHELL_SERVICE_ATTEMPT" -ge 3 ] || exit 75\n'


def test_submit_retry_wait_show_and_logs_of_each_attempt(stack, stack_user, tmp_path):
    cli = Cli(stack, stack_user.token, tmp_path)
    job_id = f"flaky_{time.time_ns()}"
    script = cli.script("flaky.sh", FLAKY)
    result = cli(
        "submit", script, "--id", job_id, "--retry", "3", "--retry-exit-codes", "75",
        "--retry-backoff", "1:1", "--wait", timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, (result.stdout, result.stderr)
    # --wait follows each attempt's output in turn and exits with the last one's code.
    assert result.stdout == "attempt 1\nattempt 2\nattempt 3\n", result.stdout
    shown = cli("show", job_id)
    assert shown.returncode == 0, shown.stderr
    assert "retry:       attempt 3 of 3, on FAILED exit 75, back-off 1 s x1 up to 3600 s" in (
        shown.stdout
    ), shown.stdout
    assert "    1: FAILED (exit 75) on " in shown.stdout
    assert "    2: FAILED (exit 75) on " in shown.stdout
    assert "    3: COMPLETE (exit 0) on " in shown.stdout
    assert "attempt 1 ended FAILED (exit code 75); attempt 2 of 3 at " in shown.stdout
    for number in (1, 2, 3):
        log = cli("logs", job_id, "--attempt", str(number))
        assert (log.returncode, log.stdout) == (0, f"attempt {number}\n"), log.stderr
    missing = cli("logs", job_id, "--attempt", "4")
    assert missing.returncode == 5 and "no attempt 4" in missing.stderr, missing.stderr


def test_attempts_exhausted_exit_with_the_last_attempts_code(stack, stack_user, tmp_path):
    cli = Cli(stack, stack_user.token, tmp_path)
    script = cli.script("fails.sh", "exit $((10 + SHELL_SERVICE_ATTEMPT))")
    result = cli("submit", script, "--retry", "2", "--wait", timeout=120)
    assert result.returncode == 12, (result.stdout, result.stderr)


def test_a_slurm_queues_retried_job_is_handed_to_slurm_again(stack_user):
    code = 'echo "attempt $SHELL_SERVICE_ATTEMPT"\n[ "$SHELL_SERVICE_ATTEMPT" -ge 2 ] || exit 75\n'
    response = stack_user.post(
        "/api/jobs",
        json={"code": code, "queue": "slurm", "execute": True, "retry": {"attempts": 2}},
    )
    assert response.status_code == 200, response.text
    job_id = response.json()["data"]["id"]
    job = wait_for_job(stack_user, job_id, timeout=120)
    assert (job["status"], job["attempt"], job["stdout"]) == ("COMPLETE", 2, "attempt 2\n"), job
    assert [a["status"] for a in job["attempts"]] == ["FAILED", "COMPLETE"]
    events = stack_user.get(f"/api/jobs/{job_id}/events").json()["data"]
    submitted = [
        e["detail"] for e in events if (e["detail"] or "").startswith("submitted to Slurm")
    ]
    assert len(submitted) == 2 and submitted[0] != submitted[1], submitted
    assert submitted[1].startswith(f"submitted to Slurm as job {job['slurm_job_id']}")
    first = stack_user.get(f"/api/jobs/{job_id}/log", params={"attempt": 1}).json()["data"]
    assert first["text"] == "attempt 1\n"
