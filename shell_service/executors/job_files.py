"""A job's directory: what the executor writes there and reads back.

<jobs.dir>/<job id>/          root-owned, 0711; made and written by the job's init
    stdout, stderr            the job's output, copied from its pipes (0600)
    stdin                     what the job reads on standard input (if anything)
    attempt                   which attempt of the job made the directory
                              (``job_paths.ATTEMPT_FILE``; the log's follow reads it)
    wrapper.pid               the job init's pid and start time (for adopters)
    exit_status               the end record (JSON), written once every process ended
    work/                     the job's own: its cwd, holds ``script``;
                              owned by the job's user, 0700
"""

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ..job_paths import (  # noqa: F401 (re-exported: the executor's names for them)
    ATTEMPT_FILE,
    FALLBACK_ROOT,
    HIDDEN_FROM_JOBS,
    hidden_from_jobs,
    others_can_traverse,
    reachable_dir,
)
from ..utf8 import decode, whole_characters

log = logging.getLogger(__name__)


def write_attempt(root_fd: int, attempt: int, number: int) -> None:
    """Write ``ATTEMPT_FILE`` in a job's new directory.

    Parameters
    ----------
    root_fd : int
        The directory's descriptor (made by the service, root-owned, the job's
        files not in it yet).
    attempt : int
        1 first.
    number : int
        The job's ``jobs.number`` (``job_paths.attempt_in`` reads both).

    Raises
    ------
    OSError
        The file exists already or cannot be written.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(ATTEMPT_FILE, flags, 0o600, dir_fd=root_fd)
    try:
        os.write(fd, f"{int(attempt)}\n{int(number)}\n".encode())
    finally:
        os.close(fd)


def usable_dir(configured: Path, as_root: bool, kind: str) -> Path:
    """``job_paths.reachable_dir``, with the fallback's parents made when it is the fallback.

    The parents are root-owned 0711; the caller makes ``<kind>`` itself. Using the
    fallback is logged as a warning.

    Parameters
    ----------
    configured : Path
        The configured directory.
    as_root : bool
        Whether jobs run as their users' own accounts (the service runs as root).
    kind : str
        One word ("jobs", "homes", "tmp"): it names the fallback directory,
        ``<FALLBACK_ROOT>/<digest of configured>/<kind>``.

    Returns
    -------
    Path
        ``configured``, or the fallback when jobs could not reach ``configured``.
    """
    path = reachable_dir(configured, as_root, kind, FALLBACK_ROOT)
    if path == configured:
        return configured
    log.warning("Jobs cannot reach %s; it goes to %s instead", configured, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o711)
    FALLBACK_ROOT.chmod(0o711)
    return path


def usable_jobs_dir(configured: Path, as_root: bool) -> Path:
    """Where job directories go on this host.

    Parameters
    ----------
    configured : Path
        ``jobs.dir``.
    as_root : bool
        Whether jobs run as their users' own accounts.

    Returns
    -------
    Path
        ``configured``, unless jobs could not reach it (``usable_dir``): then a
        directory of its own under /var/lib/shell_service.
    """
    return usable_dir(configured, as_root, "jobs")


@dataclass(frozen=True)
class JobFiles:
    """The names of one job's files under its directory.

    The launcher and the init make them (``job_init``); this class reads them.

    Attributes
    ----------
    root : Path
        ``<jobs dir>/<job id>/``, root's 0711.
    work : Path
        ``work/``, the job's cwd (its user's; the script and stdin are in it).
    stdout, stderr : Path
    exit_status : Path
        The init's end record (JSON).
    wrapper_pid : Path
        ``wrapper.pid``: the init's pid and start time.
    """

    root: Path

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def stdout(self) -> Path:
        return self.root / "stdout"

    @property
    def stderr(self) -> Path:
        return self.root / "stderr"

    @property
    def exit_status(self) -> Path:
        return self.root / "exit_status"

    @property
    def wrapper_pid(self) -> Path:
        return self.root / "wrapper.pid"

    def read_end(self) -> dict | None:
        """The end record the job's init wrote.

        Returns
        -------
        dict or None
            ``code``: the exit code, 128 + N for signal N, or None; ``dropped``: the
            streams whose output passed jobs.max_log_bytes; ``out_of_memory``;
            ``timed_out`` when the init ended it at its deadline by itself;
            ``error`` when the service failed to start it; ``exec_error`` when the
            interpreter could not be run. None while the job runs (or when its init
            died without writing it, or the file is not a JSON object).
        """
        try:
            record = json.loads(self.exit_status.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def read_output(self, path: Path, limit: int) -> tuple[str, bool]:
        """The output file at ``path`` as text for the job row, and whether it had more.

        A longer file is cut on a UTF-8 character boundary (``utf8.whole_characters``),
        up to 3 bytes short of ``limit``, so the text kept is a true prefix of the
        whole output's. Invalid bytes become U+FFFD, and so do NUL bytes (PostgreSQL
        text cannot hold them). A missing file is empty.

        Parameters
        ----------
        path : Path
            ``stdout`` or ``stderr``.
        limit : int
            Most bytes kept (``jobs.max_output_bytes``).

        Returns
        -------
        tuple of (str, bool)
            ``(text, truncated)``.
        """
        try:
            with open(path, "rb") as f:
                data = f.read(limit + 1)
        except FileNotFoundError:
            return "", False
        more = len(data) > limit
        kept = whole_characters(data[:limit]) if more else data
        return decode(kept).replace("\x00", "\ufffd"), more
