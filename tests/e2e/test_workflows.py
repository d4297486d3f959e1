"""Dependencies and arrays on the test stack, through nginx and the CLI, with the
waiting-jobs service as supervisord runs it (``services/waiting``)."""

import time

from ..helpers import wait_for_job, wait_until
from .test_cli import Cli


def test_the_waiting_service_runs_in_the_stack(supervisorctl):
    status = supervisorctl("status", "waiting").stdout
    assert "RUNNING" in status, status


def test_an_array_then_a_job_after_it_with_the_cli(stack, stack_user, tmp_path):
    cli = Cli(stack, stack_user.token, tmp_path)
    array_id = f"parts_{time.time_ns()}"
    part = cli.script("part.sh", 'echo "part $SHELL_SERVICE_ARRAY_INDEX"')
    result = cli("submit", part, "--array", "0-3%2", "--id", array_id)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == array_id
    merge = cli.script("merge.sh", "echo merged")
    result = cli("submit", merge, "--depends-on", f"afterok:{array_id}", "--wait", timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "merged\n"
    listed = cli("ls", "--array", array_id)
    assert listed.returncode == 0, listed.stderr
    assert sorted(line.split()[0] for line in listed.stdout.splitlines()[1:]) == [
        f"{array_id}:{n}" for n in range(4)
    ]
    shown = cli("show", array_id)
    assert "array:       0-3%2 (4 tasks)" in shown.stdout, shown.stdout
    assert "array tasks: COMPLETE 4" in shown.stdout, shown.stdout
    log = stack_user.get(f"/api/jobs/{array_id}:2/log").json()["data"]
    assert log["text"] == "part 2\n"


def test_ls_array_of_a_job_that_is_no_array_or_none_exits_non_zero(stack, stack_user, tmp_path):
    cli = Cli(stack, stack_user.token, tmp_path)
    plain = cli("submit", cli.script("plain.sh", "true")).stdout.strip()
    # Exit 1 for a job that is no array; 5 (the API's 404) for none.
    for named, says, code in (
        (plain, "is not an array job", 1),
        (f"nosuch_{time.time_ns()}", "", 5),
    ):
        listed = cli("ls", "--array", named)
        assert listed.returncode == code, (named, listed.stdout, listed.stderr)
        assert says in listed.stderr and listed.stdout == ""


def test_a_failed_dependency_cancels_the_dependent_and_the_cli_says_why(
    stack, stack_user, tmp_path
):
    cli = Cli(stack, stack_user.token, tmp_path)
    failing = cli("submit", cli.script("fail.sh", "exit 4")).stdout.strip()
    result = cli(
        "submit",
        cli.script("never.sh", "echo never"),
        "--depends-on",
        f"afterok:{failing}",
        "--wait",
        timeout=60,
    )
    assert result.returncode == 125, (result.stdout, result.stderr)
    assert (
        f"dependency afterok on job {failing} cannot be satisfied: it ended FAILED" in result.stderr
    )
    assert result.stdout == ""


def test_jobs_wait_while_the_waiting_service_is_stopped_and_go_on_after(supervisorctl, stack_user):
    first = stack_user.post("/api/jobs", json={"code": "true", "execute": True}).json()["data"][
        "id"
    ]
    wait_for_job(stack_user, first)
    assert "stopped" in supervisorctl("stop", "waiting").stdout
    try:
        later = stack_user.post(
            "/api/jobs", json={"code": "true", "execute": True, "depends_on": f"afterok:{first}"}
        ).json()["data"]["id"]
        time.sleep(2)
        job = stack_user.get(f"/api/jobs/{later}").json()["data"]
        assert job["status"] == "QUEUED" and job["waiting_for"] == "dependencies"
    finally:
        assert "started" in supervisorctl("start", "waiting").stdout
    wait_until(
        lambda: wait_for_job(stack_user, later, timeout=30)["status"] == "COMPLETE",
        "the dependent runs once the service is back",
    )
