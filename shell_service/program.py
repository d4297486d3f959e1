"""How each of the app's supervised programs starts (``services/<name>/``): its
``--run-dir`` argument, one-line logging, the config checked, and (for those
that use the database) the wait for its migrations. One function each, so the
programs start the same way and a new check reaches all of them."""

import argparse
from pathlib import Path

from sqlalchemy import Engine

from baselayer.app import logs
from baselayer.app.config import Config, load_config
from baselayer.app.database import make_engine
from baselayer.app.migrated import wait_for_migrated_database

from . import config_check


def checked_config() -> Config:
    """The config, checked (``config_check.check``).

    Raises
    ------
    SystemExit
        With the check's message (supervisor's log shows it).
    """
    cfg = load_config()
    try:
        config_check.check(cfg)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    return cfg


def start_program(label: str, description: str | None, argv=None) -> Config:
    """Parse ``--run-dir RUN_DIR``, log as ``label`` (``logs.configure``), and
    return the checked config.

    Parameters
    ----------
    label : str
        The program's name in its log lines (``[scheduler]``).
    description : str or None
        ``--help``'s text (the program's docstring).
    argv : list of str, optional
        The arguments (default: the command line's).

    Returns
    -------
    Config

    Raises
    ------
    SystemExit
        ``--run-dir`` is not the config's run directory (supervisor started the
        program from another stack's config), or the config does not pass its
        checks.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--run-dir", type=Path, required=True, help="the stack's run directory (from config)"
    )
    args = parser.parse_args(argv)
    logs.configure(label)
    cfg = checked_config()
    if args.run_dir.resolve() != cfg.path("app.run_dir").resolve():
        raise SystemExit(f"--run-dir {args.run_dir} is not this config's {cfg['app.run_dir']}")
    return cfg


def migrated_engine(cfg: Config) -> Engine:
    """An engine on the database, once every migration branch has run
    (``wait_for_migrated_database``)."""
    engine = make_engine(cfg)
    wait_for_migrated_database(cfg, engine)
    return engine
