"""Storing new jobs in batches, off the event loop.

Requests that arrive while a batch is being written wait for the next one, so
under load one statement and one commit store many jobs (the commit's disk
flush is shared), and the event loop goes on serving while PostgreSQL works.
With one request at a time, a batch is that one job.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from baselayer.app.notifications import Listener
from baselayer.app.plain_sql import DatabaseUnavailable, PlainSQL

from . import queue

#: Jobs stored by one statement at most.
MAX_BATCH = 256


class JobWriter:
    """Inserts new jobs in batches on a thread of its own: submissions that arrive
    while a batch is written go together in the next one (one statement, one
    round trip). See the module docstring."""

    def __init__(self, sql: PlainSQL, listener: Listener):
        # Used only on the writer's own thread.
        self._sql = sql
        listener.on_lost(sql.mark_stale)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="job-writer")
        self._waiting: list[tuple[queue.NewJob, asyncio.Future]] = []
        self._writing = False

    async def insert(self, job: queue.NewJob) -> bool:
        """Store ``job`` (in the next batch); False if its id is taken."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((job, future))
        if not self._writing:
            self._writing = True
            asyncio.get_running_loop().create_task(self._write_batches())
        return await future

    async def _write_batches(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                # One id twice in a batch: the later one is refused like a taken id.
                first: dict[str, tuple[queue.NewJob, asyncio.Future]] = {}
                for job, future in batch:
                    if job.fields["id"] in first:
                        future.set_result(False)
                    else:
                        first[job.fields["id"]] = (job, future)
                await self._write(loop, list(first.values()))
        finally:
            self._writing = False

    async def _write(self, loop, batch: list[tuple[queue.NewJob, asyncio.Future]]) -> None:
        try:
            stored = await loop.run_in_executor(
                self._thread, queue.insert_jobs, self._sql, [job for job, _ in batch]
            )
        except Exception as exc:
            if len(batch) > 1 and not isinstance(exc, DatabaseUnavailable):
                # One job the database refuses must not fail the others that
                # happened to share its batch: each again, on its own.
                for one in batch:
                    await self._write(loop, [one])
                return
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for job, future in batch:
            if not future.done():
                future.set_result(job.fields["id"] in stored)
