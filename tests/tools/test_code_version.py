"""``make run`` restarts the programs when their code or their config changed."""

from baselayer.tools.code_version import code_digest


def test_a_config_change_changes_the_digest(tmp_path):
    """A job setting changed in config.yaml (the README: ``make run`` applies config
    changes) must reach the executor, which reads its config once, at its start."""
    (tmp_path / "shell_service").mkdir()
    (tmp_path / "shell_service" / "a.py").write_text("x = 1\n")
    config = tmp_path / "config.yaml"
    config.write_text("jobs:\n  max_log_bytes: 1000\n")
    before = code_digest(tmp_path, [config])
    assert code_digest(tmp_path, [config]) == before
    config.write_text("jobs:\n  max_log_bytes: 2000\n")
    assert code_digest(tmp_path, [config]) != before
    (tmp_path / "shell_service" / "a.py").write_text("x = 2\n")
    assert code_digest(tmp_path, [config]) != code_digest(tmp_path, [])
