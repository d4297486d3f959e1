"""What the benchmark ran on: hardware, kernel, versions, the commit, the load."""

import datetime
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import tornado
from sqlalchemy import text

from baselayer.app.config import Config
from baselayer.app.database import make_engine


def _first_line(command: list[str]) -> str | None:
    if not shutil.which(command[0]):
        return None
    result = subprocess.run(command, capture_output=True, text=True)
    output = (result.stdout + result.stderr).strip()
    return output.splitlines()[0] if output else None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _memory_gb() -> float:
    return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)


def _postgres_version(cfg: Config) -> str | None:
    engine = make_engine(cfg, pool_size=1)
    try:
        with engine.connect() as conn:
            return conn.scalar(text("SHOW server_version"))
    except Exception:  # the report goes on without it
        return None
    finally:
        engine.dispose()


def _git(root: Path, *args: str) -> str | None:
    result = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def describe(cfg: Config) -> dict:
    """The machine and software versions; call while the bench stack is up."""
    nginx = _first_line(["nginx", "-v"]) or ""
    wrk = _first_line(["wrk", "-v"]) or ""
    commit = _git(cfg.root, "rev-parse", "--short", "HEAD")
    dirty = bool(_git(cfg.root, "status", "--porcelain", "--untracked-files=no"))
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": f"{commit}{' (with uncommitted changes)' if dirty else ''}",
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": _memory_gb(),
        "kernel": platform.release(),
        "os": _os_name(),
        "python": sys.version.split()[0],
        "tornado": tornado.version,
        "postgres": _postgres_version(cfg),
        "nginx": nginx.rpartition("/")[2] or None,
        "wrk": (re.findall(r"wrk (\S+)", wrk) or [None])[0],
        "webhook": (_first_line(["webhook", "-version"]) or "").rpartition(" ")[2] or None,
        "app_workers": int(cfg["server.processes"]),
        "running_as_root": os.geteuid() == 0,
    }


def _os_name() -> str | None:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return None
