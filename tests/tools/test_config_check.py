"""`make run` refuses a config the app's programs would stop on before it starts or
restarts anything (``app.config_check_module``): a running stack stays up."""

import copy

import pytest

from baselayer.tools import stack
from baselayer.tools.errors import ConfigError
from shell_service import config_check


@pytest.mark.parametrize(
    "change, message",
    [
        ({"queues": [{"name": "Big"}]}, "must be one lowercase word"),
        ({"queues": [{"name": "q", "executor": "pbs"}]}, "is not one of local, slurm"),
        ({"hosts": {"name": "a b", "lost_after": 60}}, "must be a host name"),
        ({"hosts": {"name": "h", "lost_after": 0}}, "lost_after must be a number"),
        ({"hosts": {"name": "h", "lost_after": "soon"}}, "lost_after must be a number"),
    ],
)
def test_make_run_stops_before_touching_anything_on_a_config_the_app_refuses(
    cfg, tmp_path, change, message
):
    bad = copy.deepcopy(cfg)
    bad.update(change)
    run_dir = tmp_path / "run"
    bad["app"] = dict(bad["app"], run_dir=str(run_dir))
    with pytest.raises(ConfigError, match=message) as raised:
        stack.start_stack(bad)
    assert "Nothing was started or restarted" in str(raised.value)
    assert not run_dir.exists()  # no directory made, no config rendered


def test_the_default_config_passes_the_check(cfg):
    config_check.check(cfg)
    assert cfg["app.config_check_module"] == "shell_service.config_check"
