"""Removing what is no longer wanted: the directories of deleted jobs, and the
jobs (rows and directories) older than ``jobs.retention_days``.

Only an executor removes job files, each those of its own host: a deleted
job's directory is handed to it through the database (``queue.dirs_to_remove``,
announced on ``queue.DELETED_CHANNEL``).
"""

import asyncio
import datetime
import logging
from pathlib import Path

from baselayer.app.models import utcnow
from baselayer.app.plain_sql import PlainSQL

from .. import queue
from ..job_paths import job_dir
from .job_removal import remove_job_directory

log = logging.getLogger(__name__)


class Retention:
    """One host's job directories and the jobs past their retention.

    Parameters
    ----------
    cfg : Config
        ``jobs.retention_days`` (read at each sweep).
    sql : PlainSQL
        The executor's event-loop connection.
    host : str
        This host's name (whose deleted jobs' directories are this one's to remove).
    jobs_dir : Path
        Where this host's job directories are.
    """

    def __init__(self, cfg, sql: PlainSQL, host: str, jobs_dir: Path):
        self.cfg = cfg
        self.sql = sql
        self.host = host
        self.jobs_dir = jobs_dir

    def remove_files(self, job_id: str) -> None:
        """Remove job ``job_id``'s directory; nothing if it has none.

        What the job wrote is removed as its user (``job_removal``). A directory that
        cannot be removed is logged and left. Blocking: call it in a thread from the
        event loop.

        Parameters
        ----------
        job_id : str
        """
        try:
            remove_job_directory(job_dir(self.jobs_dir, job_id))
        except (OSError, ValueError) as exc:
            log.error("Could not remove the directory of deleted job %s: %s", job_id, exc)

    async def remove_deleted_dirs(self) -> int:
        """Remove the directories of the jobs deleted on this host, each in a thread.

        Takes them from ``queue.dirs_to_remove`` until none is left.

        Returns
        -------
        int
            How many ids were taken (and their directories removed, or logged).
        """
        removed = 0
        while ids := queue.dirs_to_remove(self.sql, self.host):
            for job_id in ids:
                await asyncio.to_thread(self.remove_files, job_id)
            removed += len(ids)
        return removed

    async def sweep_old_jobs(self) -> int:
        """Delete finished jobs older than ``jobs.retention_days``, batch by batch.

        Other work runs in between batches; then this host's directories of them are
        removed (``remove_deleted_dirs``; other hosts' executors remove theirs at their
        next heartbeat).

        Returns
        -------
        int
            How many jobs were deleted (0 when another executor holds the sweep).
        """
        cutoff = utcnow() - datetime.timedelta(days=float(self.cfg["jobs.retention_days"]))
        deleted = 0
        while True:
            ids = queue.delete_finished_before(self.sql, cutoff)
            deleted += len(ids or ())
            if not ids:
                # Their directories, this host's (other hosts' executors remove
                # theirs at their next heartbeat).
                await self.remove_deleted_dirs()
                return deleted
            await asyncio.sleep(0)  # let requests in between batches
