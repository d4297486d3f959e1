"""The rendered supervisord config runs the app's own services, and ``make stop``
knows their command lines."""

import copy
import shlex

import pytest

from baselayer.app.config import Config
from baselayer.tools.app_services import app_services
from baselayer.tools.layout import stack_layout
from baselayer.tools.orphans import our_python_programs
from baselayer.tools.prepare_dirs import app_socket, status_socket
from baselayer.tools.render_configs import app_service_command, render_supervisord_conf
from services.executor.executor import lower_priority
from services.executor.executor import main as executor_main


@pytest.fixture
def plain_cfg(cfg):
    """The in-process tests' config without the Slurm test cluster, whose programs
    need the values of its prepare hook (``test_app_services.py`` renders them)."""
    data = copy.deepcopy(dict(cfg))
    data["slurm"]["test_cluster"]["enabled"] = False
    plain = Config(data, cfg.root)
    plain.files = list(cfg.files)
    return plain


def test_the_executor_is_an_app_service_with_this_stacks_run_dir(plain_cfg, tmp_path):
    layout = stack_layout(plain_cfg)
    assert "executor" in app_services(layout.root)
    command = app_service_command(layout, "executor")
    assert command[1:] == ["-m", "services.executor.executor", "--run-dir", str(layout.run_dir)]

    text = render_supervisord_conf(plain_cfg, layout, tmp_path / "nginx", False, None, tmp_path)
    assert program_command(text, "executor") == command
    section = text[text.index("[program:executor]") :].split("\n\n")[0]
    assert f"stdout_logfile = {layout.log_dir}/executor.log" in section
    # Its jobs outlive it: supervisor signals the executor alone, not its group.
    assert not any(x.startswith(("stopasgroup", "killasgroup")) for x in section.splitlines())

    assert command in our_python_programs(plain_cfg, layout)


def program_command(text: str, program: str) -> list[str]:
    """The command line of ``[program:<program>]`` in supervisord.conf's ``text``."""
    section = text[text.index(f"[program:{program}]") :].split("\n\n")[0]
    line = next(x for x in section.splitlines() if x.startswith("command = "))
    return shlex.split(line.removeprefix("command = ").replace("%%", "%"))


@pytest.mark.parametrize("fallback", [False, True], ids=["run_dir", "system_state_dir"])
def test_app_workers_and_status_server_listen_on_unix_sockets(plain_cfg, fallback):
    plain_cfg["server"] = dict(plain_cfg["server"], processes=2)
    layout = stack_layout(plain_cfg)
    state_dir = layout.system_state_dir if fallback else layout.run_dir
    text = render_supervisord_conf(plain_cfg, layout, state_dir / "nginx", False, None, state_dir)
    worker = [str(layout.python), "-m", "baselayer.services.app.app", "--socket"]
    python = str(layout.python)
    commands = {
        "app_00": [*worker, str(app_socket(state_dir, 0))],
        "app_01": [*worker, str(app_socket(state_dir, 1))],
        "status_server": [
            *(python, "-m", "baselayer.services.status_server.status_server"),
            *("--socket", str(status_socket(state_dir))),
        ],
    }
    for program, command in commands.items():
        assert program_command(text, program) == command
        # `make stop` finds it if it outlives supervisord, wherever its socket is.
        assert command in our_python_programs(plain_cfg, layout)
    assert "--port" not in text


def test_the_executor_refuses_another_stacks_run_dir(tmp_path):
    with pytest.raises(SystemExit, match="is not this config's"):
        executor_main(["--run-dir", str(tmp_path)])


def test_the_executor_refuses_a_niceness_outside_0_to_19():
    with pytest.raises(SystemExit, match="jobs.nice must be 0 to 19, not 20"):
        lower_priority(20)


def test_every_python_program_sits_beside_its_supervisor_template(plain_cfg):
    """A newcomer finds any process's program in its service folder: each Python
    program supervisord runs is ``-m <folder>.<name>`` where ``<folder>`` also holds
    the ``supervisor.conf.tmpl`` that starts it, and ``make stop`` knows it."""
    layout = stack_layout(plain_cfg)
    state_dir = layout.run_dir
    text = render_supervisord_conf(plain_cfg, layout, state_dir / "nginx", False, None, state_dir)
    programs = [line.split("]")[0] for line in text.split("[program:")[1:]]
    checked = set()
    for program in programs:
        command = program_command(text, program)
        if command[0] != str(layout.python):
            continue
        module = command[command.index("-m") + 1]
        folder = layout.root.joinpath(*module.split(".")[:-1])
        assert (folder / f"{module.split('.')[-1]}.py").is_file(), program
        assert (folder / "supervisor.conf.tmpl").is_file(), program
        assert command in our_python_programs(plain_cfg, layout), program
        checked.add(program.removesuffix("_00").removesuffix("_01"))
    assert {"app", "migrations", "status_server", "executor"} <= checked
