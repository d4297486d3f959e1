"""``LocalExecutor``, the executor service's program (``services/executor``), one
per host: it claims queued jobs and runs them here. The app workers never
build it: what they show of it (capacity, isolation) it publishes in its
registry row.

Each job is started by the launcher (``launcher.py``) as a job init
(``job_init.c``): process 1 of the job's own PID namespace, which runs the
job as its user's Unix account, copies its output, ends every process of it
and writes its end record. The executor holds a pidfd of each job's init;
when it turns readable the job's record is final and the executor stores it.
A job does not depend on the executor: a restarted executor adopts its host's
jobs (their init's pid and start time are in their directory), or finishes
them from their end record, or, when both are gone, ends them as SERVER_ERROR.
"""

import asyncio
import datetime
import functools
import logging
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.orm import sessionmaker

from baselayer.app.config import Config
from baselayer.app.database import database_url
from baselayer.app.models import utcnow
from baselayer.app.notifications import Listener
from baselayer.app.plain_sql import PlainSQL, database_unavailable

from .. import metrics, queue, queues
from ..job_states import JobStatus
from ..queue import ClaimedJob, JobOutput
from .accounts import Account, Accounts
from .base import Executor
from .host_setup import HostSetup
from .job_end import RunningJob, how_it_ended
from .job_files import JobFiles
from .job_removal import remove_job_directory
from .launch import launch_job
from .launcher_client import LauncherClient, LaunchError
from .processes import (
    end_job,
    open_job_init,
    wait_for_pidfd,
)
from .registry import Registry
from .retention import Retention

log = logging.getLogger(__name__)

#: Seconds before looking again when another executor held the claim.
CLAIM_RETRY = 0.005
#: Seconds between looks for jobs whose executor has gone (and heartbeats).
ADOPT_INTERVAL = queue.HEARTBEAT_INTERVAL
#: A RUNNING job with neither an init nor an end record this long after it
#: started is lost (its executor died before launching it).
LAUNCH_GRACE = datetime.timedelta(seconds=10)
#: Seconds a job's start waits for an unreachable database (to read or make its
#: user's account) before it ends as SERVER_ERROR.
ACCOUNT_WAIT = 60.0
#: Seconds past ``kill_grace`` an ended job's init may take to write its record
#: before the executor kills it (and with it, the kernel, the whole job).
INIT_EXIT_GRACE = 10.0
#: Seconds after a job's deadline when the executor ends it, if its init (which
#: keeps the deadline itself, and judges whether the job timed out) has not.
TIMEOUT_BACKUP = 1.0


def executor_database_url(cfg: Config):
    """The executor's connection: ``database_url``'s, with generic plans for its
    prepared statements. PostgreSQL plans the claim afresh on each run otherwise
    (its parameters are arrays, so a custom plan looks cheaper): 1.0 ms of planning
    for a 0.3 ms statement with nothing queued; the generic plan is as good at a
    million jobs waiting (p50 3.3 ms against 5.2 ms planned each time). The
    executor's other statements look rows up by key: one plan serves them all.

    Parameters
    ----------
    cfg : Config

    Returns
    -------
    sqlalchemy.URL
    """
    url = database_url(cfg)
    options = f"{url.query.get('options', '')} -c plan_cache_mode=force_generic_plan".strip()
    return url.update_query_dict({"options": options})


def started_at(job: ClaimedJob) -> datetime.datetime:
    """When a local job started: its claim (``claim_jobs`` sets it for every job it
    starts; only a Slurm executor's held jobs have none).

    Raises
    ------
    ValueError
        The job has no start (it is no local RUNNING job).
    """
    if job.started_at is None:
        raise ValueError(f"job {job.id} has not started")
    return job.started_at


class LocalExecutor(Executor):
    """The executor of this host's jobs (``base.Executor``).

    Claims jobs from the queue, runs them here, watches them, and adopts its
    host's orphans; publishes its capacity and isolation in its registry row
    (``registry.py``) and removes its host's unwanted job files (``retention.py``).
    Making one connects nothing; ``start`` does.

    Parameters
    ----------
    cfg : Config
        The ``jobs`` section above all.
    session_factory : sessionmaker
        For the Unix accounts' statements (``accounts.py``: they run in threads,
        several at once, which the one plain connection cannot serve).

    Attributes
    ----------
    executor_name : str
        Its name in the registry: "host:pid".
    watching : dict of str to RunningJob
        The jobs it runs now, by id.

    Raises
    ------
    SystemExit
        ``jobs.sandbox`` or ``jobs.umask`` is not usable here.
    AccountError
        ``jobs.accounts`` is unusable.
    """

    def __init__(self, cfg: Config, session_factory: sessionmaker):
        self.cfg = cfg
        self.session_factory = session_factory
        # The claim uses plain SQL on the event loop's thread; a job's end is
        # recorded on a thread and connection of its own (``_finish``).
        self.sql = PlainSQL(executor_database_url(cfg), cfg["app.name"])
        self.end_sql = PlainSQL(executor_database_url(cfg), cfg["app.name"])
        self._ends = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job-ends")
        self.host = queues.host_name(cfg)
        self.setup = HostSetup(cfg)
        self.as_root = self.setup.as_root
        self._tasks: set[asyncio.Task] = set()
        self.executor_name = f"{self.host}:{os.getpid()}"
        self.watching: dict[str, RunningJob] = {}
        self._wakeup = asyncio.Event()
        self.listener = Listener(database_url(cfg))
        self.listener.subscribe(queue.QUEUED_CHANNEL, lambda payloads: self.wake())
        self.listener.subscribe(queue.CANCEL_CHANNEL, self.cancel_jobs)
        self.listener.subscribe(queue.DELETED_CHANNEL, self._on_jobs_deleted)
        self.accounts = Accounts(cfg, as_root=self.as_root)
        self.launcher: LauncherClient | None = None
        lost_after = datetime.timedelta(seconds=float(cfg["hosts.lost_after"]))
        self.registry = Registry(self.sql, self.host, self.executor_name, lost_after)
        self.retention = Retention(cfg, self.sql, self.host, self.setup.jobs_dir)
        # The server went away: the connections reconnect before their next use.
        self.listener.on_lost(self.sql.mark_stale)
        self.listener.on_lost(self.end_sql.mark_stale)

    @staticmethod
    async def _every(seconds: float, step, what: str) -> None:
        """``await step()`` now and every ``seconds``; a failure is logged, and the
        loop goes on."""
        while True:
            try:
                await step()
            except Exception:
                log.exception("%s failed", what)
            await asyncio.sleep(seconds)

    def _spawn(self, coroutine) -> asyncio.Task:
        task = asyncio.get_event_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ---- files and isolation ------------------------------------------------
    def job_files(self, job_id: str) -> JobFiles:
        """The files of job ``job_id`` on this host (``HostSetup.job_files``).

        Parameters
        ----------
        job_id : str

        Returns
        -------
        JobFiles
        """
        return self.setup.job_files(job_id)

    def report_capacity(self) -> dict:
        """What this executor offers: ``base.Executor.report_capacity``.

        Returns
        -------
        dict
            ``host`` (``hosts.name``), ``max_running`` (its slots:
            ``jobs.max_running``), ``memory_budget_mb`` (int, MiB:
            ``jobs.memory_budget_mb``, else the host's memory) and ``isolation``
            (``HostSetup.isolation``).
        """
        return {
            "host": self.host,
            "max_running": int(self.cfg["jobs.max_running"]),
            "memory_budget_mb": self.setup.memory_budget_mb,
            "isolation": self.setup.isolation(),
        }

    def publish(self) -> None:
        """Write this executor's registry row now (``Registry.heartbeat``); blocks for it."""
        self.registry.heartbeat(len(self.watching), self.report_capacity())

    def _on_jobs_deleted(self, hosts: list[str]) -> None:
        """Jobs were deleted (NOTIFY payloads: the hosts holding their directories)."""
        if self.host in hosts:
            self._spawn(self.retention.remove_deleted_dirs())

    # ---- start-up and waking ---------------------------------------------
    def start(self) -> None:
        """``base.Executor.start``: publish this executor, LISTEN, start the loops.

        Prepares the host (jobs directory, cgroups) and the launcher, publishes
        (``publish``), LISTENs for submissions, cancels and deletions, and starts the
        claim, heartbeat-and-adoption and retention loops on the running event loop.

        Raises
        ------
        SystemExit
            The job init is not built.
        OSError
            The host cannot be prepared (``HostSetup.prepare``).
        sqlalchemy.exc.OperationalError, psycopg2.OperationalError
            The database cannot be reached (the registry row, the LISTEN).
        """
        self.setup.prepare()
        self.launcher = LauncherClient()
        self.publish()
        self.listener.start()
        self._spawn(self._claim_loop())
        self._spawn(self._every(ADOPT_INTERVAL, self._heartbeat_and_adopt, "Adopting jobs"))
        if self.cfg["jobs.retention_days"]:
            interval = float(self.cfg["jobs.retention_interval"])
            sweep = self.retention.sweep_old_jobs
            self._spawn(self._every(interval, sweep, "Deleting old jobs"))
        self.wake()

    def wake(self) -> None:
        """Look for queued jobs now (a NOTIFY came, or capacity was freed)."""
        self._wakeup.set()

    # ---- claiming --------------------------------------------------------
    async def _claim_loop(self) -> None:
        # First the processes of jobs this host lost while its executor was away:
        # one queued again must not be claimed here while its old run goes on.
        await self.end_leftovers()
        interval = float(self.cfg["jobs.poll_interval"])
        while True:
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=interval)
            except TimeoutError:
                pass
            self._wakeup.clear()
            try:
                for job in self.claim_jobs() or ():
                    self._spawn(self.start_job(job))
            except Exception:
                log.exception("Claiming jobs failed; retrying in %s s", interval)

    def claim_jobs(self) -> list[ClaimedJob] | None:
        """``base.Executor.claim_jobs`` within this host's limits.

        Up to ``jobs.claim_batch`` jobs within ``jobs.max_running``,
        ``jobs.max_running_per_user`` and this host's memory budget; wakes the claim
        loop again when there may be more (it claimed some, or another claim was under way).

        Returns
        -------
        list of ClaimedJob or None
            None when another executor held the claim.
        """
        batch = int(self.cfg["jobs.claim_batch"])
        # On the event loop: a hop to a thread and back costs a single job more
        # latency (measured: round trip p50 +15 ms) than the claim blocks the loop.
        served = [q for q in queues.configured_queues(self.cfg) if q.serves(self.host)]
        claimed = queue.claim_jobs(
            self.sql,
            self.executor_name,
            host=self.host,
            queues=[q for q in served if q.executor == "local"],
            max_running=int(self.cfg["jobs.max_running"]),
            memory_budget_mb=self.setup.memory_budget_mb,
            batch=batch,
        )
        if claimed is None:
            # Another host's executor is claiming; it may leave jobs (or miss ones queued
            # since it looked): look again in a moment.
            asyncio.get_running_loop().call_later(CLAIM_RETRY, self.wake)
            return None
        for job in claimed:
            if job.queued_at is not None:
                wait = (started_at(job) - job.queued_at).total_seconds()
                metrics.QUEUE_WAIT.labels(queue=job.queue).observe(wait)
        if claimed:
            # There may be more: a full batch, or one the claim's cutoff kept short
            # (queue/claim.py); other hosts' executors take their share meanwhile.
            self.wake()
        return claimed

    # ---- running -----------------------------------------------------------
    def account(self, job: ClaimedJob) -> Account:
        """The Unix account the job runs as.

        Blocking the first time a user's job runs on this host: it may make the account.

        Parameters
        ----------
        job : ClaimedJob

        Returns
        -------
        Account

        Raises
        ------
        AccountError
            The account cannot be made or used (``Accounts.ensure``).
        """
        return self.accounts.ensure(job.submitter_id, job.username)

    async def start_job(self, job: ClaimedJob) -> None:
        """``base.Executor.start_job``: its user's account (made the first time), then
        ``launch.launch_job``; a cancel that came meanwhile ends it at once.

        Any failure to start it ends it as SERVER_ERROR (or leaves it to adoption
        while the database is away); raises nothing.

        Parameters
        ----------
        job : ClaimedJob
        """
        running = RunningJob(
            id=job.id,
            files=self.setup.job_files(job.id),
            started_at=started_at(job),
            deadline=started_at(job) + datetime.timedelta(seconds=job.timeout),
            cgroup=self.setup.job_cgroup(job.id),
            queue=job.queue,
        )
        self.watching[job.id] = running
        try:
            account = self.accounts.cached(job.submitter_id) or await self._account_when_reachable(
                job
            )
            if self.launcher is None:
                raise LaunchError("the executor has not started its launcher")
            if os.path.lexists(running.files.root):
                # An earlier job's with this id (deleted, its directory not yet
                # removed), or this job's own earlier run (queued again after this
                # host was judged lost): its processes ended first, then removed as
                # its user (job_removal), not by the launcher.
                await self._end_earlier_run(running.files)
                await asyncio.to_thread(remove_job_directory, running.files.root)
            running.pidfd = await launch_job(
                self.launcher, self.setup.job_launch(job, running, account)
            )
        except Exception as exc:  # the service, not the script, failed to start it
            log.exception("Could not start job %s", job.id)
            self.watching.pop(job.id, None)
            try:
                await self._finish(
                    job.id, JobStatus.SERVER_ERROR, message=f"could not start the job: {exc}"
                )
            except Exception:
                # The database is away: the adoption loop finds the job RUNNING with
                # no init and ends it as lost once it is back.
                log.exception("Could not record that job %s could not start", job.id)
            return
        if running.cancel_requested or running.taken:
            # Cancelled, or taken from this executor (its host judged lost), while it
            # was being started: the request found no init yet.
            self._end(running)
        await self.watch_job(job.id)

    async def _account_when_reachable(self, job: ClaimedJob) -> Account:
        """``account(job)`` in a thread, waiting out a database that is away (it
        comes back: supervisor restarts it) for up to ACCOUNT_WAIT seconds. Raises
        what ``account`` raises otherwise (AccountError: the operator must act)."""
        deadline = asyncio.get_running_loop().time() + ACCOUNT_WAIT
        while True:
            try:
                return await asyncio.to_thread(self.account, job)
            except Exception as exc:
                if not database_unavailable(exc):
                    raise
                if asyncio.get_running_loop().time() > deadline:
                    raise
                log.warning("Job %s waits for the database to make its account", job.id)
                await asyncio.sleep(1.0)

    def _end(self, running: RunningJob) -> None:
        """Ask the job's init to end every process of the job (TERM, kill_grace,
        KILL): the one way this executor ends a job."""
        if running.pidfd is not None:
            end_job(running.pidfd)

    def cancel_jobs(self, job_ids: list[str]) -> None:
        """``base.Executor.cancel_jobs``: end the ones this executor runs.

        Including one whose init is still being started (``start_job`` ends it once
        it is).

        Parameters
        ----------
        job_ids : list of str
            From ``queue.CANCEL_CHANNEL``'s payloads.
        """
        for job_id in job_ids:
            running = self.watching.get(job_id)
            if running is not None and not running.cancel_requested:
                running.cancel_requested = True
                self._end(running)

    async def watch_job(self, job_id: str) -> None:
        """``base.Executor.watch_job``: wait for the job's init to exit, then record how
        the job ended.

        The init keeps the deadline itself; TIMEOUT_BACKUP seconds after it, the
        executor asks it to end the job, and kills an init stuck past ``kill_grace`` +
        INIT_EXIT_GRACE seconds. The pidfd is closed once recorded.

        Parameters
        ----------
        job_id : str

        Raises
        ------
        KeyError
            This executor does not run ``job_id``, or its init is not started yet.
        """
        running = self.watching[job_id]
        pidfd = running.pidfd
        if pidfd is None:  # still being launched: start_job watches it once it is
            raise KeyError(f"job {job_id} has no init yet")
        try:
            waiting = self._spawn(wait_for_pidfd(pidfd))
            deadline = running.deadline + datetime.timedelta(seconds=TIMEOUT_BACKUP)
            remaining = (deadline - utcnow()).total_seconds()
            try:
                await asyncio.wait_for(asyncio.shield(waiting), timeout=max(remaining, 0))
            except TimeoutError:
                running.timed_out = True
                self._end(running)
            try:
                await asyncio.wait_for(
                    asyncio.shield(waiting), timeout=self.setup.kill_grace + INIT_EXIT_GRACE
                )
            except TimeoutError:
                # The init itself is stuck: killing it ends its PID namespace.
                log.error("Job %s: its init did not exit; killing it", running.id)
                try:
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                except ProcessLookupError:
                    pass  # it exited meanwhile
                await waiting
            await self._record_end(running)
        finally:
            self.watching.pop(running.id, None)
            if running.pidfd is not None:
                os.close(running.pidfd)

    async def _record_end(self, running: RunningJob) -> None:
        # Reading the files (and removing a cgroup an init left) blocks: in a thread.
        status, output, message, limit = await asyncio.to_thread(
            how_it_ended, running, int(self.cfg["jobs.max_output_bytes"])
        )
        if running.taken:
            return  # no longer this executor's: another host ended or runs it
        running.recording = True
        await self._finish(running.id, status, output, message)
        run_seconds = (utcnow() - running.started_at).total_seconds()
        metrics.record_end(running.queue, status, run_seconds, limit)

    async def _finish(self, job_id: str, status: JobStatus, output=None, message=None) -> None:
        """Record a job's end (``queue.finish_job``) on the ends' own thread and
        connection, then look for queued jobs (capacity freed).

        Ends and starts do not queue behind each other: while an array's tasks end
        by hundreds a second, a finish (a statement that also releases dependents)
        would hold the event loop, and with it the claim of another user's job, for
        its whole round trip. One thread keeps each job's statements in order.

        Raises
        ------
        DatabaseUnavailable
            The database is away (the adoption loop records the job once it is back).
        """
        finish = functools.partial(
            queue.finish_job,
            self.end_sql,
            job_id,
            status,
            output or JobOutput(),
            message,
            self.executor_name,
        )
        await asyncio.get_running_loop().run_in_executor(self._ends, finish)
        # Capacity freed: others' NOTIFY wakes them; wake ourselves at once.
        self.wake()

    async def end_all(self) -> None:
        """``base.Executor.end_all``."""
        waiting = list(self.watching.values())
        for running in waiting:
            self._end(running)
        while any(running.id in self.watching for running in waiting):
            await asyncio.sleep(0.05)

    # ---- adopting orphans --------------------------------------------------
    async def _end_earlier_run(self, files) -> None:
        """End the processes of an earlier run in a job directory about to be
        reused, and wait (kill_grace + INIT_EXIT_GRACE at most) for its init to exit."""
        pidfd = open_job_init(files)
        if pidfd is None:
            return
        try:
            log.warning("Job %s: ending the processes of its earlier run here", files.root.name)
            end_job(pidfd)
            try:
                await asyncio.wait_for(
                    wait_for_pidfd(pidfd), timeout=self.setup.kill_grace + INIT_EXIT_GRACE
                )
            except TimeoutError:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        finally:
            os.close(pidfd)

    async def end_leftovers(self) -> None:
        """At start: end the jobs whose inits still run in this host's jobs directory
        but that are not RUNNING on this host any more: while this host's executor
        was away for ``hosts.lost_after``, another host judged it lost and ended
        them, or queued them again (to run elsewhere). Their processes must not go
        on. The jobs RUNNING here are left to ``adopt_jobs``. Then the output of
        every job the loss ended (those that ended by themselves meanwhile too) is
        stored with it (``queue.attach_lost_output``)."""
        try:
            inits = await asyncio.to_thread(self._live_inits)
            running_here = (
                {job.id for job in self.registry.jobs_on_this_host([])} if inits else set()
            )
            lost = {job_id: pidfd for job_id, pidfd in inits.items() if job_id not in running_here}
            for job_id, pidfd in inits.items():
                if job_id in lost:
                    log.warning("Job %s is no longer this host's: ending its processes", job_id)
                    end_job(pidfd)
                else:
                    os.close(pidfd)
            await asyncio.gather(*(self._wait_for_end(pidfd) for pidfd in lost.values()))
            for job_id in queue.jobs_lost_without_output(self.sql, self.host):
                await self._recover_output(job_id)
            # In the background: an earlier stack may have left thousands.
            self._spawn(self._remove_unknown_dirs(set(inits)))
        except Exception:
            log.exception("Ending the processes of jobs this host lost failed")

    async def _wait_for_end(self, pidfd: int) -> None:
        """Wait for an init asked to end (kill_grace + INIT_EXIT_GRACE at most, then
        SIGKILL), and close its pidfd."""
        try:
            try:
                await asyncio.wait_for(
                    wait_for_pidfd(pidfd), timeout=self.setup.kill_grace + INIT_EXIT_GRACE
                )
            except TimeoutError:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                await wait_for_pidfd(pidfd)
        finally:
            os.close(pidfd)

    async def _recover_output(self, job_id: str) -> None:
        """Store what a job this host's loss ended wrote (and its exit code, if it
        ended by itself meanwhile), from its directory here."""
        files = self.setup.job_files(job_id)
        if not files.root.is_dir():
            return
        running = RunningJob(
            id=job_id, files=files, started_at=utcnow(), deadline=utcnow(), cgroup=None
        )
        _, output, _, _ = await asyncio.to_thread(
            how_it_ended, running, int(self.cfg["jobs.max_output_bytes"])
        )
        if queue.attach_lost_output(self.sql, job_id, self.host, output):
            log.info("Job %s: output recovered after this host's loss", job_id)

    async def _remove_unknown_dirs(self, live: set[str], names: list[str] | None = None) -> None:
        """Remove the job directories here that no job of this database names: an
        earlier stack's at the same place (a fallback under /var/lib/shell_service
        outlives its stack), or a deleted job's whose removal was missed. Left,
        a new job of the same id would show their files as its log. A directory made
        since this began (a job started meanwhile) is left alone."""
        began = time.time()
        if names is None:  # every directory here (``names``: these only)
            names = await asyncio.to_thread(self._job_dir_names)
        names = [name for name in names if name not in live]
        known: set[str] = set()
        for start in range(0, len(names), 10_000):
            known |= queue.known_jobs(self.sql, names[start : start + 10_000])
        for name in names:
            if name not in known:
                await asyncio.to_thread(self._remove_if_older, name, began)

    def _job_dir_names(self) -> list[str]:
        """The names of the directories in this host's jobs directory. Blocking."""
        with os.scandir(self.setup.jobs_dir) as entries:
            return [e.name for e in entries if e.is_dir(follow_symlinks=False)]

    def _remove_if_older(self, name: str, began: float) -> None:
        """Remove job directory ``name`` unless it was made (or changed) at or after
        ``began`` (epoch seconds): a job started meanwhile. Blocking."""
        path = self.setup.jobs_dir / name
        try:
            if path.lstat().st_ctime >= began:
                return
        except FileNotFoundError:
            return
        log.info("Removing job directory %s: no job of this database has it", name)
        remove_job_directory(path)

    def _live_inits(self) -> dict[str, int]:
        """Job id -> a pidfd of its init, for the job directories here whose init
        still runs (no end record yet). Blocking: a scan of the jobs directory."""
        inits = {}
        with os.scandir(self.setup.jobs_dir) as entries:
            for entry in entries:
                if not entry.is_dir(follow_symlinks=False):
                    continue
                files = self.setup.job_files(entry.name)
                if not files.wrapper_pid.exists() or files.exit_status.exists():
                    continue
                pidfd = open_job_init(files)
                if pidfd is not None:
                    inits[entry.name] = pidfd
        return inits

    async def _heartbeat_and_adopt(self) -> None:
        self.publish()
        await self.retention.remove_deleted_dirs()  # in case a NOTIFY was missed
        await self.adopt_jobs()

    async def adopt_jobs(self) -> None:
        """``base.Executor.adopt_jobs``, for this host: a job whose init runs is
        watched, one with an end record is recorded, one with neither (past
        LAUNCH_GRACE) ends as SERVER_ERROR; the jobs of silent hosts
        (``Registry.jobs_lost_elsewhere``) end as SERVER_ERROR too."""
        jobs = self.registry.jobs_on_this_host(list(self.watching))
        for job_id, host, requeue in self.registry.jobs_lost_elsewhere():
            outcome = self.registry.lose(job_id, host, requeue)
            if outcome:
                log.warning("Job %s: host %s lost; the job is %s", job_id, host, outcome)
        # A job whose end is being stored is no longer RUNNING here: not taken.
        unrecorded = [job_id for job_id, run in self.watching.items() if not run.recording]
        for job_id in self.registry.taken_from_me(unrecorded):
            # This host was judged lost while it ran them (the database or the
            # network was away for hosts.lost_after): they are ended or queued
            # again elsewhere, so they must not go on here.
            log.warning("Job %s was taken from this executor: ending its processes", job_id)
            running = self.watching[job_id]
            running.taken = True
            self._end(running)
        for job in jobs:
            watched = self.watching.get(job.id)
            if watched is not None:
                if job.cancel_requested_at and not watched.cancel_requested:
                    self.cancel_jobs([job.id])  # its NOTIFY was missed
                continue
            if not self.registry.take_over(job):
                continue
            if job.executor != self.executor_name:
                log.info("Adopted job %s from %s", job.id, job.executor)
            files = self.setup.job_files(job.id)
            running = RunningJob(
                id=job.id,
                files=files,
                started_at=started_at(job),
                deadline=started_at(job) + datetime.timedelta(seconds=job.timeout),
                cgroup=self.setup.job_cgroup(job.id),
                cancel_requested=job.cancel_requested_at is not None,
                queue=job.queue,
            )
            if files.read_end() is not None:
                await self._record_end(running)
                continue
            running.pidfd = open_job_init(files)
            if running.pidfd is not None:
                self.watching[job.id] = running
                if running.cancel_requested:
                    self._end(running)
                self._spawn(self.watch_job(job.id))
            elif files.wrapper_pid.exists() or utcnow() - started_at(job) > LAUNCH_GRACE:
                await self._finish(
                    job.id,
                    JobStatus.SERVER_ERROR,
                    message="the job's process and exit status are both gone "
                    "(its executor or the host stopped while it ran)",
                )
