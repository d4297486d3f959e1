"""The scheduler as a service of the stack: always enabled, its config checked."""

import copy

import pytest

from shell_service import config_check, services_enabled
from shell_service.scheduler import scheduler_settings


def test_the_scheduler_runs_in_every_stack(cfg):
    assert services_enabled.enabled(cfg, "scheduler") is True
    assert (cfg.root / "services" / "scheduler" / "scheduler.py").is_file()


def test_the_defaults_give_the_documented_settings(cfg):
    settings = scheduler_settings(cfg)
    assert (settings.poll_interval, settings.misfire_grace, settings.batch_size) == (
        1.0,
        30.0,
        1000,
    )
    assert settings.fire_retention_days == 30


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("poll_interval", 0),
        ("poll_interval", "fast"),
        ("misfire_grace", -1),
        ("batch_size", 1.5),
        ("batch_size", True),
        ("prune_interval", None),
    ],
)
def test_a_bad_scheduler_setting_stops_make_run_naming_it(cfg, key, value):
    bad = copy.deepcopy(cfg)
    bad["scheduler"] = {**(cfg.get("scheduler") or {}), key: value}
    with pytest.raises(ValueError, match=f"scheduler.{key}"):
        config_check.check(bad)


def test_fire_retention_may_be_empty_to_keep_the_records_for_ever(cfg):
    kept = copy.deepcopy(cfg)
    kept["scheduler"] = {**cfg["scheduler"], "fire_retention_days": None}
    assert scheduler_settings(kept).fire_retention_days is None
