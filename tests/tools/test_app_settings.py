"""What baselayer knows of the app comes from the ``app:`` config: a changed value
takes effect where baselayer uses it."""

import json

from tornado.testing import AsyncHTTPTestCase

from baselayer.app.config import Config
from baselayer.services.status_server import status_server
from baselayer.tools import readiness
from baselayer.tools.embedded_postgres import write_settings
from baselayer.tools.layout import stack_layout
from baselayer.tools.render_configs import render_nginx_conf, render_supervisord_conf
from baselayer.tools.stack import ready_message


def with_app(cfg: Config, **app) -> Config:
    """A copy of ``cfg`` with ``app`` keys replaced (and no Slurm test cluster, whose
    programs need the values of its prepare hook)."""
    slurm = {**cfg["slurm"], "test_cluster": {**cfg["slurm"]["test_cluster"], "enabled": False}}
    other = Config({**cfg, "app": {**cfg["app"], **app}, "slurm": slurm}, cfg.root)
    other.files = cfg.files
    return other


def test_the_defaults_keep_the_products_name(cfg):
    assert cfg["app.title"] == cfg["app.name"] == "shell_service"
    assert cfg["app.health_path"] == "/api/sysinfo"
    assert cfg["app.initial_token_key"] == "INITIAL_ADMIN"


def test_the_name_places_the_system_users_files_and_names_the_stack(cfg, tmp_path):
    other = with_app(cfg, name="other_app", title="Other App")
    layout = stack_layout(other)
    assert layout.system_state_dir.parent.as_posix() == "/var/lib/other_app"
    assert stack_layout(cfg).system_state_dir.parent.as_posix() == "/var/lib/shell_service"
    text = render_supervisord_conf(other, layout, tmp_path / "nginx", False, None, tmp_path)
    assert f"identifier = other_app:{layout.run_dir}" in text
    assert text.startswith("; supervisord for one Other App stack.")


def test_the_name_names_the_embedded_clusters_settings_file(tmp_path):
    (tmp_path / "postgresql.conf").write_text("# initdb's\n")
    write_settings(tmp_path, tmp_path / "sock", None, "other_app")
    assert "# other_app's settings" in (tmp_path / "other_app.conf").read_text()
    main_conf = (tmp_path / "postgresql.conf").read_text()
    assert "include_if_exists = 'other_app.conf'" in main_conf
    write_settings(tmp_path, tmp_path / "sock", None, "other_app")
    assert (tmp_path / "postgresql.conf").read_text() == main_conf  # included once


def test_the_title_is_in_nginxs_own_unavailable_answer(cfg, tmp_path):
    text = render_nginx_conf(with_app(cfg, title="Other's App"), stack_layout(cfg), tmp_path)
    line = next(x for x in text.splitlines() if "return 503" in x)
    body = line.strip().removeprefix("return 503 '").removesuffix("';").replace("\\'", "'")
    assert json.loads(body)["message"].startswith("Other's App is not available right now")
    default = render_nginx_conf(cfg, stack_layout(cfg), tmp_path)
    assert (
        'return 503 \'{"status": "error", "data": {}, "message": "shell_service is not'
        ' available right now (the app workers are down or restarting); try again shortly",'
        ' "version": ""}\';' in default
    )


def test_the_health_path_is_what_make_run_waits_for(cfg, monkeypatch):
    probed = []
    monkeypatch.setattr(readiness, "http_status", lambda url: probed.append(url) or 200)
    monkeypatch.setattr(readiness, "check_port_owners", lambda port: None)
    readiness.wait_until_up(with_app(cfg, health_path="/healthz"), None, timeout=1)
    assert probed == [f"{readiness.base_url(cfg)}/healthz"]


def test_the_token_key_is_the_one_make_run_names(cfg):
    assert "(INITIAL_ADMIN)" in ready_message(cfg)
    assert "(FIRST_TOKEN)" in ready_message(with_app(cfg, initial_token_key="FIRST_TOKEN"))


class TestStatusServerNamesTheProduct(AsyncHTTPTestCase):
    def get_app(self):
        return status_server.make_app("Other <App>")

    def test_api_and_page(self):
        api = self.fetch("/api/jobs")
        assert api.code == 503
        assert json.loads(api.body)["message"].startswith("Other <App> is not available")
        page = self.fetch("/")
        assert page.code == 503
        assert b"<h1>Other &lt;App&gt; is not available right now</h1>" in page.body
