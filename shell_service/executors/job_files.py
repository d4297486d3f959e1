"""A job's directory: what the executor writes there and reads back.

<jobs.dir>/<job id>/          root-owned, 0711; made and written by the job's init
    stdout, stderr            the job's output, copied from its pipes (0600)
    stdin                     what the job reads on standard input (if anything)
    wrapper.pid               the job init's pid and start time (for adopters)
    exit_status               the end record (JSON), written once every process ended
    work/                     the job's own: its cwd, holds ``script``;
                              owned by the job's user, 0700
"""

import hashlib
import json
import logging
import stat
from dataclasses import dataclass
from pathlib import Path

from ..utf8 import decode, whole_characters

log = logging.getLogger(__name__)

#: Where job directories go when the configured place is not reachable by job users.
FALLBACK_ROOT = Path("/var/lib/shell_service")


def others_can_traverse(path: Path) -> bool:
    """Whether a user with no rights but "others" can walk down to ``path``."""
    for directory in [path, *path.parents]:
        if directory.exists() and not directory.stat().st_mode & stat.S_IXOTH:
            return False
    return True


#: Directories a job sees replaced by its own (``job_init.c``, private_namespaces): job
#: directories, homes and tmp dirs under them would be out of a job's sight.
HIDDEN_FROM_JOBS = (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), Path("/run/lock"))


def hidden_from_jobs(path: Path) -> bool:
    """Whether ``path`` lies under a directory jobs see replaced by their own."""
    resolved = path.resolve()
    return any(resolved.is_relative_to(hidden.resolve()) for hidden in HIDDEN_FROM_JOBS)


def usable_dir(configured: Path, as_root: bool, kind: str) -> Path:
    """``configured``, unless job users could not walk down to it (a project under a
    0700 home, say) or their jobs would not see it (a project under /tmp, whose
    jobs get their user's own /tmp): then ``/var/lib/shell_service/<digest>/<kind>``,
    the digest being that of ``configured`` (so each configured place gets its
    own). Only the fallback's parents are made here (root-owned, 0711); the caller
    makes ``<kind>`` itself.

    ``kind`` is one word ("jobs", "homes", "tmp"): it names the fallback directory."""
    if not as_root or (others_can_traverse(configured) and not hidden_from_jobs(configured)):
        return configured
    digest = hashlib.sha256(str(configured).encode()).hexdigest()[:12]
    fallback = FALLBACK_ROOT / digest / kind
    log.warning("Jobs cannot reach %s; it goes to %s instead", configured, fallback)
    fallback.parent.mkdir(parents=True, exist_ok=True)
    fallback.parent.chmod(0o711)
    FALLBACK_ROOT.chmod(0o711)
    return fallback


def usable_jobs_dir(configured: Path, as_root: bool) -> Path:
    """``configured``, unless jobs could not reach it (``usable_dir``): then a
    directory of its own under /var/lib/shell_service."""
    return usable_dir(configured, as_root, "jobs")


@dataclass(frozen=True)
class JobFiles:
    """The names of one job's files under its directory ``root``
    (``<jobs dir>/<job id>/``, root's 0711): ``work/`` (the job's cwd, its
    user's), ``work/script``, ``stdin``, ``stdout``, ``stderr``, ``exit_status``
    (the init's end record) and ``wrapper.pid`` (the init's pid and start time).
    The launcher and the init make them (``job_init``); this class reads them."""

    root: Path

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def script(self) -> Path:
        return self.work / "script"

    @property
    def stdout(self) -> Path:
        return self.root / "stdout"

    @property
    def stderr(self) -> Path:
        return self.root / "stderr"

    @property
    def stdin(self) -> Path:
        return self.root / "stdin"

    @property
    def exit_status(self) -> Path:
        return self.root / "exit_status"

    @property
    def wrapper_pid(self) -> Path:
        return self.root / "wrapper.pid"

    def read_end(self) -> dict | None:
        """The end record the job's init wrote (``code``: the exit code, 128 + N for
        signal N, or None; ``dropped``: the streams whose output passed
        jobs.max_log_bytes; ``out_of_memory``; ``timed_out`` when the init ended it at
        its deadline by itself; ``error`` when the service failed to
        start it; ``exec_error`` when the interpreter could not be run), or None
        while the job runs (or when its init died without writing it)."""
        try:
            record = json.loads(self.exit_status.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def read_output(self, path: Path, limit: int) -> tuple[str, bool]:
        """The output file at ``path`` as text for the job row, and whether it had more.

        ``limit``: most bytes kept (``jobs.max_output_bytes``). A longer file is cut
        on a UTF-8 character boundary (``utf8.whole_characters``), up to 3 bytes
        short of ``limit``, so the text kept is a true prefix of the whole
        output's. Invalid bytes become U+FFFD, and so do NUL bytes (PostgreSQL
        text cannot hold them). A missing file is empty."""
        try:
            with open(path, "rb") as f:
                data = f.read(limit + 1)
        except FileNotFoundError:
            return "", False
        more = len(data) > limit
        kept = whole_characters(data[:limit]) if more else data
        return decode(kept).replace("\x00", "\ufffd"), more
