"""The executor service: one per host. It claims queued jobs, runs them here,
watches them to their end, adopts jobs whose executor is gone, and deletes
jobs past their retention. The app workers only serve the API, so starting a
thousand jobs never stalls a request.

    python -m services.executor.executor --run-dir RUN_DIR
"""

import argparse
import asyncio
import logging
import os
from pathlib import Path

from baselayer.app import logs
from baselayer.app.config import load_config
from baselayer.app.database import make_engine, make_session_factory
from baselayer.app.migrated import wait_for_migrated_database
from shell_service import config_check
from shell_service.executors.local import LocalExecutor

log = logging.getLogger("shell_service.executor")


def lower_priority(nice: int) -> None:
    """Run at niceness ``nice``, and so do the jobs (they inherit it): starting a
    burst of jobs then takes CPU the app workers leave, and requests stay quick
    (measured: API p99 95 ms at nice 0, 39 ms at 10, while 1,000 jobs start).
    Before any thread starts: each thread has its own niceness."""
    if not 0 <= nice <= 19:
        raise SystemExit(f"jobs.nice must be 0 to 19, not {nice}")
    os.nice(max(nice - os.nice(0), 0))  # raising it back would need root


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--run-dir", type=Path, required=True, help="the stack's run directory (from config)"
    )
    args = parser.parse_args(argv)
    logs.configure("executor")
    cfg = load_config()
    if args.run_dir.resolve() != cfg.path("app.run_dir").resolve():
        raise SystemExit(f"--run-dir {args.run_dir} is not this config's {cfg['app.run_dir']}")
    try:
        config_check.check(cfg)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    lower_priority(int(cfg["jobs.nice"]))
    engine = make_engine(cfg)
    wait_for_migrated_database(cfg, engine)
    executor = LocalExecutor(cfg, make_session_factory(engine))

    async def run():
        executor.start()
        log.info("Executor %s running jobs in %s", executor.executor_name, executor.setup.jobs_dir)
        await asyncio.Event().wait()

    asyncio.run(run())


if __name__ == "__main__":
    main()
