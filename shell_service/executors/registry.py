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
    """Whether a process ``pid`` exists on this host (signal 0: nothing is sent).

    Parameters
    ----------
    pid : int

    Returns
    -------
    bool
        True also for another user's process (EPERM).
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def executor_alive(executor: str | None) -> bool:
    """Whether the executor named ``executor`` still runs.

    Parameters
    ----------
    executor : str or None
        "host:pid", of this host (only the pid is looked at).

    Returns
    -------
    bool
        False for None or a name without a pid.
    """
    pid = (executor or "").rpartition(":")[2]
    return pid.isdigit() and process_alive(int(pid))


class Registry:
    """One executor's row in the registry (the ``executors`` table) and its view of
    the jobs of the executors that are gone.

    Parameters
    ----------
    sql : PlainSQL
        The executor's event-loop connection.
    host : str
        This host's name.
    executor_name : str
        This executor's name, "host:pid".
    """

    def __init__(self, sql: PlainSQL, host: str, executor_name: str):
        self.sql = sql
        self.host = host
        self.executor_name = executor_name

    def heartbeat(self, running: int, published: dict) -> None:
        """Write this executor's row: alive now, what it watches and what it offers.

        Blocks for one statement.

        Parameters
        ----------
        running : int
            Jobs it watches.
        published : dict
            What it offers (``Executor.report_capacity``).

        Raises
        ------
        baselayer.app.plain_sql.DatabaseUnavailable
            The database is away (and psycopg2's errors pass through).
        """
        queue.heartbeat(self.sql, self.executor_name, running, published)

    def jobs_lost_elsewhere(self) -> list[str]:
        """RUNNING jobs of other hosts whose executor has been silent for SILENT_HOST.

        Nobody there will end them: the caller ends them as SERVER_ERROR with
        LOST_HOST_MESSAGE. Blocks for one statement.

        Returns
        -------
        list of str
            Job ids.
        """
        return queue.jobs_of_silent_executors(self.sql, self.host, SILENT_HOST)

    def jobs_on_this_host(self, watched: list[str]) -> list[ClaimedJob]:
        """RUNNING jobs started by any executor of this host (``queue.running_jobs_on_host``).

        Parameters
        ----------
        watched : list of str
            Ids of the jobs this executor watches: left out unless a cancel of
            them was asked for (its NOTIFY may have been missed).

        Returns
        -------
        list of ClaimedJob
        """
        return queue.running_jobs_on_host(self.sql, self.host, watched)

    def take_over(self, job: ClaimedJob) -> bool:
        """Whether ``job`` is now this executor's.

        Parameters
        ----------
        job : ClaimedJob
            One of ``jobs_on_this_host``.

        Returns
        -------
        bool
            True if it was already, or its executor is dead and this one adopted it
            (an event records it). False while its executor lives, or when another
            executor adopted it first.
        """
        if job.executor == self.executor_name:
            return True
        if executor_alive(job.executor):
            return False
        return queue.adopt_job(self.sql, job.id, job.executor, self.executor_name)
