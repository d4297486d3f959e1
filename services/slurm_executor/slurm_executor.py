"""The Slurm executor service: one per stack with queues of ``executor: slurm``.
It hands their jobs to the Slurm cluster (``shell_service/executors/slurm/``),
tracks them with one batched poll per queue, and records each end.

    python -m services.slurm_executor.slurm_executor --run-dir RUN_DIR
"""

import asyncio
import logging

from baselayer.app.database import make_session_factory
from shell_service.executors.slurm.executor import SlurmExecutor
from shell_service.program import migrated_engine, start_program

log = logging.getLogger("shell_service.slurm_executor")


def main(argv=None) -> None:
    cfg = start_program("slurm_executor", __doc__, argv)
    executor = SlurmExecutor(cfg, make_session_factory(migrated_engine(cfg)))

    async def run():
        executor.start()
        log.info("Slurm executor %s: queues %s", executor.executor_name, sorted(executor.jobs_dirs))
        await asyncio.Event().wait()

    asyncio.run(run())


if __name__ == "__main__":
    main()
