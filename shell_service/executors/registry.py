"""The executors' registry as one executor keeps it: its heartbeat (the row that
says it is alive and what it offers) and the bookkeeping of adoption (which
RUNNING jobs have lost their executor, and taking one over).

An executor's name is "host:pid". On its own host an executor tells a live
one from a dead one by its pid; of other hosts it knows only their executors'
heartbeats: a host none of whose executors has been heard from for
``hosts.lost_after`` seconds is lost, with its RUNNING jobs (they end
SERVER_ERROR, or go back to QUEUED if they asked to). Another host never adopts
them: their processes are not there.
"""

import datetime
import os

from baselayer.app.plain_sql import PlainSQL

from .. import queue
from ..job_states import JobStatus
from ..queue import ClaimedJob


def lost_host_message(host: str, lost_after: datetime.timedelta) -> str:
    """The status message of a job that ended with its host ``host``."""
    seconds = int(lost_after.total_seconds())
    return f"host {host} lost (no heartbeat from its executor for {seconds} s)"


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
    lost_after : datetime.timedelta
        How long another host may be silent before its jobs are lost
        (``hosts.lost_after``).
    """

    def __init__(
        self, sql: PlainSQL, host: str, executor_name: str, lost_after: datetime.timedelta
    ):
        self.sql = sql
        self.host = host
        self.executor_name = executor_name
        self.lost_after = lost_after

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
        queue.heartbeat(self.sql, self.executor_name, running, published, self.host)

    def jobs_lost_elsewhere(self) -> list[tuple[str, str, bool]]:
        """RUNNING jobs of other hosts none of whose executors has been heard from
        for ``lost_after`` (``queue.jobs_of_lost_hosts``). Blocks for one statement.

        Returns
        -------
        list of (str, str, bool)
            Each job's id, its host, and whether it asked to be queued again.
        """
        return queue.jobs_of_lost_hosts(self.sql, self.host, self.lost_after)

    def lose(self, job_id: str, host: str, requeue: bool) -> str:
        """End a job of a lost host: queue it again if it asked to (and no cancel of it
        was asked for), else end it SERVER_ERROR saying which host was lost (or
        retry it, as its strategy's ``HOST_LOST`` asks: ``queue.finish_job``).

        Parameters
        ----------
        job_id : str
        host : str
            Its lost host.
        requeue : bool
            Its ``requeue_on_host_loss``.

        Returns
        -------
        str
            "queued again", "ended" (SERVER_ERROR, CANCELLED if a cancel was asked
            for, or QUEUED as its next attempt), or "" when another executor got to
            it first.
        """
        if requeue and queue.requeue_lost_job(self.sql, job_id, host):
            return "queued again"
        message = lost_host_message(host, self.lost_after)
        ended = queue.finish_job(
            self.sql, job_id, JobStatus.SERVER_ERROR, message=message, host_lost=True
        )
        return "ended" if ended else ""

    def taken_from_me(self, job_ids: list[str]) -> set[str]:
        """Which of the jobs this executor watches are no longer its own: its host
        was judged lost meanwhile (another host ended them, or queued them again).

        Parameters
        ----------
        job_ids : list of str

        Returns
        -------
        set of str
        """
        if not job_ids:
            return set()
        return set(job_ids) - queue.jobs_still_mine(self.sql, self.executor_name, job_ids)

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
