"""`make run` with a queue on a real Slurm cluster checks that the client commands
work there first, and says what is missing (``slurm_cluster.check_clients``, from
``config_check``); the test cluster's slurm.conf follows config."""

import copy
import re
import socket
import time

import pytest

from baselayer.app.config import Config
from shell_service import slurm_cluster


def real_cluster(cfg: Config, **slurm) -> Config:
    """``cfg`` pointed at a real cluster (no test cluster) with ``slurm`` settings."""
    data = copy.deepcopy(dict(cfg))
    data["slurm"] = {**data["slurm"], **slurm}
    data["slurm"]["test_cluster"] = dict(data["slurm"]["test_cluster"], enabled=False)
    data["queues"] = [{"name": "hpc", "executor": "slurm"}]
    other = Config(data, cfg.root)
    other.files = list(cfg.files)
    return other


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_client_commands_says_which_and_where(cfg, tmp_path):
    other = real_cluster(cfg, bin_dir=str(tmp_path), conf="")
    with pytest.raises(ValueError) as raised:
        slurm_cluster.check_clients(other)
    assert str(raised.value) == (
        f"Slurm: {tmp_path}/sinfo not found (config slurm.bin_dir: where the Slurm client "
        "commands are; Debian's package slurm-client)"
    )


def test_a_missing_slurm_conf_is_named(cfg, tmp_path):
    other = real_cluster(cfg, conf=str(tmp_path / "nope.conf"))
    with pytest.raises(ValueError, match=f"slurm.conf names {tmp_path}/nope.conf, which does not"):
        slurm_cluster.check_clients(other)


def test_a_controller_that_is_down_is_reported_with_slurms_message(cfg, tmp_path):
    # The test stack's cluster, with its controller's port moved where nothing listens.
    text = slurm_cluster.ClusterPaths(cfg).conf.read_text()
    conf = tmp_path / "slurm.conf"
    conf.write_text(re.sub(r"(?m)^SlurmctldPort=\d+$", f"SlurmctldPort={free_port()}", text))
    other = real_cluster(cfg, conf=str(conf))
    started = time.monotonic()
    with pytest.raises(ValueError) as raised:
        slurm_cluster.check_clients(other)
    message = str(raised.value)
    assert message.startswith(f"Slurm: /usr/bin/sinfo failed (slurm.conf {conf}; is the controller")
    assert "Unable to contact slurm controller" in message
    assert time.monotonic() - started < slurm_cluster.CLIENT_TIMEOUT + 5


def test_the_test_stacks_cluster_passes_the_check(cfg):
    slurm_cluster.check_clients(cfg)  # the test cluster's conf: client_conf


def test_slurm_conf_follows_config(cfg):
    settings = cfg["slurm"]["test_cluster"]
    text = slurm_cluster.render_slurm_conf(cfg)
    assert f"SlurmctldPort={settings['slurmctld_port']}\n" in text
    assert f"SlurmdPort={settings['slurmd_port']}\n" in text
    assert f"ClusterName={slurm_cluster.test_cluster_name(cfg)}\n" in text
    paths = slurm_cluster.ClusterPaths(cfg)
    assert f"StateSaveLocation={paths.state_dir}\n" in text
    assert f"AuthInfo=socket={paths.munge_socket}\n" in text
    assert "MinJobAge=10\nSlurmdTimeout=10\nKillWait=5\n" in text
    assert "SchedulerParameters=batch_sched_delay=0,sched_min_interval=0\n" in text
    assert re.search(
        r"(?m)^PartitionName=debug Nodes=node1 Default=YES .*OverSubscribe=FORCE:8$", text
    )
    # The machine's size when config gives none; config's when it does.
    assert re.search(r"(?m)^NodeName=node1 .*NodeAddr=127.0.0.1 CPUs=\d+ .*RealMemory=\d+ ", text)
    data = copy.deepcopy(dict(cfg))
    data["slurm"]["test_cluster"].update(cpus=8, memory_mb=4000, oversubscribe=None)
    data["slurm"]["test_cluster"].update(
        scheduler_parameters="", extra_conf=["PrologFlags=Contain"]
    )
    other = Config(data, cfg.root)
    text = slurm_cluster.render_slurm_conf(other)
    assert " CPUs=8 RealMemory=4000 State=UNKNOWN" in text
    assert "OverSubscribe=NO" in text and "SchedulerParameters" not in text
    assert "\nPrologFlags=Contain\n" in text


def test_each_stack_has_a_cluster_name_of_its_own(cfg):
    data = copy.deepcopy(dict(cfg))
    data["app"] = dict(data["app"], run_dir="run/elsewhere")
    other = Config(data, cfg.root)
    assert slurm_cluster.test_cluster_name(other) != slurm_cluster.test_cluster_name(cfg)
    assert re.fullmatch(r"shell_service_[0-9a-f]{8}", slurm_cluster.test_cluster_name(cfg))


def test_make_run_runs_the_check_but_the_programs_do_not(cfg, monkeypatch, tmp_path):
    """``check_external`` (make run only) checks a real cluster's clients; ``check``,
    which each app worker and the executor also run at their start, does not."""
    from shell_service import config_check

    calls = []
    monkeypatch.setattr(slurm_cluster, "check_clients", calls.append)
    other = real_cluster(cfg, bin_dir=str(tmp_path))
    config_check.check_external(other)
    assert calls == [other]
    config_check.check_external(cfg)  # the test cluster: nothing to check outside
    plain = real_cluster(cfg)
    plain["queues"] = [{"name": "default"}]
    config_check.check_external(plain)  # no slurm queue
    assert calls == [other]


def test_a_failed_external_check_stops_make_run_before_anything_starts(cfg, monkeypatch, tmp_path):
    from baselayer.tools import stack
    from baselayer.tools.errors import ConfigError
    from shell_service import config_check

    def refuse(cfg):
        raise ValueError("Slurm: /usr/bin/sinfo failed: Unable to contact slurm controller")

    monkeypatch.setattr(config_check, "check_external", refuse)
    other = copy.deepcopy(dict(cfg))
    run_dir = tmp_path / "run"
    other["app"] = dict(other["app"], run_dir=str(run_dir))
    with pytest.raises(ConfigError) as raised:
        stack.start_stack(Config(other, cfg.root))
    assert str(raised.value) == (
        "Slurm: /usr/bin/sinfo failed: Unable to contact slurm controller. "
        "Nothing was started or restarted: fix config.yaml"
    )
    assert not run_dir.exists()


def test_the_test_cluster_needs_root_and_two_ports(cfg, monkeypatch):
    monkeypatch.setattr(slurm_cluster.os, "geteuid", lambda: 1000)
    with pytest.raises(ValueError, match=r"runs as root: run make as root"):
        slurm_cluster.prepare_test_cluster(cfg)
    monkeypatch.setattr(slurm_cluster.os, "geteuid", lambda: 0)
    data = copy.deepcopy(dict(cfg))
    data["slurm"]["test_cluster"].update(
        slurmd_port=data["slurm"]["test_cluster"]["slurmctld_port"]
    )
    with pytest.raises(ValueError, match="slurmctld_port and slurmd_port must differ"):
        slurm_cluster.prepare_test_cluster(Config(data, cfg.root))
    data["slurm"]["test_cluster"].update(slurmd_port="6818")
    with pytest.raises(ValueError, match="slurm.test_cluster.slurmd_port must be a port number"):
        slurm_cluster.prepare_test_cluster(Config(data, cfg.root))


@pytest.mark.parametrize(
    "states, expected",
    [
        (["idle"], None),
        (["mixed"], None),
        (["allocated"], None),
        (["unknown"], "node state unknown (waiting for idle)"),
        ([], "node state unknown (waiting for idle)"),
        (["down*"], "node state down* (waiting for idle)"),
        (["drained"], "node state drained: see log/slurmctld.log, then `scontrol update"),
    ],
)
def test_make_run_waits_for_the_node_and_says_how_to_undrain_it(cfg, monkeypatch, states, expected):
    monkeypatch.setattr(slurm_cluster, "node_states", lambda cfg: states)
    reason = slurm_cluster.test_cluster_not_ready(cfg)
    if expected is None:
        assert reason is None
    else:
        assert reason.startswith(expected)


def test_a_controller_that_does_not_answer_yet_is_waited_for(cfg, monkeypatch):
    def unreachable(cfg):
        raise RuntimeError("Unable to contact slurm controller (connect failure)")

    monkeypatch.setattr(slurm_cluster, "node_states", unreachable)
    assert slurm_cluster.test_cluster_not_ready(cfg) == (
        "sinfo: Unable to contact slurm controller (connect failure)"
    )
