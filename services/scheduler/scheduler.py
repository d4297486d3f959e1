"""The scheduler service: fires the schedules whose tick has come
(``shell_service/scheduler.py``). It only inserts job rows, as each schedule's
owner; the executors run them. Any number of them may run (one per stack, or
per host): the database fires each tick once.

    python -m services.scheduler.scheduler --run-dir RUN_DIR
"""

import logging
import signal
import threading

from baselayer.app.database import database_url
from baselayer.app.plain_sql import PlainSQL
from shell_service.program import migrated_engine, start_program
from shell_service.scheduler import Scheduler
from shell_service.shells import available_shells

log = logging.getLogger("shell_service.scheduler")


def main(argv=None) -> None:
    cfg = start_program("scheduler", __doc__, argv)
    migrated_engine(cfg).dispose()
    sql = PlainSQL(database_url(cfg), f"{cfg['app.name']}_scheduler")
    scheduler = Scheduler(cfg, sql, list(available_shells(cfg["jobs.shells"])))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    log.info("scheduler running (poll interval %s s)", scheduler.settings.poll_interval)
    scheduler.run(stop)
    log.info("scheduler stopped")


if __name__ == "__main__":
    main()
