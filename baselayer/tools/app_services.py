"""The app's own services (``services/<name>/``): which run in this stack, and the
hooks a service folder may hold for set-up, readiness and stop.

A service folder holds its ``supervisor.conf.tmpl`` and either a Python program
``<name>.py`` (supervisord runs ``python -m services.<name>.<name>``) or the
templates of system programs it runs (no code of ours: a code change does not
restart them). It may also hold ``hooks.py``, any of:

- ``system_commands(cfg) -> dict[str, str]``: command (a name on PATH or an
  absolute path) -> the Debian package that brings it; set-up installs the
  missing ones (without recommended packages).
- ``prepare(cfg, layout) -> dict``: make the service's files before supervisord
  (re)reads its programs; returns the values of its ``supervisor.conf.tmpl``
  beside the common ones. A ValueError stops ``make run`` with its message.
- ``commands(cfg, layout) -> list[list[str]]``: the exact command lines of its
  programs, so ``make stop`` ends them when they outlived supervisord.
- ``not_ready(cfg) -> str | None``: None once the service serves, else why not
  yet; ``make run`` waits for it (on a wall clock: the hook may itself take
  seconds) before it says the stack is up.

Config ``app.services_enabled_module`` names a module whose ``enabled(cfg, name)``
says which folders run in this stack; a disabled one is not rendered, installed,
prepared or waited for. None configured: every folder runs.
"""

import importlib
import re
from pathlib import Path
from types import ModuleType

from baselayer.app.config import Config

#: The app's own services: ``<root>/services/<name>/``.
APP_SERVICES_DIR = "services"
TEMPLATE = "supervisor.conf.tmpl"
HOOKS = "hooks"
PROGRAM_HEADER = re.compile(r"^\[program:([\w-]+)\]", re.MULTILINE)


def app_services(root: Path) -> list[str]:
    """The names of the app's own services (``services/<name>/supervisor.conf.tmpl``),
    enabled or not."""
    return sorted(path.parent.name for path in (root / APP_SERVICES_DIR).glob(f"*/{TEMPLATE}"))


def enabled_app_services(cfg: Config) -> list[str]:
    """The app's services that run in the stack ``cfg`` describes
    (``app.services_enabled_module``; none configured: all of them).

    Parameters
    ----------
    cfg : Config

    Returns
    -------
    list of str
        Their folders' names, sorted.
    """
    names = app_services(cfg.root)
    module_name = cfg.get("app.services_enabled_module")
    if not module_name:
        return names
    module = importlib.import_module(module_name)
    return [name for name in names if module.enabled(cfg, name)]


def runs_our_code(root: Path, name: str) -> bool:
    """Whether service ``name`` is a Python program of ours (``services/<name>/<name>.py``)."""
    return (root / APP_SERVICES_DIR / name / f"{name}.py").is_file()


def program_names(root: Path, name: str) -> list[str]:
    """The supervisor programs service ``name``'s template defines."""
    return PROGRAM_HEADER.findall((root / APP_SERVICES_DIR / name / TEMPLATE).read_text())


def foreign_programs(root: Path) -> set[str]:
    """The programs of the services that run no code of ours: a code change leaves
    them running."""
    return {
        program
        for name in app_services(root)
        if not runs_our_code(root, name)
        for program in program_names(root, name)
    }


def service_hooks(root: Path, name: str) -> ModuleType | None:
    """Service ``name``'s ``hooks.py`` module, None when it has none."""
    if not (root / APP_SERVICES_DIR / name / f"{HOOKS}.py").is_file():
        return None
    return importlib.import_module(f"{APP_SERVICES_DIR}.{name}.{HOOKS}")


def _hooks_with(cfg: Config, function: str, names: list[str] | None = None):
    for name in enabled_app_services(cfg) if names is None else names:
        hooks = service_hooks(cfg.root, name)
        if hooks is not None and hasattr(hooks, function):
            yield name, getattr(hooks, function)


def system_commands(cfg: Config) -> dict[str, str]:
    """Command -> Debian package, of every enabled service's ``system_commands`` hook."""
    commands: dict[str, str] = {}
    for _, hook in _hooks_with(cfg, "system_commands"):
        commands.update(hook(cfg))
    return commands


def prepare_services(cfg: Config, layout) -> dict[str, dict]:
    """Run every enabled service's ``prepare`` hook.

    Parameters
    ----------
    cfg : Config
    layout : StackLayout

    Returns
    -------
    dict
        Service name -> the extra values of its ``supervisor.conf.tmpl``.

    Raises
    ------
    ValueError
        A hook's, prefixed with the service's name.
    """
    values = {}
    for name, hook in _hooks_with(cfg, "prepare"):
        try:
            values[name] = dict(hook(cfg, layout))
        except ValueError as exc:
            raise ValueError(f"service {name}: {exc}") from exc
    return values


def service_commands(cfg: Config, layout) -> list[list[str]]:
    """The command lines of the programs of every service (enabled or not: one
    disabled since it started must still be stopped) that has a ``commands`` hook.

    Parameters
    ----------
    cfg : Config
    layout : StackLayout

    Returns
    -------
    list of list of str
    """
    return [
        argv
        for _, hook in _hooks_with(cfg, "commands", app_services(cfg.root))
        for argv in hook(cfg, layout)
    ]


def services_not_ready(cfg: Config) -> list[str]:
    """``<service>: <why>`` for each enabled service whose ``not_ready`` hook says
    it does not serve yet; empty when all do.

    Parameters
    ----------
    cfg : Config

    Returns
    -------
    list of str
    """
    waiting = []
    for name, hook in _hooks_with(cfg, "not_ready"):
        reason = hook(cfg)
        if reason:
            waiting.append(f"{name}: {reason}")
    return waiting
