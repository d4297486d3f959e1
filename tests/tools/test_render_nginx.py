"""The rendered NGINX config carries the settings config gives it."""

from baselayer.tools.layout import stack_layout
from baselayer.tools.render_configs import render_nginx_conf


def test_rate_limit_per_token_comes_from_config(cfg, tmp_path):
    cfg["server"] = dict(cfg["server"], rate_limit={"per_second": 7, "burst": 11})
    text = render_nginx_conf(cfg, stack_layout(cfg), tmp_path)
    assert "limit_req_zone $http_authorization zone=per_token:10m rate=7r/s;" in text
    assert "limit_req zone=per_token burst=11 nodelay;" in text
    assert "error_page 429 = @slow_down;" in text
    assert "return 429" in text
