"""The executor interface: what every kind of executor does, whatever runs its jobs.

An executor takes QUEUED jobs from the queue (``shell_service.queue``) and sees
each to its final state. The local one (``local.LocalExecutor``) runs them on
its own host; the next kinds (several hosts, a Slurm cluster) implement the
same methods. The app workers never build one: they write a cancel to the
database and NOTIFY ``queue.CANCEL_CHANNEL``, and show what each executor
publishes in its registry row (``report_capacity``).

Every method runs on the executor's event loop (one thread); the blocking
ones say so. A job's final state is written once, with its final record, by
``queue.finish_job`` and only after every process of the job has ended.
"""

from abc import ABC, abstractmethod

from ..queue import ClaimedJob


class Executor(ABC):
    """One executor process: claims jobs for the resources it owns, starts them,
    watches them to their end, ends them when asked, and adopts the jobs of an
    executor of the same resources that has gone.

    Attributes
    ----------
    executor_name : str
        Its name in the registry and in its jobs' ``executor`` column: "host:pid".
    """

    executor_name: str

    @abstractmethod
    def start(self) -> None:
        """Begin serving on the running event loop; returns at once.

        Publishes its registry row, LISTENs for queued jobs, cancels and deletions,
        and starts its loops (claim, heartbeat and adoption, retention).

        Raises
        ------
        SystemExit
            The host cannot run jobs as configured.
        """

    @abstractmethod
    def claim_jobs(self) -> list[ClaimedJob] | None:
        """Claim QUEUED jobs within this executor's capacity (running jobs, per
        user, memory), moving them to RUNNING with its ``executor_name``, in one
        short statement (``queue.claim_jobs``). Blocks for that statement.

        Returns
        -------
        list of ClaimedJob, or None
            The jobs claimed (maybe none); None when another executor held the
            claim (look again shortly). The caller starts each (``start_job``).
        """

    @abstractmethod
    async def start_job(self, job: ClaimedJob) -> None:
        """Start a claimed job, then watch it to its end (``watch_job``).

        When it cannot be started (the service's fault, not the script's) it ends as
        SERVER_ERROR with a message saying why. Raises nothing: every failure is
        recorded on the job (or left to adoption while the database is away).

        Parameters
        ----------
        job : ClaimedJob
            A job this executor claimed (``claim_jobs``).
        """

    @abstractmethod
    async def watch_job(self, job_id: str) -> None:
        """Wait for a started job to end, then record its final state and output.

        Ends it at its deadline (TIMED_OUT); records with ``queue.finish_job``
        (COMPLETE, FAILED, TIMED_OUT, CANCELLED or SERVER_ERROR). Returns once
        recorded.

        Parameters
        ----------
        job_id : str

        Raises
        ------
        KeyError
            This executor did not start or adopt ``job_id``.
        """

    @abstractmethod
    def cancel_jobs(self, job_ids: list[str]) -> None:
        """End the jobs among ``job_ids`` that this executor runs; returns at once.

        A user cancelled them: ``cancel_requested_at`` is set, and
        ``queue.CANCEL_CHANNEL`` carried the ids. The others are ignored.
        ``watch_job`` records each as CANCELLED once its processes have ended. A
        cancel this executor missed (it was down) is carried out by ``adopt_jobs``.

        Parameters
        ----------
        job_ids : list of str
        """

    @abstractmethod
    async def adopt_jobs(self) -> None:
        """Take over the RUNNING jobs of its resources whose executor is gone
        (after a restart, or a crash): watch the ones still running (ending
        those whose cancel was recorded meanwhile), record the ones that ended
        from their end record, and end as SERVER_ERROR the ones nobody can tell
        about. Called at start and every ``queue.HEARTBEAT_INTERVAL`` seconds."""

    @abstractmethod
    def report_capacity(self) -> dict:
        """What this executor offers, as JSON for its registry row
        (``queue.heartbeat``; /api/sysinfo shows it).

        Returns
        -------
        dict
            ``memory_budget_mb`` (int, MiB its jobs may ask for together) and
            ``isolation`` (dict: what protects the host and other users from its
            jobs); a kind may add keys of its own.
        """

    @abstractmethod
    async def end_all(self) -> None:
        """End every job this executor runs and wait until each is recorded
        (tests that stop their in-process executor; a clean shutdown)."""
