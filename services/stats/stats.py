"""The stats service: every ``stats.interval`` seconds, adds the jobs that ended up
to ``stats.settle`` seconds ago to the hourly rollups that ``GET /api/stats``
and the dashboard's overview read (``shell_service/stats.py``). It writes the
rollup tables only. Several may share a database: a pass runs under an advisory
lock, and one that finds it taken skips.

    python -m services.stats.stats --run-dir RUN_DIR
"""

import logging
import time

from baselayer.app.database import database_url
from baselayer.app.models import utcnow
from baselayer.app.plain_sql import DatabaseUnavailable, PlainSQL
from shell_service.program import migrated_engine, start_program
from shell_service.stats import roll_up_now, stats_settings

log = logging.getLogger("shell_service.stats")


def main(argv=None) -> None:
    cfg = start_program("stats", __doc__, argv)
    migrated_engine(cfg).dispose()
    settings = stats_settings(cfg)
    sql = PlainSQL(database_url(cfg), f"{cfg['app.name']}_stats")
    log.info(
        "stats service running (a pass every %s s, ends older than %s s)",
        settings.interval,
        settings.settle,
    )
    try:
        while True:
            started = time.monotonic()
            try:
                added = roll_up_now(sql, settings, utcnow())
                if added:
                    log.debug("pass: %s jobs ended in %.3f s", added, time.monotonic() - started)
            except DatabaseUnavailable as exc:
                log.warning("database unavailable (%s); trying again", exc)
            except Exception:
                log.exception("Stats pass failed; trying again")
            time.sleep(max(0.0, settings.interval - (time.monotonic() - started)))
    finally:
        sql.close()


if __name__ == "__main__":
    main()
