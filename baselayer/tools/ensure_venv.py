"""Create ``.venv``, install ``requirements.txt`` into it, then this project, editable
(stdlib only: runs before the venv).

``make`` calls this when ``requirements.txt`` or ``pyproject.toml`` is newer than
the stamp file it writes, so an unchanged venv is never touched.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

VENV_DIR = Path(".venv")
#: Touched after a successful install; the Makefile compares it with requirements.txt
#: and pyproject.toml.
STAMP = VENV_DIR / ".requirements-installed"
#: As pyproject.toml's requires-python.
MIN_PYTHON = (3, 11)


def venv_python(venv_dir: Path = VENV_DIR) -> Path:
    return venv_dir / "bin" / "python"


def venv_is_usable(venv_dir: Path = VENV_DIR) -> bool:
    """Whether ``venv_dir`` has a working interpreter with pip."""
    python = venv_python(venv_dir)
    if not python.exists():
        return False
    probe = subprocess.run([str(python), "-m", "pip", "--version"], capture_output=True)
    return probe.returncode == 0


def install_python3_venv() -> None:
    """Install Debian's ``python3-venv`` (ensurepip), which minimal images leave out."""
    if os.geteuid() != 0:
        sys.exit(
            "python3 -m venv failed: the venv module (ensurepip) is missing.\n"
            "Install it with:  sudo apt-get install -y python3-venv   then run make again."
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(["apt-get", "install", "-y", "python3-venv"], env=env).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(["apt-get", "install", "-y", "python3-venv"], env=env, check=True)


def create_venv(venv_dir: Path = VENV_DIR) -> None:
    """Create ``venv_dir`` with this interpreter, installing python3-venv if it is missing.

    A half-made venv (left behind when ensurepip was missing) is replaced.
    """
    command = [sys.executable, "-m", "venv", "--clear", str(venv_dir)]
    print(f"Creating {venv_dir} with {sys.executable}", flush=True)
    if subprocess.run(command).returncode == 0 and venv_is_usable(venv_dir):
        return
    if shutil.which("apt-get") is None:
        sys.exit(f"{' '.join(command)} failed; install Python's venv module and run make again.")
    install_python3_venv()
    subprocess.run(command, check=True)


def install_requirements(
    venv_dir: Path = VENV_DIR, requirements: Path = Path("requirements.txt")
) -> None:
    """``pip install -r requirements``."""
    _pip_install(venv_dir, "-r", str(requirements))


def install_project(venv_dir: Path = VENV_DIR, project_dir: Path = Path(".")) -> None:
    """``pip install --no-deps -e .``: the project's packages and console scripts.

    Editable, so the installed packages are the source tree itself; only a change to
    ``pyproject.toml`` (new scripts, packages) needs this again. ``--no-deps``: the
    pinned requirements are installed already.
    """
    _pip_install(venv_dir, "--no-deps", "--editable", str(project_dir))


def _pip_install(venv_dir: Path, *args: str) -> None:
    subprocess.run(
        [str(venv_python(venv_dir)), "-m", "pip", "install", "--disable-pip-version-check", *args],
        check=True,
    )


def main() -> None:
    if sys.version_info < MIN_PYTHON:
        wanted = ".".join(map(str, MIN_PYTHON))
        sys.exit(f"This project needs Python >= {wanted}; {sys.executable} is {sys.version}.")
    if not venv_is_usable():
        create_venv()
    try:
        install_requirements()
        install_project()
    except subprocess.CalledProcessError as exc:
        sys.exit(f"pip install failed (exit {exc.returncode}); see the output above.")
    STAMP.touch()


if __name__ == "__main__":
    main()
