"""The executor service: one per host. It claims queued jobs, runs them here,
watches them to their end, adopts jobs whose executor is gone, and deletes
jobs past their retention. The app workers only serve the API, so starting a
thousand jobs never stalls a request.

    python -m services.executor.executor --run-dir RUN_DIR
"""

import asyncio
import logging
import os

from baselayer.app.database import make_session_factory
from shell_service.executors.local import LocalExecutor
from shell_service.program import migrated_engine, start_program

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
    cfg = start_program("executor", __doc__, argv)
    lower_priority(int(cfg["jobs.nice"]))
    executor = LocalExecutor(cfg, make_session_factory(migrated_engine(cfg)))

    async def run():
        executor.start()
        log.info("Executor %s running jobs in %s", executor.executor_name, executor.setup.jobs_dir)
        await asyncio.Event().wait()

    asyncio.run(run())


if __name__ == "__main__":
    main()
