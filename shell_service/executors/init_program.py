"""Building the job init (``job_init.c``), the one program of ours that is not Python.

    .venv/bin/python -m shell_service.executors.init_program

``make run``, ``make test`` and ``make bench`` run this first (the Makefile's
``$(JOB_INIT)`` rule, when the source is newer than the program). It compiles
``job_init.c`` with the system's C compiler into ``build/job_init`` at the top
of the repository, statically linked: a static program loads no shared
libraries, so no loader reads any environment variable in a process that runs
as root, and it starts faster. GCC and the C library's static archive come from
apt-get (``gcc``, ``libc6-dev``) when they are missing and we are root;
otherwise we stop and name the command.

The program is written next to its final name and renamed over it, so a job
init starting meanwhile runs the old program or the new one, never half of one.
"""

import os
import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).with_name("job_init.c")
#: Where the launcher runs the job init from (by this absolute path).
PROGRAM = Path(__file__).resolve().parents[2] / "build" / "job_init"
COMPILER = Path("/usr/bin/cc")
#: The C library's static archive (libc6-dev on Debian and Ubuntu).
STATIC_LIBC = ("/usr/lib/x86_64-linux-gnu/libc.a", "/usr/lib/aarch64-linux-gnu/libc.a")
PACKAGES = ["gcc", "libc6-dev"]
FLAGS = [
    "-std=gnu11",
    "-O2",
    "-static",
    "-Wall",
    "-Wextra",
    "-D_FORTIFY_SOURCE=2",
    "-fstack-protector-strong",
]


class BuildError(RuntimeError):
    """The job init could not be built (the message says why and what to run)."""


def _have_toolchain() -> bool:
    return COMPILER.exists() and any(Path(path).exists() for path in STATIC_LIBC)


def ensure_toolchain() -> None:
    """Install GCC and the static C library when missing (as root, with apt-get).

    Raises
    ------
    BuildError
        They are missing and cannot be installed here (the message names the
        command to run), or are still missing after the install.
    """
    if _have_toolchain():
        return
    # Imported here: the launcher imports this module for PROGRAM only.
    from baselayer.tools.system_deps import MissingDependency, install_packages

    try:
        install_packages(PACKAGES)
    except MissingDependency as exc:
        raise BuildError(f"The job init is built from C: {exc}") from exc
    if not _have_toolchain():
        raise BuildError(f"{COMPILER} or the static C library is still missing after apt-get")


def build(source: Path = SOURCE, program: Path = PROGRAM) -> Path:
    """Compile ``source`` into ``program``, atomically (a partial file, then renamed).

    Parameters
    ----------
    source : Path, optional
        ``job_init.c``.
    program : Path, optional
        Where the program goes (its directory is made if missing).

    Returns
    -------
    Path
        ``program``: mode 0755, owned by whoever builds.

    Raises
    ------
    BuildError
        No toolchain (``ensure_toolchain``), or the compiler failed (with its output).
    """
    ensure_toolchain()
    program.parent.mkdir(mode=0o755, exist_ok=True)
    partial = program.with_name(f".{program.name}.{os.getpid()}")
    result = subprocess.run(
        [str(COMPILER), *FLAGS, "-o", str(partial), str(source)],
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise BuildError(f"{COMPILER} could not build {source}:\n{result.stderr}")
    if result.stderr:
        print(result.stderr, file=sys.stderr)
    os.chmod(partial, 0o755)
    os.replace(partial, program)
    return program


def main() -> None:
    """Build the job init; exit 1 with the reason when it cannot be built."""
    try:
        print(f"Built the job init: {build()}")
    except BuildError as exc:
        sys.exit(str(exc))


if __name__ == "__main__":
    main()
