"""Create the stack's directories, and pick where the system user's files can live."""

import grp
import os
from pathlib import Path

from .errors import StackError
from .layout import StackLayout
from .system_user import can_reach, chown_to, primary_group

#: Temp dirs NGINX workers write to (as the system user when we are root).
NGINX_TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
#: The longest path a unix socket may have (sun_path holds 108 bytes with its NUL).
MAX_SOCKET_PATH = 107
#: The longest socket file name in ``sockets_dir`` (see ``status_socket``).
LONGEST_SOCKET_NAME = "status_server.sock"


def service_state_dir(layout: StackLayout) -> Path:
    """The directory for files the system user owns (cluster, NGINX temp files).

    run_dir itself when the system user can reach it; otherwise (e.g. the
    project lives under a 0700 home) a per-run_dir directory under
    /var/lib/<app.name>.
    """
    if can_reach(layout.service_user, layout.run_dir):
        return layout.run_dir
    return layout.system_state_dir


def make_private_dir(path: Path, owner: str | None) -> None:
    """Create ``path`` (mode 0700) owned by ``owner``, or fix them if it exists."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    chown_to(path, owner)
    path.chmod(0o700)


def nginx_temp_dir(state_dir: Path) -> Path:
    """Where NGINX's temp dirs go (its workers write there)."""
    return state_dir / "nginx-temp"


def sockets_dir(state_dir: Path) -> Path:
    """Where the app workers and the status server listen (unix sockets): only we
    and NGINX's workers may enter it, so no job can listen in their place or
    connect past NGINX. Under the state dir, which NGINX's workers can reach."""
    return state_dir / "sockets"


def app_socket(state_dir: Path, worker: int) -> Path:
    """The unix socket app worker ``worker`` listens on."""
    return sockets_dir(state_dir) / f"app_{worker:02d}.sock"


def status_socket(state_dir: Path) -> Path:
    """The unix socket the status server listens on."""
    return sockets_dir(state_dir) / LONGEST_SOCKET_NAME


def make_sockets_dir(layout: StackLayout, state_dir: Path) -> None:
    """Create ``sockets_dir`` (or fix it): ours, entered by nobody else but NGINX's
    workers. As root they run as the system user: mode 2750 with its group (the
    sockets made in it get that group, setgid); otherwise they are us: 0700.

    Raises
    ------
    StackError
        When a socket's path would be too long for the kernel.
    """
    path = sockets_dir(state_dir)
    if len(str(path / LONGEST_SOCKET_NAME)) > MAX_SOCKET_PATH:
        raise StackError(
            f"{path} is too long for unix socket paths ({MAX_SOCKET_PATH} bytes at most): "
            "set a shorter app.run_dir"
        )
    path.mkdir(mode=0o700, exist_ok=True)
    if layout.service_user:
        os.chown(path, os.getuid(), grp.getgrnam(primary_group(layout.service_user)).gr_gid)
        path.chmod(0o2750)
    else:
        path.chmod(0o700)


def make_log_dir(layout: StackLayout) -> None:
    """Create log_dir (or fix it), readable by us only: NGINX's access log holds every
    user's job ids and query strings. Every log is written by supervisord and the
    NGINX master (who opens the access log before it drops privileges): as root,
    or as us."""
    layout.log_dir.mkdir(parents=True, exist_ok=True)
    layout.log_dir.chmod(0o700)


def prepare_dirs(layout: StackLayout) -> Path:
    """Create run_dir, log_dir, NGINX's dirs and the sockets' dir; return the service state dir.

    Returns
    -------
    Path
        See ``service_state_dir``.
    """
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    make_log_dir(layout)
    layout.nginx_prefix.mkdir(exist_ok=True)
    layout.metrics_dir.mkdir(mode=0o700, exist_ok=True)
    state_dir = service_state_dir(layout)
    if state_dir != layout.run_dir:
        print(
            f"{layout.service_user} cannot reach {layout.run_dir}: "
            f"its files (database cluster, NGINX temp files) go under {state_dir}",
            flush=True,
        )
        state_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
    make_private_dir(nginx_temp_dir(state_dir), layout.service_user)
    for name in NGINX_TEMP_DIRS:
        make_private_dir(nginx_temp_dir(state_dir) / name, layout.service_user)
    make_sockets_dir(layout, state_dir)
    return state_dir
