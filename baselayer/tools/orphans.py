"""Programs of a stack that outlived their supervisord (e.g. it was killed with -9).

A new supervisord could not start over them (ports and the cluster's lock are
taken), and ``make stop`` must leave nothing behind.
"""

import signal

from baselayer.app.config import Config

from .embedded_postgres import stop_orphan_server
from .layout import StackLayout
from .processes import pids_with_command, signal_pidfile_process, terminate
from .render_configs import app_service_command, app_services

#: As in baselayer/services/status_server/supervisor.conf.tmpl.
STATUS_SERVER_MODULE = "baselayer.services.status_server.status_server"


def our_python_programs(cfg: Config, layout: StackLayout) -> list[list[str]]:
    """The exact command lines supervisord gives this stack's Python programs."""
    python = str(layout.python)
    app_port = int(cfg["server.app_port"])
    return [
        [python, "-m", "baselayer.tools.migrate"],
        [python, "-m", STATUS_SERVER_MODULE, "--port", str(cfg["server.status_port"])],
        *(
            [python, "-m", cfg["app.server_module"], "--port", str(app_port + worker)]
            for worker in range(int(cfg["server.processes"]))
        ),
        *(app_service_command(layout, name) for name in app_services(layout.root)),
    ]


def stop_orphans(cfg: Config, layout: StackLayout) -> bool:
    """Stop this stack's programs that outlived their supervisord (e.g. it was killed).

    Returns
    -------
    bool
        Whether there were any.
    """
    nginx_pid = signal_pidfile_process(layout.nginx_pidfile, "nginx", signal.SIGTERM, timeout=10)
    if nginx_pid:
        print(f"Stopped NGINX (pid {nginx_pid}), left running without supervisord", flush=True)
    orphans = [pid for argv in our_python_programs(cfg, layout) for pid in pids_with_command(argv)]
    if orphans:
        print(f"Stopping programs left running without supervisord: {orphans}", flush=True)
        terminate(orphans, timeout=10)
    # Last, as supervisord would: the others may be its clients.
    postgres_pid = stop_orphan_server(layout)
    return bool(nginx_pid or orphans or postgres_pid)
