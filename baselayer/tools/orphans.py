"""Programs of a stack that outlived their supervisord (e.g. it was killed with -9).

A new supervisord could not start over them (the public port and the cluster's
lock are taken), and ``make stop`` must leave nothing behind.
"""

import signal

from baselayer.app.config import Config

from .app_services import app_services, runs_our_code, service_commands
from .embedded_postgres import stop_orphan_server
from .layout import StackLayout
from .processes import pids_with_command, signal_pidfile_process, terminate
from .render_configs import (
    app_service_command,
    app_worker_command,
    migrations_command,
    status_server_command,
)


def our_python_programs(cfg: Config, layout: StackLayout) -> list[list[str]]:
    """The exact command lines supervisord gives this stack's Python programs.

    The sockets (in their command lines) are under run_dir, or under the system
    state dir when the system user cannot reach run_dir (``service_state_dir``,
    which asks the system: not here): either is this stack's.
    """
    state_dirs = dict.fromkeys([layout.run_dir, layout.system_state_dir])
    return [
        migrations_command(layout),
        *(status_server_command(layout, state_dir) for state_dir in state_dirs),
        *(
            app_worker_command(cfg, layout, state_dir, worker)
            for state_dir in state_dirs
            for worker in range(int(cfg["server.processes"]))
        ),
        *(
            app_service_command(layout, name)
            for name in app_services(layout.root)
            if runs_our_code(layout.root, name)
        ),
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
    commands = our_python_programs(cfg, layout) + service_commands(cfg, layout)
    orphans = [pid for argv in commands for pid in pids_with_command(argv)]
    if orphans:
        print(f"Stopping programs left running without supervisord: {orphans}", flush=True)
        terminate(orphans, timeout=10)
    # Last, as supervisord would: the others may be its clients.
    postgres_pid = stop_orphan_server(layout)
    return bool(nginx_pid or orphans or postgres_pid)
