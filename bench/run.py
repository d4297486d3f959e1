"""``make bench``: every scenario of issue 5 and its ceilings, in one run.

    .venv/bin/python -m bench.run [--profile [wall|gil]] [--quick] [--only ceilings,1,2,...]

Starts a bench stack of its own (``bench/config.bench.yaml``; made fresh each
run), measures the ceilings (bare launch, HTTP, the webhook peer), the isolated
launch floor and the six scenarios, stops everything it started (also on
failure or Ctrl-C), prints the table, and writes ``bench/results/latest.json``
and ``BENCHMARKS.md``. With ``--quick`` or ``--only`` the results go to
``run/bench-results.json`` instead, so the committed figures are always those
of a full run.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path

import yaml

from baselayer.app.config import CONFIG_ENV, load_config
from baselayer.tools.layout import stack_layout
from baselayer.tools.readiness import base_url
from shell_service.executors.accounts import remove_stack_accounts
from shell_service.executors.job_files import usable_jobs_dir

from . import machine, report, scenarios, schedules, slurm_queue, ui_pages, workflows
from .tools import BenchError, ensure_commands

ROOT = Path(__file__).resolve().parent.parent
# BENCH_CONFIG_OVERLAY (a file's path) is laid over it: another port, database and
# accounts for a second bench stack on the same host.
BENCH_CONFIG = "bench/config.bench.yaml" + (
    f":{os.environ['BENCH_CONFIG_OVERLAY']}" if os.environ.get("BENCH_CONFIG_OVERLAY") else ""
)
RESULTS = ROOT / "bench" / "results" / "latest.json"
PARTIAL_RESULTS = ROOT / "run" / "bench-results.json"
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
STACK = [sys.executable, "-m", "baselayer.tools.stack"]

#: Every step, in the order it runs: (key in --only, where its result goes, function).
#: History comes last: its million rows would slow every other scenario's health polls.
STEPS = [
    ("ceilings", ("ceilings", "launch"), scenarios.launch_ceilings),
    ("ceilings", ("ceilings", "http"), scenarios.http_ceiling_rate),
    ("ceilings", ("ceilings", "webhook"), scenarios.webhook_rate),
    ("6", ("scenarios", "6", "idle"), scenarios.idle_rss),
    ("1", ("scenarios", "1"), scenarios.submit_rate),
    ("2", ("scenarios", "2"), scenarios.burst),
    ("3", ("scenarios", "3"), scenarios.round_trip),
    ("6", ("scenarios", "6", "big_output"), scenarios.big_output),
    ("cancel", ("extra", "cancel"), scenarios.cancel_latency),
    ("5", ("scenarios", "5"), scenarios.many_at_once),
    ("4", ("scenarios", "4"), scenarios.history),
    ("depth", ("extra", "depth"), scenarios.queue_depth),
    ("hosts", ("extra", "hosts"), scenarios.two_hosts),
    ("slurm", ("extra", "slurm"), slurm_queue.slurm_overhead),
    ("schedules", ("extra", "schedules"), schedules.schedules_at_scale),
    ("workflows", ("extra", "workflows"), workflows.workflows),
    # Its million rows stay: last.
    ("ui", ("extra", "ui"), ui_pages.ui_pages),
]


def stack_command(command: str) -> None:
    env = {**os.environ, CONFIG_ENV: BENCH_CONFIG}
    result = subprocess.run([*STACK, command], cwd=ROOT, env=env)
    if result.returncode != 0:
        raise BenchError(f"stack {command} failed ({result.returncode}); see log/bench/")


def wipe(path: Path) -> None:
    """Remove ``path`` (and what it links to: the cluster may live under /var/lib)."""
    if path.is_symlink():
        target = path.resolve()
        path.unlink()
        shutil.rmtree(target, ignore_errors=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def fresh_stack_dirs(cfg, jobs_dir: Path) -> None:
    """A stopped bench stack's run and log dirs, cluster and job dirs, removed."""
    layout = stack_layout(cfg)
    wipe(layout.pgdata)
    wipe(jobs_dir)
    wipe(layout.run_dir)
    wipe(layout.log_dir)
    shutil.rmtree(layout.system_state_dir, ignore_errors=True)


def busy_ports(ports: list[int]) -> list[int]:
    """Those of ``ports`` that something on 127.0.0.1 accepts connections on."""
    busy = []
    for port in ports:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                busy.append(port)
    return busy


def wait_for_free_ports(cfg, timeout: float = 15) -> None:
    """The bench stack's and the ceilings' ports must be free before we start (the
    workers behind them listen on unix sockets, which a restart replaces).

    Raises
    ------
    BenchError
        Naming the ports still taken (a leftover NGINX, say) after ``timeout`` seconds.
    """
    ports = [int(cfg["server.port"]), scenarios.CEILING_PORT, scenarios.WEBHOOK_PORT]
    deadline = time.monotonic() + timeout
    while busy := busy_ports(ports):
        if time.monotonic() > deadline:
            raise BenchError(f"ports {busy} are taken; `ss -ltnp` says by what")
        time.sleep(0.5)


def set_in(results: dict, path: tuple, value) -> None:
    for key in path[:-1]:
        results = results.setdefault(key, {})
    results[path[-1]] = value


def raise_on_term(signum, frame):
    # `finally` blocks stop what was started; SIGTERM would skip them.
    raise KeyboardInterrupt(f"signal {signum}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--profile",
        nargs="?",
        const="wall",
        choices=["wall", "gil"],
        help="py-spy the app workers: wall (the default: blocking waits count) or gil (CPU)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for trying it out")
    parser.add_argument(
        "--only",
        help="comma-separated steps: ceilings,1,2,3,4,5,6,cancel,depth,hosts,slurm,schedules,"
        "workflows,ui (default: all)",
    )
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    os.chdir(ROOT)
    os.environ[CONFIG_ENV] = BENCH_CONFIG
    signal.signal(signal.SIGTERM, raise_on_term)
    only = set(args.only.split(",")) if args.only else None
    # Committed figures come only from full runs without py-spy slowing the workers.
    full_run = not args.quick and only is None and not args.profile
    cfg = load_config(ROOT)
    layout = stack_layout(cfg)
    jobs_dir = usable_jobs_dir(cfg.path("jobs.dir"), os.geteuid() == 0)
    scale = scenarios.Scale.quick() if args.quick else scenarios.Scale()
    started = time.perf_counter()
    results: dict = {
        "load_average": {"start": machine.load_average()},
        "commands": [
            "make bench   # .venv/bin/python -m bench.run"
            + (f" --profile {args.profile}" if args.profile else "")
            + (" --quick" if args.quick else "")
            + (f" --only {args.only}" if args.only else ""),
            f"{CONFIG_ENV}={BENCH_CONFIG} .venv/bin/python -m baselayer.tools.stack start",
        ],
        "config": {
            key: cfg[key]
            for key in (
                "server.processes",
                "server.rate_limit.per_second",
                "jobs.max_running",
                "jobs.max_running_per_user",
                "jobs.memory_budget_mb",
                "jobs.claim_batch",
                "database.pool_size",
            )
        },
        "scale": vars(scale),
        "errors": {},
    }

    ensure_commands()
    print("Stopping any earlier bench stack and starting a fresh one", flush=True)
    stack_command("stop")
    fresh_stack_dirs(cfg, jobs_dir)
    # A fresh database numbers its users from 1 again: the last run's Unix accounts
    # (made for its users) go, or the executor rightly refuses to reuse them.
    removed = remove_stack_accounts(cfg)
    if removed:
        print(f"Removed {removed} Unix accounts of an earlier bench stack", flush=True)
    wait_for_free_ports(cfg)
    bench = None
    try:
        stack_command("start")
        tokens = yaml.safe_load(cfg.path("app.tokens_file").read_text())
        token = tokens[cfg["app.initial_token_key"]]
        bench = scenarios.Bench(
            cfg=cfg,
            layout=layout,
            url=base_url(cfg),
            token=token,
            jobs_dir=jobs_dir,
            scale=scale,
            profile_dir=layout.run_dir / "profiles" if args.profile else None,
            profile_mode=args.profile or "wall",
        )
        results["machine"] = machine.describe(cfg)
        for step, path, function in STEPS:
            if only is not None and step not in only:
                continue
            name = ".".join(path)
            # The last step's writes reach the disk now, not during this one (the
            # 2 GB job alone leaves 100 MB of dirty output behind it).
            os.sync()
            print(
                f"[{time.perf_counter() - started:6.1f} s] {name}: "
                + function.__doc__.splitlines()[0],
                flush=True,
            )
            try:
                set_in(results, path, function(bench))
            except Exception as exc:  # noted, and the other steps still run
                traceback.print_exc()
                results["errors"][name] = f"{type(exc).__name__}: {exc}"
        results["commands"] += sorted(
            {
                figures["command"]
                for figures in (
                    results.get("ceilings", {}).get("http"),
                    results.get("scenarios", {}).get("1"),
                )
                if figures
            }
        )
    finally:
        if bench is not None:
            try:
                scenarios.cancel_leftovers(bench)
            except (OSError, KeyError, ValueError) as exc:
                print(f"Could not cancel leftover jobs: {exc}", file=sys.stderr)
        print("Stopping the bench stack", flush=True)
        stack_command("stop")

    results["load_average"]["end"] = machine.load_average()
    results["seconds"] = round(time.perf_counter() - started)
    if bench is not None and bench.profiles:
        results["profiles"] = bench.profiles
    results["rows"] = report.rows(results)
    print()
    print(report.text_table(results["rows"]))
    if results["errors"]:
        print("\nErrors:", *(f"  {k}: {v}" for k, v in results["errors"].items()), sep="\n")
    if full_run:
        report.write_json(results, RESULTS)
        BENCHMARKS_MD.write_text(report.markdown(results))
        print(f"\nWrote {RESULTS.relative_to(ROOT)} and {BENCHMARKS_MD.relative_to(ROOT)}")
    else:
        report.write_json(results, PARTIAL_RESULTS)
        print(
            f"\nWrote {PARTIAL_RESULTS.relative_to(ROOT)} "
            "(a partial run: BENCHMARKS.md is left as is)"
        )


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt as exc:
        sys.exit(f"make bench interrupted ({exc or 'Ctrl-C'}); what it started is stopped")
