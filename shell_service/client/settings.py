"""Where the client's server URL and token come from: flags, then environment
variables, then ``.tokens.yaml`` in the current directory (and a default URL)."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import ClientError, ExitCode

DEFAULT_URL = "http://127.0.0.1:5000"
URL_ENV = "SHELL_SERVICE_URL"
TOKEN_ENV = "SHELL_SERVICE_TOKEN"
RETRY_ENV = "SHELL_SERVICE_RETRY"
#: Seconds the client keeps trying a call the service cannot answer now (503,
#: no connection) before it gives up.
DEFAULT_RETRY_SECONDS = 60.0
#: Written by the service on first start (``app.tokens_file``), in the project directory.
TOKENS_FILE = ".tokens.yaml"
TOKENS_FILE_KEY = "INITIAL_ADMIN"


@dataclass(frozen=True)
class Settings:
    """How to reach the service.

    Attributes
    ----------
    url
        Base URL, without a trailing slash.
    token
        The API token, or None when none was found.
    token_source
        Where the token came from, for error messages (``--token``,
        ``$SHELL_SERVICE_TOKEN``, the tokens file), or None.
    retry_seconds
        How long, in seconds, to keep retrying a call the service answers with
        503 or that cannot connect (0: never retry).
    """

    url: str
    token: str | None
    token_source: str | None
    retry_seconds: float = DEFAULT_RETRY_SECONDS


def resolve_url(flag: str | None, environ: Mapping[str, str]) -> str:
    """The server URL: ``--url``, else ``$SHELL_SERVICE_URL``, else the default.

    Parameters
    ----------
    flag
        The ``--url`` value, or None.
    environ
        The environment variables.

    Returns
    -------
    str
        The URL without a trailing slash.

    Raises
    ------
    ClientError
        The URL is not http(s).
    """
    url = flag or environ.get(URL_ENV) or DEFAULT_URL
    if not url.startswith(("http://", "https://")):
        raise ClientError(f"the URL must start with http:// or https://: {url!r}", ExitCode.USAGE)
    return url.rstrip("/")


def read_tokens_file(path: Path) -> str | None:
    """The ``INITIAL_ADMIN`` token in a tokens file; None when there is no file or key.

    Raises
    ------
    ClientError
        The file exists but cannot be read or parsed.
    """
    try:
        with open(path) as f:
            content = yaml.safe_load(f)
    except FileNotFoundError:
        return None
    except (OSError, yaml.YAMLError) as exc:
        raise ClientError(f"cannot read the token from {path}: {exc}")
    if isinstance(content, dict) and content.get(TOKENS_FILE_KEY):
        return str(content[TOKENS_FILE_KEY])
    return None


def resolve_retry(flag: str | float | None, environ: Mapping[str, str]) -> float:
    """Seconds to keep retrying: ``--retry``, else ``$SHELL_SERVICE_RETRY``, else
    DEFAULT_RETRY_SECONDS.

    Raises
    ------
    ClientError
        The value is not a number of seconds of at least 0.
    """
    value = flag if flag is not None else environ.get(RETRY_ENV) or DEFAULT_RETRY_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise ClientError(
            f"the retry time must be a number of seconds, 0 or more: {value!r}", ExitCode.USAGE
        )
    return seconds


def resolve_token(
    flag: str | None, environ: Mapping[str, str], cwd: Path
) -> tuple[str | None, str | None]:
    """The token and where it came from: ``--token``, ``$SHELL_SERVICE_TOKEN``, then
    ``INITIAL_ADMIN`` in ``cwd/.tokens.yaml``; ``(None, None)`` when none is set.

    Parameters
    ----------
    flag
        The ``--token`` value, or None.
    environ
        The environment variables; an empty variable counts as unset.
    cwd
        The directory to look for ``.tokens.yaml`` in.
    """
    if flag:
        return flag, "--token"
    if environ.get(TOKEN_ENV):
        return environ[TOKEN_ENV], f"${TOKEN_ENV}"
    path = cwd / TOKENS_FILE
    token = read_tokens_file(path)
    return (token, str(path)) if token else (None, None)


def resolve_settings(
    url_flag: str | None,
    token_flag: str | None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    retry_flag: str | float | None = None,
) -> Settings:
    """Settings from the flags, the environment and the current directory.

    Parameters
    ----------
    url_flag, token_flag
        ``--url`` and ``--token``, or None.
    environ
        The environment (default ``os.environ``).
    cwd
        Where to look for ``.tokens.yaml`` (default the current directory).
    retry_flag
        ``--retry`` (seconds), or None.

    Raises
    ------
    ClientError
        A bad URL or retry time, or an unreadable tokens file.
    """
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    token, source = resolve_token(token_flag, environ, cwd)
    retry = resolve_retry(retry_flag, environ)
    return Settings(resolve_url(url_flag, environ), token, source, retry)
