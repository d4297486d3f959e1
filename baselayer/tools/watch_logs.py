"""``make log``: follow every ``<log_dir>/*.log``, each line labelled ``[service]``.

Files that appear later (a new worker, a first request) are followed too, and
a rotated or truncated file is read again from its start. Stdlib only.
"""

import os
import sys
import time
from pathlib import Path

POLL_SECONDS = 0.2
#: Lines shown from each file that already exists when we start, like tail -f.
INITIAL_LINES = 10
COLOURS = ("36", "32", "33", "35", "34", "91", "92", "93", "95", "96", "94", "31")


def last_lines(path: Path, count: int) -> list[str]:
    """The last ``count`` lines of ``path`` (reads at most its last 64 KiB)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 65536))
        data = f.read()
    return data.decode("utf-8", "replace").splitlines()[-count:]


def print_log_tails(log_dir: Path, count: int = 25, out=sys.stdout) -> None:
    """Print the last ``count`` lines of every log in ``log_dir`` (e.g. when a start fails)."""
    for path in sorted(log_dir.glob("*.log")):
        print(f"==> {path} <==", file=out)
        for line in last_lines(path, count):
            print(f"    {line}", file=out)
    out.flush()


class FollowedLog:
    """One log file being followed: remembers where we stopped and its identity."""

    def __init__(self, path: Path, label: str, from_end: bool):
        self.path = path
        self.label = label
        self.file = open(path, "rb")
        self.inode = os.fstat(self.file.fileno()).st_ino
        self.partial = b""
        if from_end:
            self.file.seek(0, os.SEEK_END)

    def _reopen_if_replaced(self) -> bool:
        """Whether the path now names another file (rotated) or ours shrank (truncated)."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return False
        if stat.st_ino != self.inode:
            self.file.close()
            self.file = open(self.path, "rb")
            self.inode = stat.st_ino
            return True
        if stat.st_size < self.file.tell():
            self.file.seek(0)
            return True
        return False

    def new_lines(self) -> list[str]:
        """Complete lines written since the last call."""
        # Finish the old file first: lines written just before a rotation count too.
        data = self.partial + self.file.read()
        if self._reopen_if_replaced():
            data += self.file.read()
        *lines, self.partial = data.split(b"\n")
        return [line.decode("utf-8", "replace") for line in lines]


def label_for(path: Path, colour_index: int, use_colour: bool) -> str:
    label = f"[{path.stem}]"
    if use_colour:
        return f"\033[{COLOURS[colour_index % len(COLOURS)]}m{label}\033[0m"
    return label


def follow(log_dir: Path, out=sys.stdout) -> None:
    """Follow every ``*.log`` in ``log_dir`` until interrupted."""
    use_colour = out.isatty()
    followed: dict[Path, FollowedLog] = {}
    first_scan = True
    while True:
        for path in sorted(log_dir.glob("*.log")):
            if path in followed:
                continue
            label = label_for(path, len(followed), use_colour)
            try:
                followed[path] = FollowedLog(path, label, from_end=first_scan)
            except FileNotFoundError:
                continue
            if first_scan:
                for line in last_lines(path, INITIAL_LINES):
                    print(f"{label} {line}", file=out)
        first_scan = False
        for log in followed.values():
            for line in log.new_lines():
                print(f"{log.label} {line}", file=out)
        out.flush()
        time.sleep(POLL_SECONDS)


def main() -> None:
    from baselayer.app.config import load_config

    log_dir = load_config().path("app.log_dir")
    print(f"Following {log_dir}/*.log (Ctrl-C to stop)", flush=True)
    try:
        follow(log_dir)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        # e.g. `make log | head`: stop quietly, and keep Python from complaining at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(0)


if __name__ == "__main__":
    main()
