"""The scheduler service: fires the schedules whose tick has come
(``shell_service/scheduler.py``). It only inserts job rows, as each schedule's
owner; the executors run them. Any number of them may run (one per stack, or
per host): the database fires each tick once.

    python -m services.scheduler.scheduler --run-dir RUN_DIR
"""

import argparse
import logging
import signal
import threading
from pathlib import Path

from baselayer.app import logs
from baselayer.app.config import load_config
from baselayer.app.database import database_url, make_engine
from baselayer.app.migrated import wait_for_migrated_database
from baselayer.app.plain_sql import PlainSQL
from shell_service import config_check
from shell_service.scheduler import Scheduler
from shell_service.shells import available_shells

log = logging.getLogger("shell_service.scheduler")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--run-dir", type=Path, required=True, help="the stack's run directory (from config)"
    )
    args = parser.parse_args(argv)
    logs.configure("scheduler")
    cfg = load_config()
    if args.run_dir.resolve() != cfg.path("app.run_dir").resolve():
        raise SystemExit(f"--run-dir {args.run_dir} is not this config's {cfg['app.run_dir']}")
    try:
        config_check.check(cfg)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    engine = make_engine(cfg)
    wait_for_migrated_database(cfg, engine)
    engine.dispose()
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
