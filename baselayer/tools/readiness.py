"""Is the stack up? The app's health path (``app.health_path``) answering 200
through NGINX says so."""

import os
import time
import urllib.error
import urllib.request

from baselayer.app.config import Config

from .app_services import services_not_ready
from .errors import StackError
from .layout import StackLayout
from .supervisor_control import process_states, supervisord_pid

START_TIMEOUT = 90
#: Hosts that mean "every interface": we probe them on loopback.
WILDCARD_HOSTS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}


def probe_host(cfg: Config) -> str:
    """Where to reach NGINX from this host (loopback when it listens on every interface)."""
    host = str(cfg.get("server.host") or "")
    return WILDCARD_HOSTS.get(host, host)


def base_url(cfg: Config) -> str:
    host = probe_host(cfg)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{cfg['server.port']}"


def http_status(url: str) -> int | None:
    """The HTTP status ``url`` answers with, None when nothing answers."""
    # Bypass any http_proxy from the environment: this is our own loopback.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=3) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def wait_until_up(cfg: Config, layout: StackLayout, timeout: float = START_TIMEOUT) -> None:
    """Wait until the app's health path (``app.health_path``) answers 200 through NGINX
    and every enabled app service whose hooks say when it serves does
    (``app_services.services_not_ready``).

    Raises
    ------
    StackError
        On timeout, or as soon as a program fails for good (FATAL) or supervisord exits.
    """
    url = base_url(cfg) + cfg["app.health_path"]
    deadline = time.monotonic() + timeout
    status = None
    waiting: list[str] = []
    while time.monotonic() < deadline:
        if status != 200:
            status = http_status(url)
            if status == 200:
                check_port_owners(int(cfg["server.port"]))
        if status == 200:
            waiting = services_not_ready(cfg)
            if not waiting:
                return
        failed = [name for name, state in process_states(layout).items() if state == "FATAL"]
        if failed:
            raise StackError(f"{', '.join(failed)} failed to start (FATAL; see the logs above)")
        if supervisord_pid(layout) is None:
            raise StackError("supervisord exited (see the logs above)")
        time.sleep(0.5)
    if status == 200:
        raise StackError(f"not ready within {timeout:.0f} s: {'; '.join(waiting)}")
    raise StackError(
        f"{url} did not answer 200 within {timeout:.0f} s (last: {status or 'no answer'})"
    )


def listening_uids(port: int, proc_net=("/proc/net/tcp", "/proc/net/tcp6")) -> set[int]:
    """The uids owning the TCP sockets that listen on ``port`` on this host (any
    address), from /proc/net/tcp and tcp6 (state 0A is LISTEN)."""
    uids = set()
    for table in proc_net:
        try:
            with open(table) as f:
                next(f)  # the header
                for line in f:
                    fields = line.split()
                    local, state, uid = fields[1], fields[3], fields[7]
                    if state == "0A" and int(local.rpartition(":")[2], 16) == port:
                        uids.add(int(uid))
        except FileNotFoundError:
            continue
    return uids


def check_port_owners(port: int) -> None:
    """Only our own processes (nginx) listen on the public port. A job (another
    uid) that bound it while nginx was stopped would answer users, and read their
    tokens, while ``make run`` said the stack is up.

    Raises StackError naming the uid and the remedy."""
    strangers = listening_uids(port) - {os.geteuid()}
    if strangers:
        raise StackError(
            f"port {port} is held by uid {', '.join(map(str, sorted(strangers)))}, not by"
            " this stack's nginx (a job that bound it while nginx was stopped?): stop that"
            " process, then make run again. Give server.port a number below 1024 so that"
            " no job can ever bind it"
        )
