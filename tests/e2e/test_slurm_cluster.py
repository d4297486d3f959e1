"""The test stack's own Slurm cluster (services/slurm_cluster/, config
``slurm.test_cluster`` in tests/config.test.yaml) is up and runs jobs: the
ground the slurm executor's tests stand on. They need no `stack` fixture: `make
test` waits for the node to be idle before it runs pytest, so a cluster that
could not start fails them (never a skip)."""

import subprocess
import time

from baselayer.tools.processes import pids_with_command
from shell_service import slurm_cluster


def slurm(cfg, name, *args, timeout=30):
    """Run client command ``name`` as the executor does; its stdout (fails on an error)."""
    result = slurm_cluster.run_client(cfg, name, *args, timeout=timeout)
    assert result.returncode == 0, f"{name} {args}: {result.stderr}{result.stdout}"
    return result.stdout


def job_state(cfg, job_id):
    return slurm(cfg, "squeue", "-h", "-t", "all", "-j", job_id, "-o", "%T").strip()


def wait_for_state(cfg, job_id, wanted, timeout=30):
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = job_state(cfg, job_id)
        if state in wanted:
            return state
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} is {state}, not {wanted}, after {timeout} s")


def test_the_test_cluster_is_up_with_its_node_idle(cfg):
    assert cfg["slurm.test_cluster.enabled"]
    assert slurm_cluster.node_states(cfg, timeout=15) in (["idle"], ["mixed"], ["allocated"])
    partitions = slurm(cfg, "sinfo", "-h", "-o", "%P %a %D").split()
    assert partitions == ["debug*", "up", "1"]
    config = slurm(cfg, "scontrol", "show", "config")
    assert f"ClusterName             = {slurm_cluster.test_cluster_name(cfg)}\n" in config
    port = cfg["slurm.test_cluster.slurmctld_port"]
    assert f"SlurmctldPort           = {port}\n" in config
    # Its daemons are the ones `make stop` knows (it stops them if they outlive supervisord).
    for name, argv in slurm_cluster.daemon_commands(cfg).items():
        assert len(pids_with_command(argv)) == 1, name


def test_a_job_submitted_as_the_executor_does_runs_to_completed_with_its_output(cfg, tmp_path):
    out = tmp_path / "out"
    job_id = slurm(
        cfg,
        "sbatch",
        "--parsable",
        "--no-requeue",
        f"--chdir={tmp_path}",
        f"--output={out}",
        "--wrap",
        "echo hi; echo PATH=$PATH",
    ).strip()
    assert job_id.isdigit()
    assert wait_for_state(cfg, job_id, {"COMPLETED", "FAILED", "CANCELLED"}) == "COMPLETED"
    lines = out.read_text().splitlines()
    # The job's environment is client_environment's, nothing of ours.
    assert lines == ["hi", f"PATH={slurm_cluster.CLIENT_PATH}"]


def test_many_small_jobs_run_at_once(cfg, tmp_path):
    """OverSubscribe=FORCE:8: the 2-CPU test machine runs 16 small jobs at once."""
    ids = [
        slurm(
            cfg,
            "sbatch",
            "--parsable",
            f"--chdir={tmp_path}",
            "--output=/dev/null",
            "--mem=16",
            "--wrap",
            "sleep 5",
        ).strip()
        for _ in range(8)
    ]
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            states = slurm(cfg, "squeue", "-h", "-j", ",".join(ids), "-o", "%T").split()
            if states.count("RUNNING") == len(ids):
                break
            time.sleep(0.2)
        assert states.count("RUNNING") == len(ids), states
    finally:
        slurm(cfg, "scancel", *ids)


def test_the_controller_keeps_its_jobs_across_a_restart(cfg, supervisorctl):
    """StateSaveLocation is under the run dir: a pending job survives slurmctld's
    restart, with its id."""
    job_id = slurm(
        cfg,
        "sbatch",
        "--parsable",
        "--begin=now+600",
        "--chdir=/",
        "--output=/dev/null",
        "--wrap",
        "true",
    ).strip()
    try:
        assert job_state(cfg, job_id) == "PENDING"
        restarted = supervisorctl("restart", "slurmctld")
        assert "started" in restarted.stdout, restarted.stdout + restarted.stderr
        deadline = time.monotonic() + 30
        while slurm_cluster.test_cluster_not_ready(cfg) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert job_state(cfg, job_id) == "PENDING"
    finally:
        subprocess.run(
            [slurm_cluster.client_command(cfg, "scancel"), job_id],
            env=slurm_cluster.client_environment(cfg),
            timeout=30,
        )


def test_make_tests_cleanup_ends_the_job_steps_a_stopped_slurmd_left(cfg, supervisorctl, tmp_path):
    """A stopped slurmd leaves its jobs running (their slurmstepd): make test's
    cleanup (tests/stack_cleanup.py) kills them, and only this cluster's."""
    marker = tmp_path / "started"
    job_id = slurm(
        cfg,
        "sbatch",
        "--parsable",
        f"--chdir={tmp_path}",
        "--output=/dev/null",
        "--wrap",
        f"touch {marker}; sleep 300",
    ).strip()
    try:
        wait_for_state(cfg, job_id, {"RUNNING"})
        deadline = time.monotonic() + 10
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        steps = slurm_cluster.step_daemons(cfg)
        assert len(steps) == 1
        assert slurm_cluster.end_leftover_jobs(cfg) == 0  # slurmd runs: they are its
        assert "stopped" in supervisorctl("stop", "slurmd").stdout
        tree = [steps[0], *children(steps[0])]
        assert len(tree) >= 3  # slurmstepd, the batch shell, sleep
        assert slurm_cluster.end_leftover_jobs(cfg) >= 3
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in tree) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in tree)
        assert slurm_cluster.step_daemons(cfg) == []
    finally:
        supervisorctl("start", "slurmd")
        deadline = time.monotonic() + 30
        while slurm_cluster.test_cluster_not_ready(cfg) and time.monotonic() < deadline:
            time.sleep(0.2)
        # The controller still counts the job as running: cancel it.
        slurm(cfg, "scancel", job_id)
    wait_for_state(cfg, job_id, {"CANCELLED", "COMPLETED", "FAILED"})
    assert slurm_cluster.test_cluster_not_ready(cfg) is None


def children(pid):
    """Every descendant of ``pid``."""
    parents = slurm_cluster._all_processes()
    found, frontier = [], {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found += frontier
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_its_files_are_under_the_run_dir_with_the_modes_munge_wants_and_root_alone(cfg):
    paths = slurm_cluster.ClusterPaths(cfg)
    assert paths.dir == cfg.path("app.run_dir") / "slurm"
    modes = {
        # Root's alone: no local account reaches the munge socket or slurm.conf.
        paths.dir: 0o700,
        paths.munge_dir: 0o700,
        paths.munge_key: 0o400,
        paths.var_dir: 0o755,
        paths.state_dir: 0o700,
        paths.conf: 0o644,
    }
    for path, mode in modes.items():
        assert path.stat().st_mode & 0o7777 == mode, path
    assert paths.munge_key.stat().st_size == 1024
    assert paths.munge_socket.is_socket()
    assert (paths.state_dir / "clustername").read_text().strip() == (
        slurm_cluster.test_cluster_name(cfg)
    )
    # The logs are the other services': one per program in log_dir.
    for name in ("munged", "slurmctld", "slurmd"):
        assert (cfg.path("app.log_dir") / f"{name}.log").stat().st_size > 0, name


def test_no_local_account_can_submit_to_the_cluster_around_the_service(cfg):
    """A job's user (any account but root) cannot reach the cluster's munge socket or
    slurm.conf: sbatch fails, so nothing gets to Slurm but through the service."""
    env = slurm_cluster.client_environment(cfg)
    result = subprocess.run(
        ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         slurm_cluster.client_command(cfg, "sbatch"), "--wrap=true", "--output=/dev/null"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "Submitted batch job" not in result.stdout
