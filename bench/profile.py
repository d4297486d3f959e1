"""Profiling app workers with py-spy while a scenario runs (``make bench BENCH_ARGS=--profile``).

    .venv/bin/python -m bench.profile run/bench/profiles/scenario_2_*.txt

py-spy samples each worker 100 times a second (``--nonblocking``: the worker
never pauses) and writes collapsed stacks (``-f raw``). The summary names the
functions that hold the most samples, by self time and including callees,
as a share of all the workers' samples. By default a sample blocked in a
PostgreSQL call counts (the event loop can do nothing else meanwhile: wall
time); with ``gil_only`` (``--profile gil``) only samples holding the GIL do,
which is close to CPU time.
"""

import argparse
import os
import re
import signal
import subprocess
from collections import Counter
from pathlib import Path

PY_SPY = Path(".venv/bin/py-spy")
#: "function (file:line)": the line number is dropped, so a function is one entry.
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*?)(?::\d+)?\)$")


#: The app's steps worth a line of their own in a summary (inclusive share): a
#: name that no longer exists simply drops out.
KEY_FUNCTIONS = {
    "authenticate (user_for_header)": "user_for_header",
    "create a job (JobHandler.post)": "JobHandler.post",
    "list or read jobs (JobHandler.get)": "JobHandler.get",
    "health (SysinfoHandler.get)": "SysinfoHandler.get",
    "claim (claim_jobs)": "claim_jobs",
    "launch request (HostSetup.job_launch)": "HostSetup.job_launch",
    "hand the job to the launcher (LauncherClient.launch)": "LauncherClient.launch",
    "record the end (LocalExecutor._record_end)": "LocalExecutor._record_end",
    "finish in the database (finish_job)": "finish_job",
    "ORM flush (Session.flush)": "Session.flush",
    "pool pre-ping (do_ping)": "_PGDialect_common_psycopg.do_ping",
    "waiting on PostgreSQL (do_execute, self)": "DefaultDialect.do_execute",
    "serialize (Schema.dump)": "Schema.dump",
    "log lines (StreamHandler.emit)": "StreamHandler.emit",
}


class Recorder:
    """py-spy record on every given pid until ``stop()``."""

    def __init__(self, pids: list[int], out_dir: Path, name: str, gil_only: bool = False):
        self.files = [out_dir / f"{name}_{pid}.txt" for pid in pids]
        out_dir.mkdir(parents=True, exist_ok=True)
        self.processes = [
            subprocess.Popen(
                [str(PY_SPY), "record", "--nonblocking", "-f", "raw", "-r", "100"]
                + (["--gil"] if gil_only else [])
                + ["-p", str(pid), "-o", str(path)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for pid, path in zip(pids, self.files, strict=True)
        ]

    def stop(self) -> list[Path]:
        """End the recordings (py-spy writes its file on SIGINT); the files written."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return [path for path in self.files if path.exists()]


def short_frame(frame: str) -> str:
    match = FRAME.match(frame)
    if not match:
        return frame
    return f"{match['function']} ({match['file']})"


def read_stacks(paths: list[Path]) -> Counter:
    """Collapsed stacks (tuple of frames, root first) -> samples, over all files."""
    stacks: Counter = Counter()
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                stacks[tuple(short_frame(f) for f in stack.split(";"))] += int(count)
    return stacks


def summarize(paths: list[Path], top: int = 15) -> dict:
    """The functions with the most samples, self and inclusive, as % of all samples.

    Returns
    -------
    dict
        ``{"samples", "self": [[function, percent], ...], "inclusive": [...]}``.
    """
    stacks = read_stacks(paths)
    total = sum(stacks.values())
    own: Counter = Counter()
    inclusive: Counter = Counter()
    for stack, count in stacks.items():
        own[stack[-1]] += count
        for frame in set(stack):
            inclusive[frame] += count

    def ranked(counter):
        return [[name, round(100 * n / total, 1)] for name, n in counter.most_common(top)]

    if not total:
        return {"samples": 0, "self": [], "inclusive": [], "steps": []}
    by_function: Counter = Counter()
    for frame, n in inclusive.items():
        by_function[frame.rpartition(" (")[0]] += n
    # do_execute's own samples: the time spent waiting on the server, not below it.
    by_function["DefaultDialect.do_execute"] = sum(
        n for frame, n in own.items() if frame.startswith("DefaultDialect.do_execute ")
    )
    steps = [
        [label, round(100 * by_function[function] / total, 1)]
        for label, function in KEY_FUNCTIONS.items()
        if by_function[function]
    ]
    return {
        "samples": total,
        "steps": sorted(steps, key=lambda step: -step[1]),
        "self": ranked(own),
        "inclusive": ranked(inclusive),
    }


def format_summary(summary: dict) -> str:
    lines = [f"{summary['samples']} samples"]
    for kind in ("steps", "self", "inclusive"):
        lines.append(f"  top {kind}:")
        lines += [f"    {percent:5.1f}%  {name}" for name, percent in summary[kind]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    print(format_summary(summarize(args.files, args.top)))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
