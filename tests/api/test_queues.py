"""Named queues: a job names one, the queue's limits bound its options and how many
of its jobs run, GET /api/queues shows them, and config that is not valid is
refused with a message naming the queue and setting."""

import copy
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from baselayer.app.database import database_url
from baselayer.app.plain_sql import PlainSQL
from shell_service import queue, queues

from ..executors.test_queue import queued_jobs, remove_jobs, running_total
from ..factories import UserFactory
from ..helpers import claim_limits, create_job, run_job, wait_for_job

SMALL = {
    "name": "small",
    "description": "Short jobs",
    "executor": "local",
    "max_running": 1,
    "max_running_per_user": 1,
    "default_timeout": 60,
    "max_timeout": 120,
    "max_cpus": 1,
    "max_memory_mb": 512,
}


@pytest.fixture
def two_queues(server):
    """The running service with a second queue, ``small``, after ``default``."""
    saved = copy.deepcopy(server.cfg["queues"])
    server.cfg["queues"] = [*saved, dict(SMALL)]
    yield server.cfg["queues"]
    server.cfg["queues"] = saved


def test_a_job_that_names_no_queue_runs_in_the_first_and_records_its_host(api, server):
    job = run_job(api, "echo hi")
    assert job["status"] == "COMPLETE"
    assert job["queue"] == queues.configured_queues(server.cfg)[0].name == "default"
    assert job["host"] == queues.host_name(server.cfg)


def test_a_job_gets_its_queues_defaults_and_is_listed_by_queue(api, two_queues):
    job_id = create_job(api, "true", queue="small")
    job = api.get(f"/api/jobs/{job_id}").json()["data"]
    assert (job["queue"], job["timeout"]) == ("small", 60)
    other = create_job(api, "true")
    listed = api.get("/api/jobs?queue=small").json()["data"]
    assert job_id in {j["id"] for j in listed}
    assert other not in {j["id"] for j in listed}
    assert all(j["queue"] == "small" for j in listed)


@pytest.mark.parametrize(
    "name", ["nope", "Default", "small ", "../small", "small;DROP TABLE jobs", "x" * 64, "é"]
)
def test_an_unknown_queue_is_a_400_listing_the_queues_and_stores_nothing(api, two_queues, name):
    before = api.get("/api/jobs?limit=1").json()["total"]
    response = api.post("/api/jobs", json={"code": "true", "queue": name, "execute": True})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == "error"
    assert "queue" in body["data"]["errors"]
    names = ", ".join(q["name"] for q in two_queues)
    assert f"the queues are: {names}" in body["message"]
    assert api.get("/api/jobs?limit=1").json()["total"] == before


@pytest.mark.parametrize(
    "field, value, maximum", [("timeout", 121, 120), ("cpus", 2, 1), ("memory_mb", 513, 512)]
)
def test_an_option_over_the_queues_maximum_is_a_400_naming_it(
    api, two_queues, field, value, maximum
):
    response = api.post("/api/jobs", json={"code": "true", "queue": "small", field: value})
    assert response.status_code == 400, response.text
    assert (
        f"{field}: must be at most {maximum} (queue small's maximum)" in response.json()["message"]
    )
    # The same value is within the default queue's limits.
    assert api.post("/api/jobs", json={"code": "true", field: value}).status_code == 200


def test_moving_a_ready_job_to_another_queue_checks_that_queues_limits(api, two_queues):
    job_id = create_job(api, "true", timeout=3600)
    moved = api.request("PATCH", f"/api/jobs/{job_id}", json={"queue": "small"})
    assert moved.status_code == 400
    assert "timeout: must be at most 120" in moved.json()["message"]
    unknown = api.request("PATCH", f"/api/jobs/{job_id}", json={"queue": "nope"})
    assert unknown.status_code == 400
    fits = api.request("PATCH", f"/api/jobs/{job_id}", json={"queue": "small", "timeout": 100})
    assert fits.status_code == 200, fits.text
    assert (fits.json()["data"]["queue"], fits.json()["data"]["timeout"]) == ("small", 100)


def test_a_job_of_a_queue_that_was_removed_is_not_queued_for_ever(api, server, two_queues):
    ready = create_job(api, "true", queue="small")
    ran = run_job(api, "true", queue="small")
    server.cfg["queues"] = [q for q in two_queues if q["name"] != "small"]
    for path in (f"/api/jobs/{ready}/execute", f"/api/jobs/{ran['id']}/rerun"):
        response = api.post(path)
        assert response.status_code == 409, path
        assert "no queue is called 'small'" in response.json()["message"]
    assert api.get(f"/api/jobs/{ready}").json()["data"]["status"] == "READY"
    # Moved to a queue that exists, it runs.
    assert api.request("PATCH", f"/api/jobs/{ready}", json={"queue": "default"}).status_code == 200
    assert api.post(f"/api/jobs/{ready}/execute").status_code == 200
    assert wait_for_job(api, ready)["status"] == "COMPLETE"


def test_get_queues_shows_each_queues_limits_and_jobs_now(api, cfg, two_queues, paused_executor):
    job_id = create_job(api, "true", queue="small", execute=True)
    try:
        response = api.get("/api/queues")
        assert response.status_code == 200
        listed = {q["name"]: q for q in response.json()["data"]}
        assert list(listed) == [q["name"] for q in two_queues]
        assert list(listed)[0] == "default" and list(listed)[-1] == "small"
        assert listed["default"]["default"] and not listed["small"]["default"]
        small = listed["small"]
        assert small["description"] == "Short jobs"
        assert small["limits"]["max_running"] == 1
        assert small["limits"]["timeout"] == {"default": 60, "max": 120}
        # Left empty: the jobs: section's values.
        assert small["limits"]["memory_mb"]["default"] == cfg["jobs"]["default_memory_mb"]
        assert small["jobs"]["queued"] >= 1
        one = api.get("/api/queues/small").json()["data"]
        assert one["name"] == "small"
        assert api.get("/api/queues/nope").status_code == 404
    finally:
        api.post(f"/api/jobs/{job_id}/cancel")


def test_the_claim_holds_each_queues_own_limits(cfg, session_factory, paused_executor):
    """A queue's max_running, per-user limit and memory budget count its jobs on
    every host; the other queue goes on regardless."""
    user, other = UserFactory(), UserFactory()
    small = queues.Queue(
        "small", "", "local", (), max_running=2, max_running_per_user=10**6,
        memory_budget_mb=None, defaults={}, maxima={},
    )  # fmt: skip
    per_user = queues.Queue(
        "peruser", "", "local", (), max_running=None, max_running_per_user=1,
        memory_budget_mb=None, defaults={}, maxima={},
    )  # fmt: skip
    budget = queues.Queue(
        "budget", "", "local", (), max_running=None, max_running_per_user=10**6,
        memory_budget_mb=1500, defaults={}, maxima={},
    )  # fmt: skip
    jobs = (
        queued_jobs(user, 5, queue="small")
        + queued_jobs(other, 2, queue="small")
        + queued_jobs(user, 3, queue="peruser")
        + queued_jobs(other, 3, queue="peruser")
        + queued_jobs(user, 3, queue="budget", memory_mb=1000)
        + queued_jobs(user, 2)
    )
    sql = PlainSQL(database_url(cfg))
    try:
        got = None
        while got is None:
            got = queue.claim_jobs(
                sql, "elsewhere:1", **claim_limits(queues=[small, per_user, budget])
            )
    finally:
        sql.close()
    ids = {job.id for job in got}
    by_queue = {}
    for job in jobs:
        if job.id in ids:
            by_queue.setdefault(job.queue, []).append(job.submitter_id)
    assert len(by_queue["small"]) == 2
    assert sorted(by_queue["peruser"]) == sorted([user.id, other.id])
    assert len(by_queue["budget"]) == 1
    # Not a queue this claim serves.
    assert "default" not in by_queue
    remove_jobs(session_factory, [j.id for j in jobs])


def test_a_users_backlog_in_one_queue_does_not_hold_back_another_queue(
    cfg, session_factory, paused_executor
):
    busy, newcomer = UserFactory(), UserFactory()
    backlog = queued_jobs(busy, 50, queue="big")
    late = queued_jobs(newcomer, 1, queue="default")[0]
    big = queues.Queue("big", "", "local", (), None, 10**6, None, {}, {})
    default = queues.Queue("default", "", "local", (), None, 10**6, None, {}, {})
    sql = PlainSQL(database_url(cfg))
    try:
        got = None
        while got is None:
            got = queue.claim_jobs(
                sql,
                "elsewhere:1",
                # Two slots free on "elsewhere" (other tests may have jobs RUNNING there).
                **claim_limits(
                    queues=[big, default], max_running=running_total(session_factory) + 2
                ),
            )
    finally:
        sql.close()
    assert {job.id for job in got} == {backlog[0].id, late.id}
    remove_jobs(session_factory, [j.id for j in backlog] + [late.id])


def test_a_queue_served_by_other_hosts_only_waits_here(api, server, two_queues, session_factory):
    small = next(q for q in two_queues if q["name"] == "small")
    small["hosts"] = ["another-host"]
    job_id = create_job(api, "true", queue="small", execute=True)
    # The executor claims within milliseconds of the NOTIFY, and looks again every
    # jobs.poll_interval: three of those and it has not taken it.
    time.sleep(3 * float(server.cfg["jobs"]["poll_interval"]))
    with session_factory() as session:
        waited = session.scalar(text("SELECT status FROM jobs WHERE id = :id"), {"id": job_id})
    assert waited == "QUEUED"
    small["hosts"] = [queues.host_name(server.cfg)]
    server.executor.wake()
    assert wait_for_job(api, job_id)["status"] == "COMPLETE"


@pytest.mark.parametrize(
    ("option", "problem"),
    [
        ("--uid=0", "sets --uid, which the executor sets itself"),
        ("--export=ALL", "sets --export, which the executor sets itself"),
        # sbatch takes any unambiguous prefix of a long option.
        ("--ui=0", "sets --uid"),
        ("--outp=/tmp/x", "sets --output"),
        ("--jo=renamed", "sets --job-name"),
        ("--chd=/", "sets --chdir"),
        ("--wra=id", "sets --wrap"),
        ("--dep=afterok:1", "sets --dependency"),
        ("--acc=x", "sets --account"),
        ("--parti=x", "sets --partition"),
        ("--get-user", "sets --get-user-env"),
        ("--no-req", "sets --no-requeue"),
        ("--export-f=/x", "sets --export-file"),
        ("--me=1", "sets --mem"),
        ("--m=1", "too short"),
        # Short options, values apart, several in one argument: not one long option.
        ("-Jother", "is not one long sbatch option"),
        ("-o/etc/x", "is not one long sbatch option"),
        ("--output /tmp/x", "is not one long sbatch option"),
        ("qos=high", "is not one long sbatch option"),
        ("--qos=a\n--uid=0", "is not one long sbatch option"),
    ],
)
def test_a_slurm_queue_may_not_set_what_the_executor_sets_under_any_spelling(option, problem):
    assert problem in queues.sbatch_option_problem(option)


@pytest.mark.parametrize("option", ["--qos=high", "--hold", "--begin=now+60", "--comment=x y"])
def test_a_slurm_queue_may_set_other_sbatch_options(option):
    assert queues.sbatch_option_problem(option) is None


@pytest.mark.parametrize(
    ("place", "problem"),
    [
        ("jobs.dir", "is jobs.dir or holds it"),
        ("jobs.dir/x", "is inside jobs.dir"),
        ("jobs.dir/x/y", "is inside jobs.dir"),
        ("app.run_dir", "is app.run_dir or holds it"),
        ("app.run_dir/..", "or holds it"),
        ("/", "is the project or holds it"),
        ("app.log_dir/x", "is inside app.log_dir"),
        ("jobs.accounts.homes_dir/x", "is inside jobs.accounts.homes_dir"),
        ("jobs.accounts.tmp_dir", "is jobs.accounts.tmp_dir or holds it"),
        ("app.run_dir/slurm/x", "is inside the test cluster's files"),
        ("app.run_dir/sockets", "is inside the stack's sockets"),
        ("/etc", "is inside /etc, the system's"),
        ("/usr/lib/x", "is inside /usr, the system's"),
        ("app.run_dir/../build", "is inside the project (only its run directory may hold it)"),
    ],
)
def test_a_slurm_queues_jobs_dir_is_a_directory_of_its_own(cfg, place, problem):
    key, _, rest = place.partition("/")
    path = (cfg.path(key) / rest).resolve() if key.startswith(("app.", "jobs.")) else Path(place)
    broken = copy.deepcopy(cfg)
    broken["queues"] = [{"name": "q", "executor": "slurm", "slurm": {"jobs_dir": str(path)}}]
    with pytest.raises(queues.QueueConfigError, match="jobs_dir") as raised:
        queues.configured_queues(broken)
    assert problem in str(raised.value)


def test_a_slurm_queues_jobs_dir_may_be_its_own_under_the_run_dir(cfg):
    fine = copy.deepcopy(cfg)
    own = str(cfg.path("app.run_dir") / "sj")
    fine["queues"] = [{"name": "q", "executor": "slurm", "slurm": {"jobs_dir": own}}]
    assert queues.configured_queues(fine)[0].slurm.jobs_dir == cfg.path("app.run_dir") / "sj"


@pytest.mark.parametrize(
    "entries, message",
    [
        ([], "at least one queue"),
        ([{"name": "Big"}], "must be one lowercase word"),
        ([{"name": "a b"}], "must be one lowercase word"),
        ([{"name": "default"}, {"name": "default"}], "listed twice"),
        ([{"name": "q", "executor": "pbs"}], "executor 'pbs' is not one of local, slurm"),
        ([{"name": "q", "slurm": {"partition": "p"}}], "slurm: settings need executor: slurm"),
        (
            [{"name": "q", "executor": "slurm", "slurm": {"partition": "a b"}}],
            "partition 'a b' is not a Slurm name",
        ),
        (
            [{"name": "q", "executor": "slurm", "slurm": {"account": "x;rm"}}],
            "account 'x;rm' is not a Slurm name",
        ),
        (
            [{"name": "q", "executor": "slurm", "slurm": {"options": ["--jo=x"]}}],
            "option '--jo=x' sets --job-name, which the executor sets itself",
        ),
        (
            [{"name": "q", "executor": "slurm", "slurm": {"options": "--qos=high"}}],
            "options must be a list",
        ),
        (
            [{"name": "q", "executor": "slurm", "slurm": {"poll_interval": 0}}],
            "poll_interval must be a number of seconds > 0",
        ),
        (
            [{"name": "q", "executor": "slurm", "slurm": {"partiton": "p"}}],
            "unknown setting(s) partiton",
        ),
        ([{"name": "q", "max_runing": 3}], "unknown setting(s) max_runing"),
        ([{"name": "q", "max_running": -1}], "max_running must be a whole number"),
        ([{"name": "q", "max_timeout": "10"}], "max_timeout must be a whole number"),
        ([{"name": "q", "hosts": "node1"}], "hosts must be a list"),
        (["default"], "each entry is a mapping"),
        ([{"name": "q", "default_timeout": 60, "max_timeout": 30}], "default_timeout (60) is over"),
        (
            [{"name": "q", "max_memory_mb": 4096, "memory_budget_mb": 1024}],
            "max_memory_mb (4096) is over its memory_budget_mb (1024)",
        ),
    ],
)
def test_queues_config_that_is_not_valid_is_refused_naming_what(cfg, entries, message):
    broken = copy.deepcopy(cfg)
    broken["queues"] = entries
    with pytest.raises(queues.QueueConfigError, match=".*") as raised:
        queues.configured_queues(broken)
    assert message in str(raised.value)


def test_a_queue_setting_left_empty_takes_the_jobs_sections_value(cfg):
    config = copy.deepcopy(cfg)
    config["queues"] = [{"name": "q", "max_cpus": 1}]
    (q,) = queues.configured_queues(config)
    assert q.maxima["cpus"] == 1
    assert q.maxima["timeout"] == cfg["jobs"]["max_timeout"]
    assert q.max_running_per_user == cfg["jobs"]["max_running_per_user"]
    assert q.max_running is None and q.memory_budget_mb is None


@pytest.mark.parametrize("name", ["a b", "-lead", "x:1", "../etc", "é", "h" * 64, "a\nb"])
def test_a_host_name_that_is_not_a_hostname_is_refused(cfg, name):
    config = copy.deepcopy(cfg)
    config["hosts"] = {**config.get("hosts", {}), "name": name}
    with pytest.raises(queues.QueueConfigError, match="must be a host name"):
        queues.host_name(config)


@pytest.mark.parametrize("value", ["", "\x00", "x" * 65])
def test_a_queue_filter_that_no_queue_could_match_is_a_400(api, value):
    response = api.get("/api/jobs", params={"queue": value})
    assert response.status_code == 400, response.text
    assert "queue" in response.json()["data"]["errors"]


def test_a_queue_filter_with_no_jobs_lists_none(api):
    response = api.get("/api/jobs", params={"queue": "nope' OR 1=1 --"})
    assert response.status_code == 200
    assert response.json()["data"] == [] and response.json()["total"] == 0


def test_a_job_no_live_host_of_its_queue_could_start_is_refused(api, server, two_queues):
    """Its queue allows it, but no host serving the queue has that much memory for
    jobs: it would wait for ever. (The claim also skips such a job: test_queue.)"""
    small = next(q for q in two_queues if q["name"] == "small")
    small["max_memory_mb"] = 10**8
    small["memory_budget_mb"] = 10**8
    budget = server.executor.setup.memory_budget_mb
    response = api.post(
        "/api/jobs", json={"code": "true", "queue": "small", "memory_mb": budget + 1}
    )
    assert response.status_code == 400, response.text
    assert response.json()["data"]["errors"]["memory_mb"] == [
        f"must be at most {budget}: no host serving queue small has more memory for jobs"
    ]
    fits = api.post("/api/jobs", json={"code": "true", "queue": "small", "memory_mb": budget})
    assert fits.status_code == 200, fits.text


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, "off", "no", None])
@pytest.mark.parametrize("field", ["execute", "requeue_on_host_loss"])
def test_a_boolean_in_a_body_is_true_or_false_only(api, field, value):
    response = api.post("/api/jobs", json={"code": "true", field: value})
    assert response.status_code == 400, response.text
    assert field in response.json()["data"]["errors"]


def test_moving_a_job_to_a_queue_no_live_host_could_run_it_in_is_a_400(api, server, two_queues):
    small = next(q for q in two_queues if q["name"] == "small")
    small.update(max_memory_mb=10**8, memory_budget_mb=10**8)
    job_id = create_job(api, "true", timeout=60)
    too_big = server.executor.setup.memory_budget_mb + 1
    moved = api.request(
        "PATCH", f"/api/jobs/{job_id}", json={"queue": "small", "memory_mb": too_big}
    )
    assert moved.status_code == 400, moved.text
    assert "memory_mb" in moved.json()["data"]["errors"]
