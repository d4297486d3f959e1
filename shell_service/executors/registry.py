"""The executors' registry as one executor keeps it: its heartbeat (the row that
says it is alive and what it offers) and the bookkeeping of adoption (which
RUNNING jobs have lost their executor, and taking one over).

An executor's name is "host:pid". On its own host an executor tells a live
one from a dead one by its pid; of other hosts' executors it knows only their
heartbeats: one silent for SILENT_HOST has lost its RUNNING jobs for good.
"""

import datetime
import os

from sqlalchemy.orm import sessionmaker

from baselayer.app.plain_sql import PlainSQL

from .. import queue

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
    session_factory : sessionmaker
        For the heartbeat and adoption statements (ORM).
    sql : PlainSQL
        The executor's event-loop connection.
    host : str
        This host's name.
    executor_name : str
        This executor's name, "host:pid".
    """

    def __init__(self, session_factory: sessionmaker, sql: PlainSQL, host: str, executor_name: str):
        self.session_factory = session_factory
        self.sql = sql
        self.host = host
        self.executor_name = executor_name

    def heartbeat(self, running: int, published: dict) -> None:
        """Write this executor's row: alive now, what it watches and what it offers.

        Blocks for one transaction.

        Parameters
        ----------
        running : int
            Jobs it watches.
        published : dict
            What it offers (``Executor.report_capacity``).

        Raises
        ------
        sqlalchemy.exc.SQLAlchemyError
            What the database raises (it may be away).
        """
        with self.session_factory() as session:
            queue.heartbeat(session, self.executor_name, running, published)

    def jobs_lost_elsewhere(self) -> list[str]:
        """RUNNING jobs of other hosts whose executor has been silent for SILENT_HOST.

        Nobody there will end them: the caller ends them as SERVER_ERROR with
        LOST_HOST_MESSAGE. Blocks for one statement.

        Returns
        -------
        list of str
            Job ids.
        """
        with self.session_factory() as session:
            return queue.jobs_of_silent_executors(session, self.host, SILENT_HOST)

    def jobs_on_this_host(self) -> list[dict]:
        """RUNNING jobs started by any executor of this host.

        Returns
        -------
        list of dict
            ``queue.running_jobs_on_host``'s rows: ``id``, ``number``, ``executor``,
            ``started_at``, ``timeout`` (seconds), ``cancel_requested_at``.
        """
        return queue.running_jobs_on_host(self.sql, self.host)

    def take_over(self, job: dict) -> bool:
        """Whether ``job`` is now this executor's.

        Parameters
        ----------
        job : dict
            A row of ``jobs_on_this_host``.

        Returns
        -------
        bool
            True if it was already, or its executor is dead and this one adopted it
            (an event records it). False while its executor lives, or when another
            executor adopted it first.
        """
        if job["executor"] == self.executor_name:
            return True
        if executor_alive(job["executor"]):
            return False
        with self.session_factory() as session:
            return queue.adopt_job(session, job["id"], job["executor"], self.executor_name)
