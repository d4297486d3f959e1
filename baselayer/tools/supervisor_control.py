"""Talking to one stack's supervisord: start it, ask it, shut it down."""

import os
import signal
import subprocess
import time
import xmlrpc.client

from .errors import StackError
from .layout import StackLayout
from .processes import process_runs, read_pidfile, wait_until_gone


def supervisord_pid(layout: StackLayout) -> int | None:
    """The pid of this stack's live supervisord, or None."""
    pid = read_pidfile(layout.supervisord_pidfile)
    return pid if process_runs(pid, "supervisord") else None


def rpc(layout: StackLayout):
    """An XML-RPC proxy to supervisord over its unix socket."""
    # Imported here: this module is also imported by tools that never talk to supervisord.
    from supervisor.xmlrpc import SupervisorTransport

    transport = SupervisorTransport(None, None, f"unix://{layout.supervisor_socket}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)


def is_responsive(layout: StackLayout) -> bool:
    """Whether supervisord answers on its socket and is running (not shutting down)."""
    try:
        return rpc(layout).supervisor.getState()["statename"] == "RUNNING"
    except (OSError, xmlrpc.client.Error):
        return False


def process_states(layout: StackLayout) -> dict[str, str]:
    """``{"group:name": statename}`` for every program, empty if supervisord does not answer."""
    try:
        infos = rpc(layout).supervisor.getAllProcessInfo()
    except (OSError, xmlrpc.client.Error):
        return {}
    return {f"{info['group']}:{info['name']}": info["statename"] for info in infos}


def supervisorctl(
    layout: StackLayout, *args: str, capture: bool = False
) -> subprocess.CompletedProcess:
    """Run ``supervisorctl -c run_dir/supervisord.conf <args>``."""
    return subprocess.run(
        [str(layout.venv_bin / "supervisorctl"), "-c", str(layout.supervisord_conf), *args],
        capture_output=capture,
        text=True,
    )


def start_supervisord(layout: StackLayout, timeout: float = 15) -> None:
    """Start supervisord (it daemonizes) and wait until it answers.

    Raises
    ------
    StackError
        When it fails to start (its error is on stderr) or does not answer in time.
    """
    command = [str(layout.venv_bin / "supervisord"), "-c", str(layout.supervisord_conf)]
    if subprocess.run(command).returncode != 0:
        raise StackError(f"supervisord did not start ({layout.supervisord_conf})")
    deadline = time.monotonic() + timeout
    while not is_responsive(layout):
        if time.monotonic() > deadline:
            raise StackError(
                f"supervisord did not answer on {layout.supervisor_socket} within {timeout:.0f} s"
            )
        time.sleep(0.1)


def wait_until_responsive(layout: StackLayout, timeout: float) -> bool:
    """Wait for a supervisord that is starting (or busy) to answer; True if it did."""
    deadline = time.monotonic() + timeout
    while not is_responsive(layout):
        if time.monotonic() > deadline or supervisord_pid(layout) is None:
            return False
        time.sleep(0.2)
    return True


def shutdown_supervisord(layout: StackLayout, timeout: float) -> bool:
    """Ask supervisord to stop every program and exit, and wait for it to be gone.

    Returns
    -------
    bool
        False when it was not running.

    Raises
    ------
    TimeoutError
        When it is still running after ``timeout`` seconds.
    """
    pid = supervisord_pid(layout)
    if pid is None:
        return False
    try:
        rpc(layout).supervisor.shutdown()
    except (OSError, xmlrpc.client.Error):
        # Not answering (already shutting down?): a TERM asks for the same clean shutdown.
        os.kill(pid, signal.SIGTERM)
    if not wait_until_gone(pid, "supervisord", timeout):
        raise TimeoutError(f"supervisord (pid {pid}) still runs after {timeout:.0f} s")
    return True
