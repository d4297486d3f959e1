"""The outside programs the benchmarks use: wrk (load) and webhook (the peer)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

#: Command -> the Debian package that brings it.
PACKAGES = {"wrk": "wrk", "webhook": "webhook"}
WRK_SCRIPT = Path(__file__).with_name("wrk") / "request.lua"


class BenchError(Exception):
    """The benchmark cannot go on (a missing tool, a service that did not start)."""


def ensure_commands(names=tuple(PACKAGES)) -> None:
    """Install the missing commands with apt-get when we are root; otherwise name them.

    Raises
    ------
    BenchError
    """
    missing = [name for name in names if not shutil.which(name)]
    if not missing:
        return
    packages = sorted({PACKAGES[name] for name in missing})
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise BenchError(
            f"missing {', '.join(missing)}: sudo apt-get install -y {' '.join(packages)}"
        )
    print(f"Installing {' '.join(packages)} with apt-get", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True)
        result = subprocess.run(install, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise BenchError(f"apt-get install {' '.join(packages)} failed:\n{result.stderr}")


def run_wrk(
    url: str,
    *,
    connections: int,
    seconds: float,
    threads: int = 2,
    method: str = "GET",
    body: str | None = None,
    token: str | None = None,
) -> dict:
    """Load ``url`` with wrk for ``seconds``; requests/s and latency percentiles.

    Returns
    -------
    dict
        wrk's summary (see ``wrk/request.lua``) plus ``per_second``, ``p50_ms``,
        ``p99_ms``, ``non_2xx`` and the ``command``.
    """
    threads = min(threads, connections)
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "10s",
        "-s",
        str(WRK_SCRIPT),
        url,
    ]
    env = {**os.environ, "BENCH_METHOD": method, "BENCH_BODY": body or "", "BENCH_TOKEN": ""}
    if token:
        env["BENCH_TOKEN"] = token
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    lines = [line for line in result.stdout.splitlines() if line.startswith("BENCH_RESULT ")]
    if result.returncode != 0 or not lines:
        raise BenchError(f"wrk failed ({result.returncode}): {result.stdout}{result.stderr}")
    summary = json.loads(lines[-1].removeprefix("BENCH_RESULT "))
    duration = summary["duration_us"] / 1e6
    errors = summary["errors"]
    return {
        **summary,
        "per_second": round(summary["requests"] / duration, 1),
        "p50_ms": round(summary["p50_us"] / 1000, 2),
        "p90_ms": round(summary["p90_us"] / 1000, 2),
        "p99_ms": round(summary["p99_us"] / 1000, 2),
        "non_2xx": errors["status"],
        "socket_errors": errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        "command": " ".join(command[:-3] + ["bench/wrk/request.lua", url]),
    }
