"""The rendered NGINX config carries the settings config gives it."""

from baselayer.tools.layout import stack_layout
from baselayer.tools.prepare_dirs import app_socket, sockets_dir, status_socket
from baselayer.tools.render_configs import render_nginx_conf


def test_rate_limit_per_token_comes_from_config(cfg, tmp_path):
    cfg["server"] = dict(cfg["server"], rate_limit={"per_second": 7, "burst": 11})
    text = render_nginx_conf(cfg, stack_layout(cfg), tmp_path)
    assert "limit_req_zone $rate_limit_key zone=per_token:10m rate=7r/s;" in text
    # A dashboard request (no Authorization header) is counted by its session cookie.
    assert '""      $cookie_shell_service_session;' in text
    assert "limit_req zone=per_token burst=11 nodelay;" in text
    assert "error_page 429 = @slow_down;" in text
    assert "return 429" in text


def test_nginx_forwards_to_unix_sockets_only(cfg, tmp_path):
    cfg["server"] = dict(cfg["server"], processes=3)
    text = render_nginx_conf(cfg, stack_layout(cfg), tmp_path)
    upstream = text[text.index("upstream app {") :].split("}")[0]
    lines = [line.split() for line in upstream.splitlines()]
    servers = [words[1] for words in lines if words and words[0] == "server"]
    sockets = [f"unix:{app_socket(tmp_path, worker)}" for worker in range(3)]
    assert servers == [*sockets, f"unix:{status_socket(tmp_path)}"]
    assert {app_socket(tmp_path, 0).parent} == {sockets_dir(tmp_path)}
    assert "127.0.0.1:6" not in text
    assert f"server unix:{status_socket(tmp_path)} backup max_fails=0;" in text


def test_a_socket_path_with_a_space_is_quoted(cfg, tmp_path):
    state_dir = tmp_path / "a b"
    text = render_nginx_conf(cfg, stack_layout(cfg), state_dir)
    assert f'server "unix:{app_socket(state_dir, 0)}" max_fails=0;' in text
