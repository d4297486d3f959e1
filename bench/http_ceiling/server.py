"""The HTTP ceiling: ``server.processes`` minimal Tornado workers behind the stack's own
NGINX config (the same template, rendered for another port and run dir: the workers
listen on unix sockets there), run as plain subprocesses."""

import contextlib
import copy
import sys
from pathlib import Path

from baselayer.app.config import Config
from baselayer.tools.layout import stack_layout
from baselayer.tools.prepare_dirs import app_socket, prepare_dirs
from baselayer.tools.render_configs import render_nginx_conf
from baselayer.tools.system_deps import find_nginx, nginx_accepts_error_log_flag

from ..processes import Program, wait_until_answers
from ..tools import BenchError

APP = Path(__file__).with_name("app.py")


def ceiling_config(cfg: Config, port: int) -> Config:
    """``cfg`` with NGINX on another port, its files (and the workers' sockets) under
    run_dir/ceiling."""
    data = copy.deepcopy(dict(cfg))
    data["server"] = {**data["server"], "port": port}
    data["app"] = {
        **data["app"],
        "run_dir": str(Path(cfg["app.run_dir"]) / "ceiling"),
        "log_dir": str(Path(cfg["app.log_dir"]) / "ceiling"),
    }
    return Config(data, cfg.root)


@contextlib.contextmanager
def http_ceiling(cfg: Config, port: int):
    """Run the ceiling for the duration of the block; yields its base URL.

    Parameters
    ----------
    cfg : Config
        The bench stack's config: the same number of workers and NGINX settings.
    port : int
        Where NGINX listens. The workers listen on the unix sockets the stack's
        would in run_dir/ceiling; nothing listens on the status server's (the
        stack's status server has no part in a ceiling).
    """
    ceiling_cfg = ceiling_config(cfg, port)
    layout = stack_layout(ceiling_cfg)
    state_dir = prepare_dirs(layout)
    layout.nginx_conf.write_text(render_nginx_conf(ceiling_cfg, layout, state_dir))
    nginx = find_nginx()
    if nginx is None:
        raise BenchError("nginx is not installed (make run installs it)")
    programs: list[Program] = []
    try:
        for worker in range(int(cfg["server.processes"])):
            command = [sys.executable, str(APP), "--socket", str(app_socket(state_dir, worker))]
            command += ["--max-body-bytes", str(cfg["server.max_body_bytes"])]
            programs.append(
                Program(f"ceiling_app_{worker}", command, layout.log_dir / f"app_{worker}.log")
            )
        error_log = ["-e", "stderr"] if nginx_accepts_error_log_flag(nginx) else []
        command = [str(nginx), *error_log, "-c", str(layout.nginx_conf)]
        command += ["-p", f"{layout.nginx_prefix}/"]
        programs.append(Program("ceiling_nginx", command, layout.log_dir / "nginx.log"))
        url = f"http://127.0.0.1:{port}"
        # Every worker answers, not just one: NGINX would hide a late starter.
        for worker in range(int(cfg["server.processes"])):
            socket = app_socket(state_dir, worker)
            wait_until_answers("/api/sysinfo", programs, unix_socket=socket)
        wait_until_answers(f"{url}/api/sysinfo", programs)
        yield url
    finally:
        for program in reversed(programs):
            program.stop()
