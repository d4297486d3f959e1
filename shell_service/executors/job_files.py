"""A job's directory: what the executor writes there and reads back.

<jobs.dir>/<job id>/          root-owned, 0711: the wrapper's files
    stdout, stderr            the job's output (0600, opened for it by the worker)
    stdin                     what the job reads on standard input (if anything)
    wrapper.pid, exit_status  written by the wrapper
    work/                     the job's own: cwd and HOME, holds ``script``;
                              owned by the job's uid, 0700
"""

import hashlib
import logging
import os
import shutil
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


def usable_jobs_dir(configured: Path, per_job_uid: bool) -> Path:
    """``configured``, unless job users could not reach it (a project under a 0700
    home, say): then a directory of its own under /var/lib/shell_service."""
    if not per_job_uid or others_can_traverse(configured):
        return configured
    digest = hashlib.sha256(str(configured).encode()).hexdigest()[:12]
    fallback = FALLBACK_ROOT / digest / "jobs"
    log.warning("Job users cannot reach %s; job directories go to %s", configured, fallback)
    fallback.parent.mkdir(parents=True, exist_ok=True)
    fallback.parent.chmod(0o711)
    FALLBACK_ROOT.chmod(0o711)
    return fallback


def write_private(path: Path, data: bytes) -> None:
    """``data`` into a new file of mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


@dataclass(frozen=True)
class JobFiles:
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

    def prepare(self, code: str, stdin: str | None, uid: int | None) -> None:
        """A clean directory holding the script (and stdin, if any), owned by the
        job's uid when given. stdout and stderr are made when the job starts.

        Each file made costs a few hundred microseconds on our disks, so only
        what the job needs is made (no stdin file for a job without stdin)."""
        try:
            self.root.mkdir(parents=True, mode=0o711)
        except FileExistsError:  # a rerun under the same id: start clean
            shutil.rmtree(self.root)
            self.root.mkdir(mode=0o711)
        os.chmod(self.root, 0o711)  # whatever the umask
        self.work.mkdir(mode=0o700)
        self.script.write_text(code)
        if stdin:
            write_private(self.stdin, stdin.encode())
        if uid is not None:
            for path in (self.work, self.script):
                os.chown(path, uid, uid)

    def open_output(self, path: Path) -> int:
        """A new, empty output file only root (and the wrapper) can read: its fd."""
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)

    def read_exit_status(self) -> int | None:
        try:
            return int(self.exit_status.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def read_wrapper_pid(self) -> int | None:
        try:
            return int(self.wrapper_pid.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

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

    def size(self, path: Path) -> int:
        try:
            return path.stat().st_size
        except FileNotFoundError:
            return 0
