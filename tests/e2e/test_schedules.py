"""Schedules on the test stack: a tick fires exactly once although every app worker,
the executor and the scheduler are killed around it and a second scheduler races
the stack's own."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid

from baselayer.app.config import load_config
from baselayer.app.database import database_url
from baselayer.app.plain_sql import PlainSQL

from ..helpers import wait_for_job, wait_until
from .test_restart import wait_until_answering


def program_pids(supervisorctl, prefixes) -> dict[str, int]:
    pids = {}
    for line in supervisorctl("status").stdout.splitlines():
        words = line.replace(",", " ").split()
        if words and words[0].startswith(prefixes) and "RUNNING" in words:
            pids[words[0]] = int(words[words.index("pid") + 1])
    return pids


def test_a_tick_fires_once_across_restarts_of_every_worker_executor_and_scheduler(
    stack, stack_user, supervisorctl, cfg
):
    stack_cfg = load_config()
    sql = PlainSQL(database_url(stack_cfg), "test_schedules")
    name = f"def_{uuid.uuid4().hex[:8]}"
    body = {"name": name, "code": 'echo "tick $TICK_NAME"', "parameters": [
        {"name": "TICK_NAME", "type": "string", "required": True}]}  # fmt: skip
    assert stack_user.post("/api/definitions", json=body).status_code == 200
    created = stack_user.post(
        "/api/schedules",
        json={"definition": name, "cron": "* * * * *", "parameters": {"TICK_NAME": "once"}},
    )
    assert created.status_code == 200, created.text
    schedule_id = created.json()["data"]["id"]
    # A tick 4 s from now instead of the next minute boundary.
    tick = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0) + dt.timedelta(seconds=4)
    sql.rows(
        "UPDATE schedules SET next_fire_at = %(tick)s WHERE id = %(id)s RETURNING id",
        {"tick": tick, "id": schedule_id},
    )
    # A second scheduler on the same database races the stack's own.
    env = {**os.environ, "BASELAYER_CONFIG": os.environ.get("BASELAYER_CONFIG", "")}
    rival = subprocess.Popen(
        [sys.executable, "-m", "services.scheduler.scheduler",
         "--run-dir", str(stack_cfg.path("app.run_dir"))],
        cwd=stack_cfg.root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        before = program_pids(supervisorctl, ("app:", "executor", "scheduler"))
        assert len(before) == int(stack_cfg["server.processes"]) + 2, before
        # Around the tick: kill every app worker, the executor and the scheduler
        # a moment before it; supervisor starts them again.
        while dt.datetime.now(dt.UTC).replace(tzinfo=None) < tick - dt.timedelta(seconds=0.5):
            time.sleep(0.05)
        for pid in before.values():
            os.kill(pid, signal.SIGKILL)
        wait_until_answering(stack)

        def fired():
            return stack_user.get(f"/api/jobs?schedule={schedule_id}").json()["data"]

        wait_until(lambda: fired(), "the tick to fire", timeout=40)
        [job] = fired()
        assert job["scheduled_for"].startswith(tick.isoformat())
        job = wait_for_job(stack_user, job["id"], timeout=40)
        assert (job["status"], job["stdout"]) == ("COMPLETE", "tick once\n")
        # Every restarted scheduler, and the rival, has had passes since the tick.
        time.sleep(3)
        assert not set(
            program_pids(supervisorctl, ("app:", "executor", "scheduler")).values()
        ) & set(before.values())
    finally:
        rival.send_signal(signal.SIGTERM)
        rival.wait(20)
    stack_user.request("PATCH", f"/api/schedules/{schedule_id}", json={"enabled": False})
    jobs = sql.rows(
        "SELECT id FROM jobs WHERE schedule_id = %(id)s AND scheduled_for = %(tick)s",
        {"id": schedule_id, "tick": tick},
    )
    fires = sql.rows(
        "SELECT * FROM schedule_fires WHERE schedule_id = %(id)s AND tick = %(tick)s",
        {"id": schedule_id, "tick": tick},
    )
    assert len(jobs) == 1 and len(fires) == 1 and fires[0]["job_id"] == jobs[0]["id"]
    assert rival.returncode == 0  # it ran (and stopped on TERM), not crashed at start
    sql.close()


def test_the_cli_creates_lists_pauses_resumes_and_removes_a_schedule(stack, stack_user, tmp_path):
    from .test_cli import Cli

    cli = Cli(stack, stack_user.token, tmp_path)
    name = f"def_{uuid.uuid4().hex[:8]}"
    body = {"name": name, "code": "echo $day", "parameters": [
        {"name": "day", "type": "string", "required": True},
        {"name": "key", "type": "secret"}]}  # fmt: skip
    assert stack_user.post("/api/definitions", json=body).status_code == 200

    made = cli("schedule", "create", name, "--cron", "30 2 * * *", "--tz", "Europe/Berlin",
               "--param", "day=today", "--param", "key=sesame-42",
               "--overlap", "queue")  # fmt: skip
    assert made.returncode == 0, made.stderr
    schedule_id = int(made.stdout.strip())
    assert made.stderr.startswith("next: ") and "T02:30:00+0" in made.stderr

    listed = cli("schedule", "ls")
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split()[:5] == ["ID", "DEFINITION", "CRON", "TIMEZONE", "STATE"]
    assert row.split()[:2] == [str(schedule_id), name] and " on " in row
    as_json = cli("schedule", "ls", "--json")
    assert "sesame-42" not in as_json.stdout and '"key": "********"' in as_json.stdout

    assert cli("schedule", "pause", str(schedule_id)).stdout.strip().endswith("paused")
    assert " paused " in cli("schedule", "ls").stdout
    resumed = cli("schedule", "resume", str(schedule_id))
    assert resumed.returncode == 0 and "resumed; next: " in resumed.stdout

    bad = cli("schedule", "create", name, "--cron", "@reboot", "--param", "day=x")
    assert bad.returncode == 1 and "@reboot is not supported" in bad.stderr
    # Nor in any log line of the stack (app workers, scheduler, nginx, postgres...).
    log_dir = load_config().path("app.log_dir")
    for log_file in log_dir.glob("*.log"):
        assert b"sesame-42" not in log_file.read_bytes(), log_file
    assert cli("schedule", "rm", str(schedule_id)).returncode == 0
    gone = cli("schedule", "pause", str(schedule_id))
    assert gone.returncode == 5 and "No schedule" in gone.stderr
