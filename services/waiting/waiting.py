"""The waiting-jobs service: moves on the QUEUED jobs that wait (dependencies,
retry back-offs, array tasks; ``shell_service/waiting.py``). It changes job
rows only; the executors run them. Several may share a database (one per
stack, or per host): each statement takes its rows under a lock.

    python -m services.waiting.waiting --run-dir RUN_DIR
"""

import asyncio
import logging

from baselayer.app.database import database_url
from baselayer.app.notifications import Listener
from baselayer.app.plain_sql import DatabaseUnavailable, PlainSQL
from shell_service import queue
from shell_service.program import migrated_engine, start_program
from shell_service.waiting import WaitingJobs, waiting_settings

log = logging.getLogger("shell_service.waiting")


def main(argv=None) -> None:
    cfg = start_program("waiting", __doc__, argv)
    migrated_engine(cfg).dispose()
    settings = waiting_settings(cfg)
    sql = PlainSQL(database_url(cfg), f"{cfg['app.name']}_waiting")
    waiting_jobs = WaitingJobs(sql, settings)

    async def run():
        wake = asyncio.Event()
        listener = Listener(database_url(cfg))
        # A job queued may wait (dependencies, an array); a job ended may settle
        # dependencies, free an array's slot or end its array.
        for channel in (queue.QUEUED_CHANNEL, queue.ENDED_CHANNEL):
            listener.subscribe(channel, lambda payloads: wake.set())
        listener.on_lost(sql.mark_stale)
        try:
            listener.start()
        except Exception as exc:  # the poll moves them on all the same, only later
            log.warning("No LISTEN (%s): polling only", exc)
        log.info("waiting-jobs service running (poll interval %s s)", settings.poll_interval)
        loop = asyncio.get_running_loop()
        while True:
            wake.clear()
            wait = settings.poll_interval
            try:
                result = await loop.run_in_executor(None, waiting_jobs.run_once)
                # Tasks made are routine (one pass per task that ends): debug only.
                if result.settled or result.cancelled or result.released or result.arrays_ended:
                    log.info("pass: %s", result)
                elif result:
                    log.debug("pass: %s", result)
                wait = await loop.run_in_executor(None, waiting_jobs.seconds_to_sleep)
            except DatabaseUnavailable as exc:
                log.warning("database unavailable (%s); trying again", exc)
            except Exception:
                log.exception("Waiting-jobs pass failed; trying again")
            try:
                await asyncio.wait_for(wake.wait(), wait)
            except TimeoutError:
                pass

    try:
        asyncio.run(run())
    finally:
        sql.close()


if __name__ == "__main__":
    main()
