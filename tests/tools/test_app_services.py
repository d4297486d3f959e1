"""Which of the app's service folders run in a stack (``app.services_enabled_module``:
``shell_service/services_enabled.py``), and what the stack does with a folder's hooks."""

import copy
import textwrap

import pytest

from baselayer.app.config import Config
from baselayer.tools import app_services
from baselayer.tools.layout import stack_layout
from baselayer.tools.render_configs import render_supervisord_conf
from shell_service import services_enabled


def config(cfg: Config, **sections) -> Config:
    data = copy.deepcopy(dict(cfg))
    data.update(sections)
    other = Config(data, cfg.root)
    other.files = list(cfg.files)
    return other


@pytest.mark.parametrize(
    "enabled, queues, expected",
    [
        (False, [{"name": "default"}], {"slurm_cluster": False, "slurm_executor": False}),
        (True, [{"name": "default"}], {"slurm_cluster": True, "slurm_executor": False}),
        (
            False,
            [{"name": "default"}, {"name": "hpc", "executor": "slurm"}],
            {"slurm_cluster": False, "slurm_executor": True},
        ),
        (
            True,
            [{"name": "hpc", "executor": "slurm"}],
            {"slurm_cluster": True, "slurm_executor": True},
        ),
        # The raw list: an entry the queues' own check refuses is not our concern.
        (False, ["not a mapping", {"executor": "local"}], {"slurm_executor": False}),
        (False, None, {"slurm_executor": False}),
    ],
)
def test_slurm_services_run_only_when_config_asks(cfg, enabled, queues, expected):
    slurm = {**cfg["slurm"], "test_cluster": {**cfg["slurm"]["test_cluster"], "enabled": enabled}}
    other = config(cfg, slurm=slurm, queues=queues)
    for name, runs in expected.items():
        assert services_enabled.enabled(other, name) is runs, name
    assert services_enabled.enabled(other, "executor") is True
    assert services_enabled.enabled(other, "anything_else") is True


def make_service(root, name, template, program=False, hooks=None):
    folder = root / "services" / name
    folder.mkdir(parents=True)
    (folder / "supervisor.conf.tmpl").write_text(textwrap.dedent(template))
    if program:
        (folder / f"{name}.py").write_text("")
    if hooks is not None:
        (folder / "hooks.py").write_text(textwrap.dedent(hooks))


def test_a_disabled_folder_is_skipped_and_a_folder_without_hooks_is_fine(cfg, tmp_path):
    """The lead's ``services/slurm_executor/`` (a Python program, no hooks) runs only
    with a slurm queue; ``services/slurm_cluster/`` only with the test cluster; a
    folder of system programs is never restarted for a code change."""
    make_service(
        tmp_path,
        "slurm_executor",
        "[program:slurm_executor]\ncommand = {{ command }}\n",
        program=True,
    )
    make_service(tmp_path, "executor", "[program:executor]\ncommand = {{ command }}\n", True)
    make_service(tmp_path, "slurm_cluster", "[program:a]\n\n[program:b-c]\n")
    data = copy.deepcopy(dict(cfg))
    data["slurm"]["test_cluster"]["enabled"] = False
    data["queues"] = [{"name": "default"}]
    fake = Config(data, tmp_path)
    assert app_services.app_services(tmp_path) == ["executor", "slurm_cluster", "slurm_executor"]
    assert app_services.enabled_app_services(fake) == ["executor"]
    fake["queues"] = [{"name": "hpc", "executor": "slurm"}]
    assert app_services.enabled_app_services(fake) == ["executor", "slurm_executor"]
    fake["app"] = dict(fake["app"], services_enabled_module=None)  # none: all run
    assert len(app_services.enabled_app_services(fake)) == 3
    assert app_services.foreign_programs(tmp_path) == {"a", "b-c"}
    assert app_services.service_hooks(tmp_path, "executor") is None
    assert app_services.services_not_ready(fake) == []
    assert app_services.system_commands(fake) == {}


def test_a_disabled_slurm_cluster_is_not_rendered_and_an_enabled_one_is(cfg, tmp_path):
    slurm = {**cfg["slurm"], "test_cluster": {**cfg["slurm"]["test_cluster"], "enabled": False}}
    off = config(cfg, slurm=slurm)
    layout = stack_layout(off)
    text = render_supervisord_conf(off, layout, tmp_path / "nginx", False, None, tmp_path)
    assert "[program:slurmctld]" not in text and "[program:executor]" in text

    # Enabled, with the values its prepare hook gives (this stack's cluster runs:
    # the hook is not called here, it would rewrite that cluster's files).
    values = {
        "munged_command": "/usr/bin/env -i PATH=/x /usr/sbin/munged --foreground",
        "slurmctld_command": "/usr/bin/env -i PATH=/x /usr/sbin/slurmctld -D -f /c",
        "slurmd_command": "/usr/bin/env -i PATH=/x /usr/sbin/slurmd -D -N n -f /c",
        "conf_digest": "0123abcd",
    }
    text = render_supervisord_conf(
        cfg, stack_layout(cfg), tmp_path / "nginx", False, None, tmp_path, {"slurm_cluster": values}
    )
    for name in ("munged", "slurmctld", "slurmd"):
        section = text[text.index(f"[program:{name}]") :].split("\n\n")[0]
        assert f"command = {values[name + '_command']}\n" in section
        assert 'environment = CONF_DIGEST="0123abcd"' in section
        assert f"stdout_logfile = {layout.log_dir}/{name}.log" in section
        # A restarted slurmd finds its running jobs again: never their group.
        directives = [line.split()[0] for line in section.splitlines() if "=" in line]
        assert "stopasgroup" not in directives and "killasgroup" not in directives
        # Up before the executor (priority 30), which submits to it; stopped after it.
        assert int(section.split("priority = ")[1].split()[0]) < 30
    assert {"munged", "slurmctld", "slurmd"} <= app_services.foreign_programs(cfg.root)


def test_make_run_waits_for_the_services_that_are_not_ready_yet(cfg, monkeypatch):
    from baselayer.tools import readiness

    answers = iter([["slurm_cluster: node state unknown"], []])
    monkeypatch.setattr(readiness, "http_status", lambda url: 200)
    monkeypatch.setattr(readiness, "check_port_owners", lambda port: None)
    monkeypatch.setattr(readiness, "services_not_ready", lambda cfg: next(answers))
    monkeypatch.setattr(readiness, "process_states", lambda layout: {})
    monkeypatch.setattr(readiness, "supervisord_pid", lambda layout: 1)
    readiness.wait_until_up(cfg, None, timeout=10)
    assert next(answers, "used up") == "used up"

    monkeypatch.setattr(readiness, "services_not_ready", lambda cfg: ["slurm_cluster: down"])
    with pytest.raises(readiness.StackError, match=r"not ready within 1 s: slurm_cluster: down"):
        readiness.wait_until_up(cfg, None, timeout=1)


def test_the_cluster_packages_are_installed_without_recommends(cfg, monkeypatch):
    from baselayer.tools import system_deps
    from services.slurm_cluster import hooks

    commands = hooks.system_commands(cfg)
    assert commands["/usr/sbin/slurmctld"] == "slurmctld"
    assert commands["/usr/sbin/slurmd"] == "slurmd"
    assert commands["/usr/sbin/munged"] == "munge"
    assert commands["/usr/bin/sbatch"] == "slurm-client"
    assert app_services.system_commands(cfg) == commands  # enabled in the test config
    monkeypatch.setattr(system_deps.os, "geteuid", lambda: 1000)
    missing = {"/nonexistent/slurmd": "slurmd", "/nonexistent/munged": "munge", "sh": "dash"}
    with pytest.raises(system_deps.MissingDependency) as raised:
        system_deps.ensure_commands(missing)
    assert str(raised.value).endswith(
        "sudo apt-get install -y --no-install-recommends munge slurmd"
    )
