"""The version string every response carries: the package version and the git hash."""

import subprocess
from pathlib import Path


def version_with_git(version: str, root: Path) -> str:
    """The version with the checkout's git hash.

    Parameters
    ----------
    version : str
        The package version, e.g. ``0.1.0``.
    root : Path
        The project root.

    Returns
    -------
    str
        ``0.1.0+g1a2b3c4`` inside a git checkout, else the bare version (also when
        git is missing or takes over 5 s).
    """
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version}+g{sha}" if sha else version
