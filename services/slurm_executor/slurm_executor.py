"""The Slurm executor service: one per stack with queues of ``executor: slurm``.
It hands their jobs to the Slurm cluster (``shell_service/executors/slurm/``),
tracks them with one batched poll per queue, and records each end.

    python -m services.slurm_executor.slurm_executor --run-dir RUN_DIR
"""

import argparse
import asyncio
import logging
from pathlib import Path

from baselayer.app import logs
from baselayer.app.config import load_config
from baselayer.app.database import make_engine, make_session_factory
from baselayer.app.migrated import wait_for_migrated_database
from shell_service import config_check
from shell_service.executors.slurm.executor import SlurmExecutor

log = logging.getLogger("shell_service.slurm_executor")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--run-dir", type=Path, required=True, help="the stack's run directory (from config)"
    )
    args = parser.parse_args(argv)
    logs.configure("slurm_executor")
    cfg = load_config()
    if args.run_dir.resolve() != cfg.path("app.run_dir").resolve():
        raise SystemExit(f"--run-dir {args.run_dir} is not this config's {cfg['app.run_dir']}")
    try:
        config_check.check(cfg)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    engine = make_engine(cfg)
    wait_for_migrated_database(cfg, engine)
    executor = SlurmExecutor(cfg, make_session_factory(engine))

    async def run():
        executor.start()
        log.info("Slurm executor %s: queues %s", executor.executor_name, sorted(executor.jobs_dirs))
        await asyncio.Event().wait()

    asyncio.run(run())


if __name__ == "__main__":
    main()
