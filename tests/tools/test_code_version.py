"""``make run`` restarts the programs when their code or their config changed."""

from baselayer.app.config import Config
from baselayer.tools.code_version import code_digest, stack_code_digest

CODE_DIRS = ["shell_service"]


def test_a_config_change_changes_the_digest(tmp_path):
    """A job setting changed in config.yaml (the README: ``make run`` applies config
    changes) must reach the executor, which reads its config once, at its start."""
    (tmp_path / "shell_service").mkdir()
    (tmp_path / "shell_service" / "a.py").write_text("x = 1\n")
    config = tmp_path / "config.yaml"
    config.write_text("jobs:\n  max_log_bytes: 1000\n")
    before = code_digest(tmp_path, CODE_DIRS, [config])
    assert code_digest(tmp_path, CODE_DIRS, [config]) == before
    config.write_text("jobs:\n  max_log_bytes: 2000\n")
    assert code_digest(tmp_path, CODE_DIRS, [config]) != before
    (tmp_path / "shell_service" / "a.py").write_text("x = 2\n")
    assert code_digest(tmp_path, CODE_DIRS, [config]) != code_digest(tmp_path, CODE_DIRS, [])


def test_the_code_dirs_come_from_config(tmp_path):
    """``app.code_dirs`` names what the programs run: a change in a directory it
    names changes the digest, a change elsewhere does not."""
    for directory in ("app_one", "app_two"):
        (tmp_path / directory).mkdir()
        (tmp_path / directory / "a.py").write_text("x = 1\n")
    cfg = Config({"app": {"code_dirs": ["app_one"]}}, tmp_path)
    before = stack_code_digest(cfg)
    (tmp_path / "app_two" / "a.py").write_text("x = 2\n")
    assert stack_code_digest(cfg) == before
    (tmp_path / "app_one" / "a.py").write_text("x = 2\n")
    changed = stack_code_digest(cfg)
    assert changed != before
    cfg["app"]["code_dirs"] = ["app_one", "app_two"]
    assert stack_code_digest(cfg) != changed


def test_the_default_code_dirs_are_the_ones_the_programs_run(cfg):
    assert cfg["app.code_dirs"] == ["baselayer", "shell_service", "services", "alembic"]
