"""Jobs per state, as the app workers show them (/api/sysinfo, /metrics).

The active states (QUEUED, RUNNING) are counted exactly on each request
(partial indexes make that cheap); the finished ones come from a shared
recount (``queue.recount_if_stale``) that one app worker of all runs, in a
thread, when the stored counts are STATUS_COUNT_INTERVAL old: with a million
rows the count takes long enough to stall the event loop.
"""

import asyncio
import datetime
import logging

from baselayer.app.config import Config
from baselayer.app.database import database_url
from baselayer.app.plain_sql import DatabaseUnavailable, PlainSQL

from . import queue
from .job_states import JobStatus

log = logging.getLogger(__name__)

#: Seconds between recounts of jobs per state (a whole-table count, shared by
#: every app worker), and between looks at the shared counts.
STATUS_COUNT_INTERVAL = 60.0
STATUS_COUNT_CHECK = 15.0


class JobCounts:
    """Jobs per state for one app worker.

    Parameters
    ----------
    cfg : Config
        For the database's address: the recount has its own connection (it
        connects on first use), since it runs in a thread beside the event
        loop's statements.
    sql : PlainSQL
        The app worker's event-loop connection (the exact active counts).
    """

    def __init__(self, cfg: Config, sql: PlainSQL):
        self.sql = sql
        self.status_counts: dict[str, int] = {status.value: 0 for status in JobStatus}
        self._counting_sql = PlainSQL(database_url(cfg), "shell_service counts")
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Read the shared counts now and every STATUS_COUNT_CHECK seconds on the
        running event loop, recounting them when they are STATUS_COUNT_INTERVAL old."""
        self._task = asyncio.get_event_loop().create_task(self._every_check())

    async def _every_check(self) -> None:
        while True:
            try:
                await self.recount()
            except Exception:
                log.exception("Counting jobs per state failed")
            await asyncio.sleep(STATUS_COUNT_CHECK)

    async def recount(self) -> dict[str, int]:
        """Recount the jobs per state if the shared counts are a minute old (in a
        thread), then read them; the previous counts while the database is away.

        Returns
        -------
        dict
            State name -> jobs in it as of the last recount, for every state.
        """

        def count():
            sql = self._counting_sql
            try:
                queue.recount_if_stale(sql, datetime.timedelta(seconds=STATUS_COUNT_INTERVAL))
                return queue.stored_counts(sql)
            except DatabaseUnavailable:
                return self.status_counts

        self.status_counts = await asyncio.to_thread(count)
        return self.status_counts

    def jobs_by_status(self) -> dict[str, int]:
        """Every state's count: the finished ones as of the last recount, the
        active ones (QUEUED, RUNNING) exact, now. Raises what ``PlainSQL`` raises
        (DatabaseUnavailable) when the database is away."""
        return {**self.status_counts, **queue.count_active(self.sql)}
