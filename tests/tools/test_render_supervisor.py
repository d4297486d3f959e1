"""The rendered supervisord config runs the app's own services, and ``make stop``
knows their command lines."""

import shlex

import pytest

from baselayer.tools.layout import stack_layout
from baselayer.tools.orphans import our_python_programs
from baselayer.tools.render_configs import (
    app_service_command,
    app_services,
    render_supervisord_conf,
)
from services.executor.executor import lower_priority
from services.executor.executor import main as executor_main


def test_the_executor_is_an_app_service_with_this_stacks_run_dir(cfg, tmp_path):
    layout = stack_layout(cfg)
    assert app_services(layout.root) == ["executor"]
    command = app_service_command(layout, "executor")
    assert command[1:] == ["-m", "services.executor.executor", "--run-dir", str(layout.run_dir)]

    text = render_supervisord_conf(cfg, layout, tmp_path / "nginx", False, None)
    section = text[text.index("[program:executor]") :].split("\n\n")[0]
    line = next(x for x in section.splitlines() if x.startswith("command = "))
    assert shlex.split(line.removeprefix("command = ").replace("%%", "%")) == command
    assert f"stdout_logfile = {layout.log_dir}/executor.log" in section
    # Its jobs outlive it: supervisor signals the executor alone, not its group.
    assert not any(x.startswith(("stopasgroup", "killasgroup")) for x in section.splitlines())

    assert command in our_python_programs(cfg, layout)


def test_the_executor_refuses_another_stacks_run_dir(tmp_path):
    with pytest.raises(SystemExit, match="is not this config's"):
        executor_main(["--run-dir", str(tmp_path)])


def test_the_executor_refuses_a_niceness_outside_0_to_19():
    with pytest.raises(SystemExit, match="jobs.nice must be 0 to 19, not 20"):
        lower_priority(20)
