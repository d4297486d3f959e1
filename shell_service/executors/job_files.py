"""A job's directory: what the executor writes there and reads back.

<jobs.dir>/<job id>/          root-owned, 0711: the wrapper's files
    stdout, stderr            the job's output (0600, opened for it by the worker)
    stdin                     what the job reads on standard input
    wrapper.pid, exit_status  written by the wrapper
    work/                     the job's own: cwd and HOME, holds ``script``;
                              owned by the job's uid, 0700
"""

import os
import shutil
from dataclasses import dataclass
from pathlib import Path


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
        """A clean directory holding the script, owned by the job's uid when given."""
        if self.root.exists():
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True, mode=0o711)
        os.chmod(self.root, 0o711)
        self.work.mkdir(mode=0o700)
        self.script.write_text(code)
        self.stdin.write_text(stdin or "")
        for path in (self.stdout, self.stderr, self.stdin):
            path.touch()
            os.chmod(path, 0o600)
        if uid is not None:
            for path in (self.work, self.script):
                os.chown(path, uid, uid)

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
        """The first ``limit`` bytes as text, and whether there was more."""
        try:
            with open(path, "rb") as f:
                data = f.read(limit + 1)
        except FileNotFoundError:
            return "", False
        # PostgreSQL text cannot hold NUL bytes.
        text = data[:limit].decode("utf-8", "replace").replace("\x00", "\ufffd")
        return text, len(data) > limit

    def size(self, path: Path) -> int:
        try:
            return path.stat().st_size
        except FileNotFoundError:
            return 0
