"""The embedded PostgreSQL cluster: its data and socket dirs, initdb, settings, a temporary server.

Used only when ``database.host`` is empty. The cluster listens on a unix
socket only, in a 0700 directory owned by the system user: root (the stack's
programs) can connect, other local users cannot.
"""

import contextlib
import signal
import subprocess
from pathlib import Path

from .layout import StackLayout
from .prepare_dirs import make_private_dir
from .processes import signal_pidfile_process
from .render_configs import render_template, service_template
from .system_user import chown_to, run_as


def settings_file(app_name: str) -> str:
    """Our settings' file (``<app.name>.conf``), rendered at every start into the
    data dir and included by postgresql.conf."""
    return f"{app_name}.conf"


SOCKET_NAME = ".s.PGSQL.5432"
#: sun_path is 108 bytes on Linux, including the terminating NUL.
MAX_SOCKET_PATH = 107


class ClusterError(RuntimeError):
    """The embedded cluster cannot be set up or started."""


def _place_dir(link: Path, state_dir: Path, owner: str | None) -> Path:
    """Make ``link`` usable as a directory owned by ``owner``; return its real path.

    When run_dir is not reachable by ``owner``, the directory lives in
    ``state_dir`` and ``link`` points to it. An existing directory or link is kept.
    """
    if not (link.exists() or link.is_symlink()):
        if state_dir != link.parent:
            target = state_dir / link.name
            make_private_dir(target, owner)
            link.symlink_to(target)
            print(f"{link} -> {target} (the system user cannot reach {link.parent})", flush=True)
    real = link.resolve()
    make_private_dir(real, owner)
    return real


def _check_socket_path(socket_dir: Path) -> None:
    path = socket_dir / SOCKET_NAME
    if len(str(path).encode()) > MAX_SOCKET_PATH:
        raise ClusterError(
            f"The PostgreSQL socket path {path} is longer than {MAX_SOCKET_PATH} bytes, "
            "the limit for unix sockets: use a shorter app.run_dir."
        )


def _quote_setting(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def initdb(bindir: Path, data_dir: Path, db_user: str, owner: str | None) -> None:
    """Create a new cluster in the empty ``data_dir``, run as ``owner`` (initdb refuses root)."""
    print(f"Creating the PostgreSQL cluster in {data_dir}", flush=True)
    command = [
        *run_as(owner),
        str(bindir / "initdb"),
        "-D",
        str(data_dir),
        "-U",
        db_user,
        "--auth=trust",
        "-E",
        "UTF8",
        # The C locale exists everywhere; a missing LANG locale would make initdb fail.
        "--locale=C",
    ]
    result = subprocess.run(command, cwd="/", capture_output=True, text=True)
    if result.returncode != 0:
        raise ClusterError(f"initdb failed:\n{result.stdout}{result.stderr}")


def write_settings(data_dir: Path, socket_dir: Path, owner: str | None, app_name: str) -> None:
    """Render our settings into the data dir and make postgresql.conf include them."""
    settings = render_template(
        service_template("postgres", "postgresql.conf.tmpl"),
        {"socket_dir": _quote_setting(str(socket_dir)), "app_name": app_name},
    )
    settings_path = data_dir / settings_file(app_name)
    settings_path.write_text(settings)
    chown_to(settings_path, owner)
    main_conf = data_dir / "postgresql.conf"
    include_line = f"include_if_exists = '{settings_file(app_name)}'"
    if include_line not in main_conf.read_text():
        with open(main_conf, "a") as conf:
            conf.write(f"\n# {app_name}'s settings (rendered at every start)\n{include_line}\n")


def prepare_cluster(layout: StackLayout, state_dir: Path, bindir: Path, db_user: str) -> Path:
    """Create (once) and configure the embedded cluster.

    Parameters
    ----------
    layout : StackLayout
    state_dir : Path
        Where the system user's files live (see ``prepare_dirs.service_state_dir``).
    bindir : Path
        The PostgreSQL bin directory.
    db_user : str
        The cluster's superuser (``database.user``).

    Returns
    -------
    Path
        The real path of the data dir.
    """
    owner = layout.service_user
    socket_dir = _place_dir(layout.pgsock, state_dir, owner)
    _check_socket_path(layout.pgsock)
    _check_socket_path(socket_dir)
    data_dir = _place_dir(layout.pgdata, state_dir, owner)
    if not (data_dir / "PG_VERSION").exists():
        initdb(bindir, data_dir, db_user, owner)
    write_settings(data_dir, socket_dir, owner, layout.app_name)
    return data_dir


@contextlib.contextmanager
def temporary_server(layout: StackLayout, bindir: Path, wait_until_ready):
    """Run the cluster's server for the duration of the ``with`` block (for ``make db_init``).

    Parameters
    ----------
    layout : StackLayout
    bindir : Path
    wait_until_ready : callable
        Called once the server is launched; returns when it accepts connections.
    """
    log_path = layout.log_dir / "postgres.log"
    with open(log_path, "ab") as log:
        server = subprocess.Popen(
            [
                *run_as(layout.service_user),
                str(bindir / "postgres"),
                "-D",
                str(layout.pgdata.resolve()),
            ],
            cwd="/",
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_ready()
        yield
    finally:
        # SIGINT: PostgreSQL's fast shutdown.
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def stop_orphan_server(layout: StackLayout, timeout: float = 30) -> int | None:
    """Stop a cluster server left running without supervisord (e.g. supervisord was killed).

    Returns
    -------
    int or None
        The pid stopped, None when none was running.
    """
    pid = signal_pidfile_process(
        layout.pgdata / "postmaster.pid", "postgres", signal.SIGINT, timeout
    )
    if pid:
        print(f"Stopped PostgreSQL (pid {pid}), left running without supervisord", flush=True)
    return pid
