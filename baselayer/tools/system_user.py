"""The unprivileged system user that runs PostgreSQL and the NGINX workers when we are root."""

import grp
import os
import pwd
import subprocess
from pathlib import Path


def running_as_root() -> bool:
    return os.geteuid() == 0


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def ensure_system_user(name: str) -> None:
    """Create the system user ``name`` (no home, no login shell) if it does not exist.

    Only root can; callers check ``running_as_root()`` first.
    """
    if user_exists(name):
        return
    print(f"Creating system user {name}", flush=True)
    result = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        capture_output=True,
        text=True,
    )
    # Another `make` (run beside test) may have created it a moment ago.
    if result.returncode != 0 and not user_exists(name):
        raise RuntimeError(f"useradd {name} failed: {result.stderr.strip()}")


def primary_group(name: str) -> str:
    return grp.getgrgid(pwd.getpwnam(name).pw_gid).gr_name


def run_as(name: str | None) -> list[str]:
    """Command prefix that runs a program as ``name`` (empty: as ourselves).

    setpriv execs the program directly (no PAM session, no extra parent
    process), so signals reach it unchanged.
    """
    if not name:
        return []
    return ["setpriv", f"--reuid={name}", f"--regid={primary_group(name)}", "--init-groups", "--"]


def chown_to(path: Path, name: str | None) -> None:
    """Give ``path`` to user ``name`` and its group (no-op when ``name`` is None)."""
    if name:
        entry = pwd.getpwnam(name)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def can_reach(name: str | None, path: Path) -> bool:
    """Whether user ``name`` can traverse every directory down to and into ``path``."""
    if not name:
        return True
    result = subprocess.run([*run_as(name), "test", "-x", str(path)], cwd="/", capture_output=True)
    return result.returncode == 0
