"""The supervised stack of one config: ``start``, ``stop``, ``status``, ``db_init``.

Run from the project root: ``python -m baselayer.tools.stack start``. The
config (and so run_dir, log_dir, the public port) comes from ``load_config()``, which
honours ``$BASELAYER_CONFIG``: ``make test`` runs its own stack beside ``make run``'s.
"""

import importlib
import subprocess
import sys
from pathlib import Path

from baselayer.app.config import Config, load_config
from baselayer.services.migrations.migrations import ensure_database, wait_for_server

from .app_services import foreign_programs, prepare_services, system_commands
from .code_version import record_digest, recorded_digest, stack_code_digest
from .embedded_postgres import ClusterError, prepare_cluster, temporary_server
from .errors import ConfigError, StackError
from .layout import StackLayout, stack_layout
from .orphans import stop_orphans
from .prepare_dirs import prepare_dirs
from .processes import process_runs, read_pidfile
from .readiness import START_TIMEOUT, base_url, wait_until_up
from .render_configs import render_nginx_conf, render_supervisord_conf, write_if_changed
from .supervisor_control import (
    is_responsive,
    process_states,
    shutdown_supervisord,
    start_supervisord,
    supervisorctl,
    supervisord_pid,
    wait_until_responsive,
)
from .system_deps import (
    MissingDependency,
    ensure_commands,
    ensure_system_deps,
    find_nginx,
    nginx_accepts_error_log_flag,
)
from .system_user import ensure_system_user
from .watch_logs import print_log_tails

STOP_TIMEOUT = 45


def keep_config_private(cfg: Config) -> None:
    """config files other than the shipped defaults may hold secrets (a database
    password): make them readable by their owner only, so no job can read them."""
    for path in cfg.files:
        if path.name == "config.yaml.defaults" or not path.exists():
            continue
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
            print(f"{path} may hold secrets: now readable by its owner only", flush=True)


def set_up(cfg: Config) -> tuple[StackLayout, Path | None, Path]:
    """System packages (also those of the app's enabled services), the system user,
    directories and the embedded cluster.

    Returns
    -------
    layout : StackLayout
    postgres_bindir : Path or None
        None when the database is not embedded.
    state_dir : Path
        Where the system user's files live.
    """
    try:
        postgres_bindir = ensure_system_deps(cfg)
        ensure_commands(system_commands(cfg))
    except MissingDependency as exc:
        raise StackError(str(exc)) from exc
    layout = stack_layout(cfg)
    if layout.service_user:
        ensure_system_user(layout.service_user)
    keep_config_private(cfg)
    state_dir = prepare_dirs(layout)
    if postgres_bindir is not None:
        try:
            prepare_cluster(layout, state_dir, postgres_bindir, cfg["database.user"])
        except ClusterError as exc:
            raise StackError(str(exc)) from exc
    return layout, postgres_bindir, state_dir


def write_configs(
    cfg: Config, layout: StackLayout, postgres_bindir: Path | None, state_dir: Path
) -> bool:
    """Render supervisord.conf and nginx.conf into run_dir and check the latter with
    ``nginx -t``; the app's enabled services make their files first (their ``prepare``
    hooks).

    Returns
    -------
    bool
        Whether nginx.conf changed (a running NGINX must reload it).
    """
    nginx = find_nginx()
    if nginx is None:
        raise StackError("nginx is not installed (make run installs it as root)")
    error_log_flag = nginx_accepts_error_log_flag(nginx)
    nginx_changed = write_if_changed(layout.nginx_conf, render_nginx_conf(cfg, layout, state_dir))
    test = [str(nginx), *(["-e", "stderr"] if error_log_flag else []), "-q", "-t"]
    result = subprocess.run(
        [*test, "-c", str(layout.nginx_conf), "-p", f"{layout.nginx_prefix}/"],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise StackError(f"nginx -t rejects {layout.nginx_conf}:\n{result.stdout}{result.stderr}")
    try:
        service_values = prepare_services(cfg, layout)
    except ValueError as exc:
        raise StackError(str(exc)) from exc
    supervisord_conf = render_supervisord_conf(
        cfg, layout, nginx, error_log_flag, postgres_bindir, state_dir, service_values
    )
    write_if_changed(layout.supervisord_conf, supervisord_conf)
    return nginx_changed


def update_running_supervisord(layout: StackLayout, nginx_changed: bool) -> None:
    """Apply changed program definitions and start whatever is not running."""
    supervisorctl(layout, "reread")
    supervisorctl(layout, "update")
    started = supervisorctl(layout, "start", "all", capture=True)
    for line in started.stdout.splitlines():
        if "already started" not in line:
            print(line)
    if nginx_changed:
        supervisorctl(layout, "signal", "HUP", "nginx")


#: Programs that run none of our code: a code change leaves them running (and
#: those of the app's services that are system programs: ``foreign_programs``).
NOT_OUR_CODE = ("postgres", "nginx", "migrations")


def restart_programs_on_new_code(layout: StackLayout, digest: str) -> None:
    """The code changed since the stack's programs started (``git pull``, say):
    restart each program that runs it, one at a time, so the other app workers
    keep answering (a request that was at the restarting worker gets the 503
    "restarting" envelope). The migrations have just run again (``start all``),
    and a new worker waits for them."""
    if recorded_digest(layout.run_dir) in (None, digest):
        return
    not_ours = {*NOT_OUR_CODE, *foreign_programs(layout.root)}
    programs = sorted(name for name in process_states(layout) if name.split(":")[0] not in not_ours)
    print(f"The code or config changed since the stack started: restarting {', '.join(programs)}")
    for name in programs:
        restarted = supervisorctl(layout, "restart", name, capture=True)
        if restarted.returncode != 0:  # make run then waits for the API and says why
            print(restarted.stdout + restarted.stderr, end="")


def start_stack(cfg: Config, timeout: float = START_TIMEOUT) -> StackLayout:
    """Set up, render, start (or update) supervisord, and wait until the API answers.

    Running it on a stack that is up applies config changes, starts what is
    stopped (the one-shot migrations run again) and, when the code changed
    since its programs started, restarts them one by one.

    Raises
    ------
    StackError
    """
    check_app_config(cfg)
    layout, postgres_bindir, state_dir = set_up(cfg)
    nginx_changed = write_configs(cfg, layout, postgres_bindir, state_dir)
    digest = stack_code_digest(cfg)
    pid = supervisord_pid(layout)
    if pid is not None:
        if not wait_until_responsive(layout, timeout=15):
            raise StackError(
                f"supervisord (pid {pid}) does not answer on {layout.supervisor_socket}; "
                "try make stop"
            )
        update_running_supervisord(layout, nginx_changed)
        restart_programs_on_new_code(layout, digest)
    else:
        stop_orphans(cfg, layout)
        print(f"Starting supervisord ({layout.supervisord_conf})", flush=True)
        start_supervisord(layout)
    record_digest(layout.run_dir, digest)
    wait_until_up(cfg, layout, timeout)
    return layout


def check_app_config(cfg: Config) -> None:
    """Call ``check(cfg)`` of the module named by ``app.config_check_module``, if any,
    before anything is set up, started or restarted; then its ``check_external(cfg)``
    if it has one: what the stack needs outside itself (a service it talks to),
    which only ``make run`` checks (``check`` also runs at each program's start).

    Raises
    ------
    ConfigError
        With the check's message (it raised ValueError).
    """
    module_name = cfg.get("app.config_check_module")
    if not module_name:
        return
    module = importlib.import_module(module_name)
    try:
        module.check(cfg)
        if hasattr(module, "check_external"):
            module.check_external(cfg)
    except ValueError as exc:
        raise ConfigError(f"{exc}. Nothing was started or restarted: fix config.yaml") from None


def start_or_explain(cfg: Config) -> bool:
    """``start_stack``; on failure print every log's tail and the reason, and return
    False. A config the app's check refused raises ConfigError (the logs are older
    than it: nothing to add)."""
    try:
        start_stack(cfg)
    except ConfigError:
        raise  # its message is the whole story (main prints it)
    except StackError as exc:
        log_dir = cfg.path("app.log_dir")
        if log_dir.exists():
            print_log_tails(log_dir)
        print(f"\n{cfg['app.title']} did not come up: {exc}", file=sys.stderr, flush=True)
        return False
    return True


def stop_stack(cfg: Config, timeout: float = STOP_TIMEOUT) -> bool:
    """Stop every program and supervisord; wait until they are gone.

    Returns
    -------
    bool
        Whether anything was running.

    Raises
    ------
    StackError
        When supervisord does not exit within ``timeout`` seconds.
    """
    layout = stack_layout(cfg)
    try:
        was_running = shutdown_supervisord(layout, timeout)
    except TimeoutError as exc:
        raise StackError(str(exc)) from exc
    had_orphans = stop_orphans(cfg, layout)
    return was_running or had_orphans


def show_status(cfg: Config) -> None:
    """``supervisorctl status``, or a line saying nothing runs."""
    layout = stack_layout(cfg)
    if supervisord_pid(layout) is None or not is_responsive(layout):
        print(f"{cfg['app.title']} is not running (run dir {layout.run_dir})")
        return
    # supervisorctl exits non-zero when any program is not RUNNING, which the
    # one-shot migrations never is once done: its output says it all.
    supervisorctl(layout, "status")
    print(f"Listening on {base_url(cfg)}")


def init_database(cfg: Config) -> None:
    """Create the configured database, starting the embedded server for a moment if it is down."""
    layout, postgres_bindir, _ = set_up(cfg)
    # The stack's server (maybe still starting) or an external one: just use it.
    if postgres_bindir is None or process_runs(
        read_pidfile(layout.pgdata / "postmaster.pid"), "postgres"
    ):
        wait_for_server(cfg, timeout=30)
        created = ensure_database(cfg)
    else:
        print("Starting the embedded PostgreSQL server for a moment", flush=True)
        with temporary_server(layout, postgres_bindir, lambda: wait_for_server(cfg)):
            created = ensure_database(cfg)
    state = "created" if created else "already exists"
    print(f"Database {cfg['database.name']} {state}.")


def ready_message(cfg: Config) -> str:
    return (
        f"{cfg['app.title']} is up: {base_url(cfg)} (API docs at /). "
        f"Admin token: {cfg.path('app.tokens_file')} ({cfg['app.initial_token_key']}). "
        "Logs: make log. Stop: make stop."
    )


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    commands = ("start", "stop", "status", "db_init")
    if len(argv) != 1 or argv[0] not in commands:
        sys.exit(f"usage: python -m baselayer.tools.stack {{{'|'.join(commands)}}}")
    cfg = load_config()
    command = argv[0]
    try:
        if command == "start":
            if not start_or_explain(cfg):
                sys.exit("What did start is left running: make status, make log; make stop.")
            print(ready_message(cfg))
        elif command == "stop":
            was_running = stop_stack(cfg)
            title = cfg["app.title"]
            print(f"{title} stopped." if was_running else f"{title} was not running.")
        elif command == "status":
            show_status(cfg)
        else:
            init_database(cfg)
    except (StackError, TimeoutError) as exc:
        sys.exit(str(exc))


if __name__ == "__main__":
    main()
