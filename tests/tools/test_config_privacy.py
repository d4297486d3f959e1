"""Config files beyond the shipped defaults are kept readable by their owner only."""

from baselayer.app.config import load_config
from baselayer.tools.stack import keep_config_private


def test_config_overrides_become_owner_only_and_defaults_stay(tmp_path, monkeypatch):
    monkeypatch.delenv("BASELAYER_CONFIG", raising=False)
    (tmp_path / "config.yaml.defaults").write_text("database: {password: null}\n")
    (tmp_path / "config.yaml").write_text("database: {password: secret}\n")
    (tmp_path / "config.yaml.defaults").chmod(0o644)
    (tmp_path / "config.yaml").chmod(0o644)
    keep_config_private(load_config(tmp_path))
    assert (tmp_path / "config.yaml").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "config.yaml.defaults").stat().st_mode & 0o777 == 0o644
