"""Where every file of the supervised stack lives, derived from the config (no side effects)."""

import hashlib
from dataclasses import dataclass
from pathlib import Path

from baselayer.app.config import Config
from baselayer.app.database import embedded_socket_dir

from .system_user import running_as_root

#: Where the system user's files go when it cannot reach run_dir (e.g. under a
#: 0700 home): ``/var/lib/<app.name>``.
SYSTEM_STATE_PARENT = Path("/var/lib")


@dataclass(frozen=True)
class StackLayout:
    """Paths of one stack (``make run`` and ``make test`` each have their own run_dir)."""

    root: Path
    run_dir: Path
    log_dir: Path
    #: The socket dir clients use (maybe a symlink); see ``embedded_socket_dir``.
    pgsock: Path
    #: Runs PostgreSQL and the NGINX workers; None when we are not root (we run them ourselves).
    service_user: str | None
    #: The app's name as an identifier (``app.name``): names the stack's files outside run_dir.
    app_name: str

    @property
    def venv_bin(self) -> Path:
        # Not resolved: .venv/bin/python is a symlink and must stay the venv's.
        return self.root / ".venv" / "bin"

    @property
    def python(self) -> Path:
        return self.venv_bin / "python"

    @property
    def supervisord_conf(self) -> Path:
        return self.run_dir / "supervisord.conf"

    @property
    def supervisor_socket(self) -> Path:
        return self.run_dir / "supervisor.sock"

    @property
    def supervisord_pidfile(self) -> Path:
        return self.run_dir / "supervisord.pid"

    @property
    def nginx_conf(self) -> Path:
        return self.run_dir / "nginx.conf"

    @property
    def nginx_prefix(self) -> Path:
        return self.run_dir / "nginx"

    @property
    def nginx_pidfile(self) -> Path:
        return self.nginx_prefix / "nginx.pid"

    @property
    def metrics_dir(self) -> Path:
        """Where app workers keep Prometheus metrics to add up (multiprocess mode)."""
        return self.run_dir / "metrics"

    @property
    def pgdata(self) -> Path:
        """The cluster's data dir as seen from run_dir (maybe a symlink)."""
        return self.run_dir / "pgdata"

    @property
    def system_state_dir(self) -> Path:
        """Fallback home of the system user's files, one per run_dir."""
        digest = hashlib.sha256(str(self.run_dir).encode()).hexdigest()[:12]
        return SYSTEM_STATE_PARENT / self.app_name / digest


def stack_layout(cfg: Config) -> StackLayout:
    """The layout of the stack ``cfg`` describes.

    Parameters
    ----------
    cfg : Config
        From ``baselayer.app.config.load_config()``.
    """
    return StackLayout(
        root=cfg.root,
        run_dir=cfg.path("app.run_dir"),
        log_dir=cfg.path("app.log_dir"),
        pgsock=embedded_socket_dir(cfg),
        service_user=cfg["database.system_user"] if running_as_root() else None,
        app_name=cfg["app.name"],
    )
