"""System packages the stack needs: NGINX always, the PostgreSQL server when it is embedded.

Missing ones are installed with apt-get when we are root; otherwise we stop and
name the command to run. Stdlib only.
"""

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

POSTGRES_BINARIES = ("initdb", "postgres", "pg_ctl")
# Not on a non-root user's PATH on Debian, but that is where the package puts it.
NGINX_FALLBACKS = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")


class MissingDependency(RuntimeError):
    """A system package is missing and we may not install it."""


def _has_postgres_binaries(bindir: str | Path) -> bool:
    return all(os.access(Path(bindir) / name, os.X_OK) for name in POSTGRES_BINARIES)


def _version_key(bindir: str) -> tuple:
    # /usr/lib/postgresql/<version>/bin: newest version first, "9.6" < "15".
    version = Path(bindir).parent.name
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


def find_postgres_bindir() -> Path | None:
    """The directory holding ``initdb``, ``postgres`` and ``pg_ctl``, or None.

    Searched in order: ``pg_config --bindir``, ``/usr/lib/postgresql/*/bin``
    (newest first), then ``$PATH``.
    """
    candidates = []
    if shutil.which("pg_config"):
        result = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if result.returncode == 0:
            candidates.append(result.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    initdb_on_path = shutil.which("initdb")
    if initdb_on_path:
        candidates.append(str(Path(initdb_on_path).parent))
    for bindir in candidates:
        if bindir and _has_postgres_binaries(bindir):
            return Path(bindir)
    return None


def find_nginx() -> Path | None:
    """The ``nginx`` executable, or None."""
    found = shutil.which("nginx")
    if found:
        return Path(found)
    for path in NGINX_FALLBACKS:
        if os.access(path, os.X_OK):
            return Path(path)
    return None


def nginx_accepts_error_log_flag(nginx: Path) -> bool:
    """Whether ``nginx -e`` exists (1.19.5+): it keeps nginx off /var/log/nginx at start-up."""
    result = subprocess.run([str(nginx), "-h"], capture_output=True, text=True)
    return "-e filename" in result.stdout + result.stderr


def _apt_get(*args: str) -> int:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    return subprocess.run(["apt-get", *args], env=env).returncode


def _apt_knows(packages) -> bool:
    # An image whose package lists were cleaned cannot install anything yet.
    result = subprocess.run(["apt-cache", "show", *packages], capture_output=True)
    return result.returncode == 0


def install_packages(packages: list[str], recommends: bool = True) -> None:
    """``apt-get install -y`` the packages, running ``apt-get update`` only if needed.

    Parameters
    ----------
    packages : list of str
    recommends : bool
        False: ``--no-install-recommends`` (only what the packages need).

    Raises
    ------
    MissingDependency
        When we are not root, or apt-get is missing or fails.
    """
    options = ["-y"] if recommends else ["-y", "--no-install-recommends"]
    command = f"apt-get install {' '.join(options + packages)}"
    if os.geteuid() != 0:
        raise MissingDependency(f"Missing system packages. Install them with:\n  sudo {command}")
    if shutil.which("apt-get") is None:
        raise MissingDependency(
            f"Missing system packages ({', '.join(packages)}) and no apt-get here."
        )
    print(f"Installing system packages: {command}", flush=True)
    if not _apt_knows(packages):
        _apt_get("update")
    if _apt_get("install", *options, *packages) != 0:
        # Stale package lists give 404s: refresh once and retry.
        _apt_get("update")
        if _apt_get("install", *options, *packages) != 0:
            raise MissingDependency(f"'{command}' failed; see the output above.")


def postgres_is_embedded(cfg) -> bool:
    """Whether we run our own cluster (``database.host`` empty) rather than use a server."""
    return not cfg.get("database.host")


def ensure_system_deps(cfg) -> Path | None:
    """Make sure NGINX (and, when embedded, the PostgreSQL server) is installed,
    and the commands config ``app.system_commands`` names.

    Parameters
    ----------
    cfg : baselayer.app.config.Config

    Returns
    -------
    Path or None
        The PostgreSQL bin directory when the database is embedded, else None.

    Raises
    ------
    MissingDependency
        When something is missing and cannot be installed.
    """
    embedded = postgres_is_embedded(cfg)
    missing = []
    if find_nginx() is None:
        missing.append("nginx")
    for command, package in (cfg.get("app.system_commands") or {}).items():
        if shutil.which(command) is None and package not in missing:
            missing.append(package)
    if embedded and find_postgres_bindir() is None:
        missing.append("postgresql")
    if missing:
        install_packages(missing)
    if find_nginx() is None:
        raise MissingDependency("nginx is still missing after installing it.")
    if not embedded:
        return None
    bindir = find_postgres_bindir()
    if bindir is None:
        raise MissingDependency(
            "PostgreSQL server binaries (initdb, postgres, pg_ctl) are still missing."
        )
    return bindir


def command_exists(command: str) -> bool:
    """Whether ``command`` (a name looked up on PATH, or an absolute path) can be run."""
    if os.path.isabs(command):
        return os.access(command, os.X_OK)
    return shutil.which(command) is not None


def ensure_commands(commands: dict[str, str]) -> None:
    """Install the packages of the missing ``commands`` (command -> Debian package),
    without recommended packages.

    Raises
    ------
    MissingDependency
        When they are missing and cannot be installed, or still missing after.
    """
    missing = sorted(
        {package for command, package in commands.items() if not command_exists(command)}
    )
    if missing:
        install_packages(missing, recommends=False)
    still = [command for command in commands if not command_exists(command)]
    if still:
        raise MissingDependency(
            f"still missing after installing their packages: {', '.join(still)}"
        )


def main() -> None:
    from baselayer.app.config import load_config

    try:
        bindir = ensure_system_deps(load_config())
    except MissingDependency as exc:
        sys.exit(str(exc))
    print(f"nginx: {find_nginx()}")
    print(f"postgres: {bindir or 'not needed (database.host is set)'}")


if __name__ == "__main__":
    main()
