"""The executors' registry as one executor keeps it: its heartbeat (the row that
says it is alive and what it offers) and the bookkeeping of adoption (which
RUNNING jobs have lost their executor, and taking one over).

An executor's name is "host:pid". On its own host an executor tells a live
one from a dead one by its pid; of other hosts' executors it knows only their
heartbeats: one silent for SILENT_HOST has lost its RUNNING jobs for good.
"""

import datetime
import os

from baselayer.app.plain_sql import PlainSQL

from .. import queue
from ..queue import ClaimedJob

#: Another host's executor silent this long has lost its RUNNING jobs for good.
SILENT_HOST = datetime.timedelta(minutes=5)
#: The status message of a job lost with its host.
LOST_HOST_MESSAGE = (
    "the host running the job stopped answering (no executor heartbeat "
    f"for {SILENT_HOST.seconds // 60} minutes)"
)


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (signal 0: nothing is sent)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def worker_alive(worker: str | None) -> bool:
    """Whether the executor named ``worker`` ("host:pid", of this host) still runs."""
    pid = (worker or "").rpartition(":")[2]
    return pid.isdigit() and process_alive(int(pid))


class Registry:
    """One executor's row in the registry (the ``workers`` table) and its view of
    the jobs of the executors that are gone.

    Parameters
    ----------
    sql : PlainSQL
        The executor's event-loop connection.
    host : str
        This host's name.
    worker_name : str
        This executor's name, "host:pid".
    """

    def __init__(self, sql: PlainSQL, host: str, worker_name: str):
        self.sql = sql
        self.host = host
        self.worker_name = worker_name

    def heartbeat(self, running: int, published: dict) -> None:
        """Write this executor's row: alive now, watching ``running`` jobs, offering
        ``published`` (``Executor.report_capacity``). Blocks for one statement;
        raises what the database raises (``DatabaseUnavailable`` when it is away)."""
        queue.heartbeat(self.sql, self.worker_name, running, published)

    def jobs_lost_elsewhere(self) -> list[str]:
        """Ids of RUNNING jobs of other hosts whose executor has been silent for
        SILENT_HOST: nobody there will end them (end them as SERVER_ERROR with
        LOST_HOST_MESSAGE)."""
        return queue.jobs_of_silent_workers(self.sql, self.host, SILENT_HOST)

    def jobs_on_this_host(self, watched: list[str]) -> list[ClaimedJob]:
        """RUNNING jobs started by any executor of this host, but those of
        ``watched`` (ids) whose cancel was not asked for
        (``queue.running_jobs_on_host``)."""
        return queue.running_jobs_on_host(self.sql, self.host, watched)

    def take_over(self, job: ClaimedJob) -> bool:
        """Whether ``job`` (a row of ``jobs_on_this_host``) is now this executor's:
        it was already, or its executor is dead and this one adopted it (an event
        records it). False while its executor lives, or when another executor
        adopted it first."""
        if job.worker == self.worker_name:
            return True
        if worker_alive(job.worker):
            return False
        return queue.adopt_job(self.sql, job.id, job.worker, self.worker_name)
