# ruff: noqa: E501  (the tables of Slurm messages read best one case per line)
"""The Slurm executor's parts that need no cluster: squeue's answer parsed, what
each Slurm ending means here (``outcome``), sbatch's options and the batch
script (``batch``). The whole path runs on the test cluster in
tests/e2e/test_slurm.py."""

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from shell_service.executors.init_program import PROGRAM as INIT_PROGRAM
from shell_service.executors.job_files import JobFiles
from shell_service.executors.launch import JobLaunch
from shell_service.executors.processes import Limits
from shell_service.executors.slurm import batch, outcome
from shell_service.executors.slurm.commands import (
    parse_cancelled_by,
    parse_final_state,
    parse_largest_node,
    parse_squeue,
    unreachable,
)
from shell_service.job_states import JobStatus
from shell_service.queues import Queue, SlurmSettings


def test_squeue_lines_are_parsed_and_a_name_may_hold_the_separator():
    text = (
        "12|PENDING|Priority||job_a\n"
        "13|RUNNING|None|node1|job_b\n"
        "14|CANCELLED by 0|None|node1|odd|name\n"
        "15_[1-3]|PENDING|Resources||array\n"
        "\n"
        "garbage\n"
    )
    records = parse_squeue(text)
    assert sorted(records) == [12, 13, 14]
    assert (records[12].state, records[12].reason, records[12].node) == (
        "PENDING",
        "Priority",
        None,
    )
    assert (records[13].state, records[13].node, records[13].name) == ("RUNNING", "node1", "job_b")
    assert (records[14].state, records[14].name) == ("CANCELLED", "odd|name")


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)", True),
        ("slurm_load_jobs error: Socket timed out on send/recv operation", True),
        ("sbatch: error: Batch job submission failed: Requested node configuration is not available", False),
        ("sbatch: error: invalid partition specified: nope", False),
    ],
)  # fmt: skip
def test_an_unreachable_controller_is_told_from_a_refusal(message, expected):
    assert unreachable(message) is expected


def test_who_cancelled_a_job_is_read_from_sacct():
    assert parse_cancelled_by("CANCELLED by 1234\n") == 1234
    assert parse_cancelled_by("CANCELLED\n") is None
    assert parse_cancelled_by("COMPLETED\n") is None
    assert parse_cancelled_by("") is None
    status, message, _ = outcome.outcome_without_record(
        "CANCELLED", "None", None, True, False, "", 0
    )
    assert (status, message) == (
        JobStatus.CANCELLED,
        "cancelled in Slurm by uid 0, not through this service",
    )


def test_how_a_forgotten_job_ended_is_read_from_sacct_by_its_name():
    assert parse_final_state("NODE_FAIL|node1|job_a\n", "job_a") == ("NODE_FAIL", "node1")
    assert parse_final_state("CANCELLED by 0|None assigned|job_a\n", "job_a") == ("CANCELLED", None)
    # An id reused (the controller's state reset): only our job's name counts.
    assert parse_final_state("FAILED|n1|job_old\nCOMPLETED|n2|job_a\n", "job_a") == (
        "COMPLETED",
        "n2",
    )
    assert parse_final_state("FAILED|n1|job_old\n", "job_a") is None
    assert parse_final_state("", "job_a") is None


def test_a_jobs_dir_is_made_root_0711_and_an_existing_one_never_changed(tmp_path):
    from shell_service.executors.slurm.executor import ensure_jobs_dir

    made = tmp_path / "made" / "jobs"
    ensure_jobs_dir(made)
    assert stat.S_IMODE(os.stat(made).st_mode) == 0o711
    (made / ("job_" + "0" * 32)).mkdir()
    ensure_jobs_dir(made)  # job directories only: fine
    system_like = tmp_path / "etc"
    system_like.mkdir(mode=0o755)
    (system_like / "passwd").write_text("x")
    with pytest.raises(SystemExit, match="holds other things than job directories"):
        ensure_jobs_dir(system_like)
    assert stat.S_IMODE(os.stat(system_like).st_mode) == 0o755  # untouched
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    os.chmod(open_dir, 0o777)
    with pytest.raises(SystemExit, match="directory of the service's own"):
        ensure_jobs_dir(open_dir)


def test_the_largest_node_of_a_partition_is_read_from_sinfo():
    assert parse_largest_node("24105 2\n") == {"memory_mb": 24105, "cpus": 2}
    assert parse_largest_node("1000 4\n64000+ 8+\n") == {"memory_mb": 64000, "cpus": 8}
    assert parse_largest_node("") is None
    assert parse_largest_node("sinfo: error\n") is None


def test_pending_reasons_are_shown():
    assert outcome.pending_message("Priority") == "pending in Slurm: Priority"
    assert outcome.pending_message("None") == "pending in Slurm"
    assert outcome.pending_message("") == "pending in Slurm"


@pytest.mark.parametrize(
    ("state", "ran", "cancel", "log", "status", "words"),
    [
        # A cancel through the service wins whatever Slurm says.
        ("CANCELLED", True, True, "", JobStatus.CANCELLED, None),
        ("FAILED", True, True, "Exceeded job memory limit", JobStatus.CANCELLED, None),
        # The memory kill without cgroups: FAILED 0:9 and slurmstepd's line.
        ("FAILED", True, False, "slurmstepd: error: Exceeded job memory limit", JobStatus.FAILED, "out of memory"),
        ("CANCELLED", True, False, "StepId=5.batch exceeded memory limit (6 > 1)", JobStatus.FAILED, "out of memory"),
        ("OUT_OF_MEMORY", True, False, "", JobStatus.FAILED, "out of memory"),
        ("TIMEOUT", True, False, "", JobStatus.TIMED_OUT, "time limit"),
        ("DEADLINE", False, False, "", JobStatus.TIMED_OUT, "time limit"),
        ("CANCELLED", True, False, "", JobStatus.CANCELLED, "cancelled in Slurm"),
        ("CANCELLED", False, False, "", JobStatus.CANCELLED, "cancelled in Slurm"),
        ("NODE_FAIL", True, False, "", JobStatus.SERVER_ERROR, "node lost: node node1"),
        ("BOOT_FAIL", False, False, "", JobStatus.SERVER_ERROR, "node lost"),
        (None, True, False, "", JobStatus.SERVER_ERROR, "lost by Slurm"),
        ("FAILED", False, False, "slurmstepd: error: couldn't chdir", JobStatus.SERVER_ERROR, "could not launch the job (FAILED, JobLaunchFailure: slurmstepd: error: couldn't chdir)"),
        ("FAILED", True, False, "", JobStatus.FAILED, "killed by Slurm"),
        ("PREEMPTED", True, False, "", JobStatus.SERVER_ERROR, "preempted"),
        ("COMPLETED", True, False, "", JobStatus.SERVER_ERROR, "without an end record"),
        ("SPECIAL_EXIT", True, False, "", JobStatus.SERVER_ERROR, "SPECIAL_EXIT"),
    ],
)  # fmt: skip
def test_each_slurm_ending_without_an_end_record(state, ran, cancel, log, status, words):
    got, message, _ = outcome.outcome_without_record(
        state, "JobLaunchFailure", "node1", ran, cancel, log
    )
    assert got == status
    if words is None:
        assert message is None
    else:
        assert words in message


def test_every_slurm_state_is_placed_once():
    groups = [outcome.PENDING, outcome.RUNNING, outcome.ENDED]
    for i, group in enumerate(groups):
        for other in groups[i + 1 :]:
            assert not group & other


def slurm_queue(tmp_path: Path, **settings) -> Queue:
    values = {
        "partition": "debug",
        "account": None,
        "options": (),
        "poll_interval": 1.0,
        "jobs_dir": tmp_path,
        "lost_grace": 10.0,
    }
    values.update(settings)
    return Queue(
        name="slurm",
        description="",
        executor="slurm",
        hosts=(),
        max_running=None,
        max_running_per_user=8,
        memory_budget_mb=None,
        defaults={},
        maxima={},
        slurm=SlurmSettings(**values),
    )


def test_sbatch_options_name_the_job_never_requeue_and_bound_it(tmp_path):
    files = JobFiles(tmp_path / "job_x")
    queue = slurm_queue(tmp_path, account="team", options=("--qos=high",))
    options = batch.sbatch_options("job_x", files, queue, timeout=61, cpus=2, memory_mb=300)
    assert "--job-name=job_x" in options and "--no-requeue" in options
    # The init keeps the exact timeout; Slurm's whole minutes are the backstop.
    assert "--time=3" in options
    assert "--cpus-per-task=2" in options and "--mem=300M" in options
    assert f"--chdir={files.root}" in options
    assert f"--output={files.root}/submit/slurm.log" in options
    assert "--partition=debug" in options and "--account=team" in options
    assert options[0] == "--qos=high"  # first: sbatch keeps the last of a repeated option
    assert not any(o.startswith(("--export", "--uid", "--wrap")) for o in options)


def test_the_batch_script_only_execs_the_init_on_files_only_root_can_write(tmp_path):
    files = JobFiles(tmp_path / "jobs" / "job_x")
    launch = JobLaunch(
        job_id="job_x",
        files=files,
        script="echo $SECRET; rm -rf /\n",
        argv=["/bin/sh", "./script", "; rm -rf /"],
        env={"SECRET": "s3cret", "PATH": "/usr/bin:/bin"},
        umask=0o22,
        limits=Limits(cpu_seconds=10, address_space_bytes=2**30),
        kill_grace=1.0,
        max_log_bytes=1000,
        stdin="in",
        timeout=5.0,
    )
    init = Path("/opt/shell service/build/job_init")  # a space: quoted
    script_path = batch.write_submission(launch, init)
    text = script_path.read_text()
    assert text.startswith("#!/bin/sh\n")
    assert "exec '/opt/shell service/build/job_init' --pid-namespace 3<" in text
    # Nothing the user sent is in the script Slurm stores and runs as root.
    for sent in ("SECRET", "s3cret", "rm -rf", "echo"):
        assert sent not in text
    assert stat.S_IMODE(os.stat(files.root).st_mode) == 0o711
    submit = files.root / "submit"
    assert stat.S_IMODE(os.stat(submit).st_mode) == 0o700
    for name in ("request", "script", "stdin", "batch.sh"):
        assert stat.S_IMODE(os.stat(submit / name).st_mode) == 0o600
    assert (submit / "script").read_text() == launch.script
    assert b"env=SECRET=s3cret\0" in (submit / "request").read_bytes()
    with pytest.raises(FileExistsError):  # never over an earlier job's directory
        batch.write_submission(launch, init)


@pytest.fixture
def reachable_dir():
    """A directory the job's user can walk down to (pytest's are root's 0700)."""
    path = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="slurm-parts-"))
    os.chmod(path, 0o711)
    yield path
    shutil.rmtree(path / "jobs" / "job_ns" / "work", ignore_errors=True)
    shutil.rmtree(path, ignore_errors=True)


def submission(tmp_path: Path, name: str) -> Path:
    """A job's batch script as the Slurm executor writes it (a job of ``nobody``)."""
    jobs = tmp_path / "jobs"
    jobs.mkdir(mode=0o711, exist_ok=True)
    launch = JobLaunch(
        job_id=name,
        files=JobFiles(jobs / name),
        script="echo pid=$$\n",
        argv=["/bin/sh", "./script"],
        env={"PATH": "/usr/bin:/bin"},
        umask=0o22,
        limits=Limits(cpu_seconds=10, address_space_bytes=2**30),
        kill_grace=1.0,
        max_log_bytes=1000,
        uid=65534,
        gid=65534,
        private_mounts=True,
        timeout=30.0,
    )
    return batch.write_submission(launch, INIT_PROGRAM)


@pytest.mark.skipif(os.geteuid() != 0, reason="the job's init as root, as Slurm runs it")
def test_the_batch_script_runs_the_job_as_process_2_of_its_own_namespace(reachable_dir):
    script = submission(reachable_dir, "job_ns")
    # As Slurm runs it (but here: no Slurm needed to run one line of sh).
    subprocess.run(["/bin/sh", str(script)], timeout=30, check=True)
    files = JobFiles(script.parent.parent)
    assert files.read_end()["code"] == 0
    assert files.stdout.read_text() == "pid=2\n"  # its init is process 1


@pytest.mark.skipif(os.geteuid() != 0, reason="the job's init as root, as Slurm runs it")
def test_an_init_told_it_has_a_pid_namespace_that_it_has_not_refuses_to_run(tmp_path):
    """Its end signals every process it can see (kill(-1)): outside a namespace of
    its own, the host's. Run here as process 2 of a throwaway namespace, so that a
    regression would kill only that namespace's shell, not the tests."""
    script = submission(tmp_path, "job_no_ns")
    script.write_text(script.read_text().replace(" --pid-namespace", ""))
    subprocess.run(
        [
            "/usr/bin/unshare",
            "--pid",
            "--fork",
            "--mount-proc",
            "/bin/sh",
            "-c",
            f"/bin/sh {script}; true",
        ],
        timeout=30,
    )
    files = JobFiles(script.parent.parent)
    record = files.read_end()
    assert record is not None and "not process 1" in record.get("error", ""), record
    assert not files.stdout.exists() or files.stdout.read_text() == ""
