"""Which code and config a running stack runs, so ``make run`` after an update or
a config change restarts it.

supervisord keeps the programs it started: after ``git pull`` (or any edit),
``make run`` on a stack that is up would rerun the migrations and leave the app
workers and the executor on the old code. The stack records a digest of the
code when it starts its programs; a later ``make run`` that finds another
digest restarts them, one at a time (``stack.restart_programs_on_new_code``).
"""

import hashlib
from collections.abc import Iterable
from pathlib import Path

from baselayer.app.config import Config

CODE_SUFFIXES = {".py", ".sh", ".tmpl", ".ini", ".mako"}


def code_digest(root: Path, code_dirs: Iterable[str], config_files: Iterable[Path] = ()) -> str:
    """A digest of every code file (path and content) under ``code_dirs``, and of
    ``config_files`` (the config the programs read at their start: a change to
    ``config.yaml`` must reach them too).

    Parameters
    ----------
    root : Path
        The project root.
    code_dirs : iterable of str
        Directories under ``root`` whose files the supervised programs run
        (``app.code_dirs``); one that does not exist adds nothing.
    config_files : iterable of Path
        The config files the programs read.

    Returns
    -------
    str
        The SHA-256 digest, in hex.
    """
    digest = hashlib.sha256()
    for directory in code_dirs:
        for path in sorted((root / directory).rglob("*")):
            if path.suffix in CODE_SUFFIXES and path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode() + b"\0")
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    for name in ("requirements.txt", "alembic.ini"):
        if (root / name).is_file():
            digest.update(name.encode() + b"\0" + (root / name).read_bytes())
    for path in config_files:
        if Path(path).is_file():
            digest.update(str(path).encode() + b"\0" + Path(path).read_bytes())
    return digest.hexdigest()


def stack_code_digest(cfg: Config) -> str:
    """``code_digest`` of the code (``app.code_dirs``) and config files ``cfg`` names."""
    return code_digest(cfg.root, cfg["app.code_dirs"], cfg.files)


def recorded_digest(run_dir: Path) -> str | None:
    try:
        return (run_dir / "code.sha256").read_text().strip()
    except FileNotFoundError:
        return None


def record_digest(run_dir: Path, digest: str) -> None:
    (run_dir / "code.sha256").write_text(digest + "\n")
