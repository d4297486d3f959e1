"""Render supervisord.conf and nginx.conf into run_dir from the templates beside each service.

Templates use ``{{ name }}`` placeholders: ``$`` belongs to NGINX and
``%(...)s`` to supervisor, so neither string.Template's nor str.format's
syntax fits both.
"""

import os
import re
import shlex
from pathlib import Path

from baselayer.app.config import CONFIG_ENV, Config
from baselayer.services.status_server.status_server import unavailable_body

from .app_services import APP_SERVICES_DIR, enabled_app_services, runs_our_code
from .layout import StackLayout
from .prepare_dirs import NGINX_TEMP_DIRS, app_socket, nginx_temp_dir, status_socket
from .system_user import primary_group

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
#: The programs of baselayer's own services, each beside its supervisor.conf.tmpl.
APP_WORKER_MODULE = "baselayer.services.app.app"
MIGRATIONS_MODULE = "baselayer.services.migrations.migrations"
STATUS_SERVER_MODULE = "baselayer.services.status_server.status_server"


def service_template(service: str, name: str = "supervisor.conf.tmpl") -> Path:
    """The template ``name`` of ``service`` (``baselayer/services/<service>/<name>``)."""
    return SERVICES_DIR / service / name


def render_template(path: Path, values: dict) -> str:
    """``path``'s text with every ``{{ name }}`` replaced by ``values[name]``.

    Raises
    ------
    KeyError
        When the template names a value that is not given.
    """

    def substitute(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"{path}: no value for {{{{ {name} }}}}")
        return str(values[name])

    return PLACEHOLDER.sub(substitute, path.read_text())


def _double_quote(value) -> str:
    """``value`` in double quotes, as both supervisor and NGINX read them."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _supervisor_escape(value) -> str:
    # supervisor expands %(name)s in values: a literal % must be doubled.
    return str(value).replace("%", "%%")


def _supervisor_arg(value) -> str:
    """A command-line argument for supervisor, which splits commands like a shell."""
    return _supervisor_escape(shlex.quote(str(value)))


def _supervisor_environment(layout: StackLayout) -> str:
    # Programs read the same config overrides as the tool that started them, and
    # the app workers add up their Prometheus metrics through files in one place.
    variables = {
        CONFIG_ENV: os.environ.get(CONFIG_ENV, ""),
        "PYTHONUNBUFFERED": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(layout.metrics_dir),
    }
    return _supervisor_escape(
        ",".join(f"{key}={_double_quote(value)}" for key, value in variables.items())
    )


def _run_as_directive(user: str | None) -> str:
    return f"user = {user}" if user else "; runs as the user who started the stack"


def _program_values(layout: StackLayout) -> dict:
    """Values every program template may use."""
    return {
        "root": _supervisor_escape(layout.root),
        "python": _supervisor_arg(layout.python),
        "log_dir": _supervisor_escape(layout.log_dir),
        "environment": _supervisor_environment(layout),
    }


def app_service_command(layout: StackLayout, name: str) -> list[str]:
    """How supervisord starts the app's service ``name``. ``--run-dir`` tells this
    stack's program from another stack's on the same host (``make stop`` finds
    leftovers by their command lines)."""
    module = f"{APP_SERVICES_DIR}.{name}.{name}"
    return [str(layout.python), "-m", module, "--run-dir", str(layout.run_dir)]


def _app_service_programs(
    cfg: Config, layout: StackLayout, service_values: dict[str, dict]
) -> list[str]:
    # Values a service's prepare hook gave are escaped for supervisor here.
    programs = []
    for name in enabled_app_services(cfg):
        values = {
            **_program_values(layout),
            **{
                key: _supervisor_escape(value)
                for key, value in service_values.get(name, {}).items()
            },
        }
        if runs_our_code(layout.root, name):
            values["command"] = _command_line(app_service_command(layout, name))
        programs.append(
            render_template(layout.root / APP_SERVICES_DIR / name / "supervisor.conf.tmpl", values)
        )
    return programs


def app_worker_command(cfg: Config, layout: StackLayout, state_dir: Path, worker: int) -> list[str]:
    """How supervisord starts app worker ``worker``: on its unix socket (whose path
    also tells this stack's worker from another stack's: see ``orphans``). The
    program runs the app's ``app.server_module``."""
    socket = str(app_socket(state_dir, worker))
    return [str(layout.python), "-m", APP_WORKER_MODULE, "--socket", socket]


def migrations_command(layout: StackLayout) -> list[str]:
    """How supervisord starts the one-shot migrations program."""
    return [str(layout.python), "-m", MIGRATIONS_MODULE]


def status_server_command(layout: StackLayout, state_dir: Path) -> list[str]:
    """How supervisord starts the status server, on its unix socket."""
    socket = str(status_socket(state_dir))
    return [str(layout.python), "-m", STATUS_SERVER_MODULE, "--socket", socket]


def _command_line(argv: list[str]) -> str:
    return " ".join(_supervisor_arg(arg) for arg in argv)


def _app_programs(cfg: Config, layout: StackLayout, state_dir: Path) -> list[str]:
    # One program per worker so each gets its own socket; the "app" group lets
    # `supervisorctl stop app:*` act on all of them.
    processes = int(cfg["server.processes"])
    names = [f"app_{worker:02d}" for worker in range(processes)]
    programs = [
        render_template(
            service_template("app"),
            {
                **_program_values(layout),
                "worker": f"{worker:02d}",
                "command": _command_line(app_worker_command(cfg, layout, state_dir, worker)),
            },
        )
        for worker in range(processes)
    ]
    programs.append(f"[group:app]\nprograms = {','.join(names)}\npriority = 30\n")
    return programs


def render_supervisord_conf(
    cfg: Config,
    layout: StackLayout,
    nginx: Path,
    nginx_error_log_flag: bool,
    postgres_bindir: Path | None,
    state_dir: Path,
    service_values: dict[str, dict] | None = None,
) -> str:
    """The text of ``run_dir/supervisord.conf``.

    Parameters
    ----------
    cfg : Config
    layout : StackLayout
    nginx : Path
        The nginx executable.
    nginx_error_log_flag : bool
        Whether nginx takes ``-e`` (see ``system_deps.nginx_accepts_error_log_flag``).
    postgres_bindir : Path or None
        The PostgreSQL bin directory, None when the database is not embedded.
    state_dir : Path
        Where the system user's files live; the programs' sockets are under it.
    service_values : dict, optional
        Service name -> extra values of its template (``app_services.prepare_services``).
    """
    common = _program_values(layout)
    programs = []
    if postgres_bindir is not None:
        data_dir = layout.pgdata.resolve()
        programs.append(
            render_template(
                service_template("postgres"),
                {
                    **common,
                    "postgres": _supervisor_arg(postgres_bindir / "postgres"),
                    "data_dir": _supervisor_escape(data_dir),
                    "data_dir_arg": _supervisor_arg(data_dir),
                    "run_as": _run_as_directive(layout.service_user),
                },
            )
        )
    programs.append(
        render_template(
            service_template("migrations"),
            {**common, "command": _command_line(migrations_command(layout))},
        )
    )
    programs += _app_programs(cfg, layout, state_dir)
    programs += _app_service_programs(cfg, layout, service_values or {})
    programs.append(
        render_template(
            service_template("status_server"),
            {**common, "command": _command_line(status_server_command(layout, state_dir))},
        )
    )
    programs.append(
        render_template(
            service_template("nginx"),
            {
                **common,
                "nginx": _supervisor_arg(nginx),
                # Keeps nginx from opening /var/log/nginx/error.log before it reads our config.
                "error_log_flag": "-e stderr" if nginx_error_log_flag else "",
                "conf_arg": _supervisor_arg(layout.nginx_conf),
                "prefix_arg": _supervisor_arg(f"{layout.nginx_prefix}/"),
            },
        )
    )
    return render_template(
        SERVICES_DIR / "supervisord.conf.tmpl",
        {
            "socket": _supervisor_escape(layout.supervisor_socket),
            "pidfile": _supervisor_escape(layout.supervisord_pidfile),
            "log_dir": _supervisor_escape(layout.log_dir),
            "root": _supervisor_escape(layout.root),
            "title": _supervisor_escape(cfg["app.title"]),
            "identifier": _supervisor_escape(f"{cfg['app.name']}:{layout.run_dir}"),
            # Says "root on purpose" (the executor starts jobs as other users).
            "user": "user = root" if layout.service_user else "",
            "programs": "\n".join(programs),
        },
    )


def _nginx_single_quoted(value: str) -> str:
    """``value`` escaped for an NGINX string in single quotes."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _listen_address(host: str, port: int) -> str:
    host = str(host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # IPv6
    return f"{host}:{port}"


def _upstream_address(socket: Path) -> str:
    """An NGINX upstream address for the unix socket ``socket``."""
    address = f"unix:{socket}"
    if re.search(r"[\s\"'{};\\$]", address):
        return _double_quote(address)
    return address


def render_nginx_conf(cfg: Config, layout: StackLayout, state_dir: Path) -> str:
    """The text of ``run_dir/nginx.conf``.

    Parameters
    ----------
    cfg : Config
    layout : StackLayout
    state_dir : Path
        Where the system user's files live; NGINX's temp dirs and the programs'
        sockets are under it.
    """
    app_servers = "\n".join(
        # Never marked failed: each NGINX worker process keeps its own failure
        # memory, and one that saw the app workers refuse at start-up sent whole
        # bursts to the status server seconds later. A refused connection to a
        # dead worker costs next to nothing, and the next server is tried at once.
        f"        server {_upstream_address(app_socket(state_dir, worker))} max_fails=0;"
        for worker in range(int(cfg["server.processes"]))
    )
    user = layout.service_user
    # As root the master binds and opens logs; the workers run unprivileged.
    user_directive = (
        f"user {user} {primary_group(user)};"
        if user
        else "# runs as the user who started the stack"
    )
    return render_template(
        service_template("nginx", "nginx.conf.tmpl"),
        {
            "user_directive": user_directive,
            "pidfile": _double_quote(layout.nginx_pidfile),
            "access_log": _double_quote(layout.log_dir / "nginx-access.log"),
            **{
                f"{name}_temp": _double_quote(nginx_temp_dir(state_dir) / name)
                for name in NGINX_TEMP_DIRS
            },
            "max_body_bytes": int(cfg["server.max_body_bytes"]),
            "rate_limit_rate": int(cfg["server.rate_limit.per_second"]),
            "rate_limit_burst": int(cfg["server.rate_limit.burst"]),
            "app_servers": app_servers,
            "status_server": _upstream_address(status_socket(state_dir)),
            "listen": _listen_address(cfg["server.host"], int(cfg["server.port"])),
            "title": cfg["app.title"],
            "unavailable_body": _nginx_single_quoted(unavailable_body(cfg["app.title"])),
        },
    )


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` unless it already holds it; True if it changed."""
    if path.exists() and path.read_text() == text:
        return False
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return True
