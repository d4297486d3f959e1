"""Create the stack's directories, and pick where the system user's files can live."""

from pathlib import Path

from .layout import StackLayout
from .system_user import can_reach, chown_to

#: Temp dirs NGINX workers write to (as the system user when we are root).
NGINX_TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def service_state_dir(layout: StackLayout) -> Path:
    """The directory for files the system user owns (cluster, NGINX temp files).

    run_dir itself when the system user can reach it; otherwise (e.g. the
    project lives under a 0700 home) a per-run_dir directory under
    /var/lib/shell_service.
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
    return state_dir / "nginx-temp"


def prepare_dirs(layout: StackLayout) -> Path:
    """Create run_dir, log_dir and NGINX's dirs; return the service state dir.

    Returns
    -------
    Path
        See ``service_state_dir``.
    """
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    layout.log_dir.mkdir(parents=True, exist_ok=True)
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
    return state_dir
