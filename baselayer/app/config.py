"""Configuration: config.yaml.defaults, overridden by config.yaml, then by extra files."""

import os
from pathlib import Path

import yaml

#: Extra override files, colon-separated, for programs that cannot take --config.
CONFIG_ENV = "BASELAYER_CONFIG"


class Config(dict):
    """A nested dict with dotted lookups: ``cfg["server.port"]`` or ``cfg["server"]["port"]``.

    Parameters
    ----------
    data : dict
        The merged configuration.
    root : Path
        The project root, against which ``path`` resolves relative paths.

    Attributes
    ----------
    root : Path
    files : list of Path
        The files it was read from, in the order applied (``load_config``).

    Raises
    ------
    KeyError
        On lookup (``cfg[key]``) of a missing key, or a section on a dotted key's way.
    """

    def __init__(self, data: dict, root: Path):
        super().__init__(data)
        self.root = root
        self.files: list[Path] = []

    def __getitem__(self, key):
        if isinstance(key, str) and "." in key:
            value = self
            for part in key.split("."):
                value = dict.__getitem__(value, part)
            return value
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        """``self[key]``, or ``default`` when the key or a section on its way is missing.

        Parameters
        ----------
        key : str
            A key; a dotted one reaches into sections.
        default : optional

        Returns
        -------
        object
            The value (a nested section is a plain dict).
        """
        try:
            return self[key]
        except KeyError:
            return default

    def path(self, key) -> Path:
        """A configured path, resolved against the project root.

        Parameters
        ----------
        key : str
            A (dotted) key whose value is a path, absolute or relative to ``root``.

        Returns
        -------
        Path
            Absolute, symlinks resolved.

        Raises
        ------
        KeyError
            The key is not configured.
        """
        return (self.root / self[key]).resolve()


def _merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config(root: Path | str | None = None, extra_files=()) -> Config:
    """Read the project's configuration.

    Parameters
    ----------
    root : path, optional
        Project root holding ``config.yaml.defaults``; the current directory by default.
    extra_files : list of paths
        Overrides applied after ``config.yaml``, in order (relative ones against
        ``root``); ``$BASELAYER_CONFIG`` (colon-separated) adds more after them.

    Returns
    -------
    Config
        ``config.yaml.defaults`` merged with each override in turn (sections merge
        key by key; any other value replaces).

    Raises
    ------
    FileNotFoundError
        ``config.yaml.defaults`` or a named override file is missing.
    """
    root = Path(root or os.getcwd()).resolve()
    files = [root / "config.yaml.defaults"]
    if (root / "config.yaml").exists():
        files.append(root / "config.yaml")
    files += [Path(f) for f in extra_files]
    files += [Path(f) for f in os.environ.get(CONFIG_ENV, "").split(":") if f]

    data: dict = {}
    for file in files:
        file = file if file.is_absolute() else root / file
        with open(file) as f:
            data = _merge(data, yaml.safe_load(f) or {})
    cfg = Config(data, root)
    cfg.files = [f if f.is_absolute() else root / f for f in files]
    return cfg
