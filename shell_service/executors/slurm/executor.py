"""``SlurmExecutor``: the program of ``services/slurm_executor``, one per stack
that has Slurm queues. It hands their jobs to a Slurm cluster and sees each to
its end.

- **Claim**: ``queue.claim_jobs(hold=True)`` for the Slurm queues, under the
  host name "<hosts.name>/slurm": the jobs stay QUEUED, held by this executor
  (the queue's ``max_running`` and per-user limit count them), until Slurm
  starts them.
- **Submit**: the job's directory and batch script (``batch.py``), then
  ``sbatch``; its Slurm job id is recorded. Slurm unreachable: the job stays
  QUEUED and is tried again (looked up by name first, in case the submission
  got through); refused: SERVER_ERROR with Slurm's message.
- **Poll**: one ``squeue`` per queue every ``slurm.poll_interval`` seconds for
  all its jobs. PENDING shows Slurm's reason; RUNNING moves the job to RUNNING
  (with its node); an end, or a job Slurm no longer lists, is judged from the
  job's end record (``exit_status``, written by its init) and Slurm's state
  (``outcome.py``). A failed poll changes nothing. A job whose name is not its id
  is not ours (a controller that lost a job gave its id to another).
- **Cancel**: ``scancel``; the init ends the job's processes and writes its
  record, which says CANCELLED.
- **Restart**: at start and every heartbeat it adopts the held jobs of its host
  name whose executor is gone, and resumes tracking them from their Slurm ids
  (a job with no id yet is looked up by name, or submitted).
"""

import asyncio
import datetime
import logging
import os
import re
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import sessionmaker

from baselayer.app.config import Config
from baselayer.app.database import database_url
from baselayer.app.models import utcnow
from baselayer.app.notifications import Listener
from baselayer.app.plain_sql import PlainSQL

from ... import metrics, queue, queues
from ...job_paths import job_dir, slurm_jobs_dirs
from ...job_states import JobStatus
from ...queue import ClaimedJob, JobOutput
from ...queue.claim import UNLIMITED
from ..accounts import Accounts
from ..base import Executor
from ..host_setup import HostSetup
from ..init_program import PROGRAM as INIT_PROGRAM
from ..job_end import RunningJob, how_it_ended
from ..job_files import JobFiles
from ..job_removal import remove_job_directory
from ..local import executor_database_url
from ..registry import Registry
from . import outcome
from .batch import sbatch_options, slurm_log, write_submission
from .commands import SlurmClient, SlurmRecord, SlurmRefused, SlurmUnavailable

log = logging.getLogger(__name__)

#: A job directory's name: a job's id (the API makes them: "job_" and 32 hex digits).
JOB_DIR_NAME = re.compile(r"job_[0-9a-f]{32}")
#: Seconds between tries to submit a job while Slurm is unreachable.
SUBMIT_RETRY = 5.0
#: sbatch calls under way at once (Slurm's advice: submit at a bounded rate).
SUBMIT_CONCURRENCY = 8
#: Seconds past ``jobs.kill_grace`` a cancelled job's init may take to end it
#: before Slurm's own scancel does.
CANCEL_BACKSTOP = 30.0
#: Bytes of the end of a job's Slurm log read to judge how it ended.
SLURM_LOG_TAIL = 4096


@dataclass
class TrackedJob:
    """A job this executor holds, while it tracks it.

    Attributes
    ----------
    job : ClaimedJob
    queue : Queue
    files : JobFiles
        Its directory under the queue's jobs_dir.
    status : str
        QUEUED (not submitted, or pending in Slurm) or RUNNING.
    slurm_job_id : int or None
    started_at : datetime.datetime or None
        When it was seen running (naive UTC).
    cancel_requested : bool
    missing_since : float or None
        ``time.monotonic()`` when Slurm first did not list it.
    ended_seen : bool
        Slurm's state was an end at the last poll (the record gets one more poll
        to show up on a shared filesystem).
    message : str or None
        The pending reason last recorded (a poll writes only a change).
    done : asyncio.Event
        Set once its end is recorded (``watch_job``).
    """

    job: ClaimedJob
    queue: queues.Queue
    files: JobFiles
    status: str = JobStatus.QUEUED.value
    slurm_job_id: int | None = None
    started_at: datetime.datetime | None = None
    cancel_requested: bool = False
    submitting: bool = False
    missing_since: float | None = None
    ended_seen: bool = False
    message: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


class SlurmExecutor(Executor):
    """The executor of the Slurm queues (``base.Executor``).

    Parameters
    ----------
    cfg : Config
    session_factory : sessionmaker
        For the Unix accounts' statements (``accounts.Accounts``).

    Attributes
    ----------
    executor_name : str
        "<hosts.name>/slurm:<pid>".
    tracked : dict of str to TrackedJob
        The jobs it holds, by id.

    Raises
    ------
    QueueConfigError
        ``queues:`` is not valid.
    """

    def __init__(self, cfg: Config, session_factory: sessionmaker):
        self.cfg = cfg
        self.sql = PlainSQL(executor_database_url(cfg), cfg["app.name"])
        self.host = f"{queues.host_name(cfg)}/slurm"
        self.executor_name = f"{self.host}:{os.getpid()}"
        self.client = SlurmClient(cfg)
        self.setup = HostSetup(cfg)
        self.accounts = Accounts(cfg, as_root=self.setup.as_root)
        self.jobs_dirs = slurm_jobs_dirs(cfg)
        self.tracked: dict[str, TrackedJob] = {}
        # Queue -> its partition's largest node (published: the API refuses a job
        # no node could hold).
        self.largest_nodes: dict[str, dict] = {}
        self._tasks: set[asyncio.Task] = set()
        self._wakeup = asyncio.Event()
        self._submit_slots = asyncio.Semaphore(SUBMIT_CONCURRENCY)
        self.listener = Listener(database_url(cfg))
        self.listener.subscribe(queue.QUEUED_CHANNEL, lambda payloads: self.wake())
        self.listener.subscribe(queue.CANCEL_CHANNEL, self.cancel_jobs)
        self.listener.subscribe(queue.DELETED_CHANNEL, self._on_jobs_deleted)
        self.listener.on_lost(self.sql.mark_stale)
        lost_after = datetime.timedelta(seconds=float(cfg["hosts.lost_after"]))
        self.registry = Registry(self.sql, self.host, self.executor_name, lost_after)

    # ---- set-up ------------------------------------------------------------
    def slurm_queues(self) -> list[queues.Queue]:
        """The configured queues with ``executor: slurm`` (read afresh: a test may
        change their limits in the running config)."""
        return [q for q in queues.configured_queues(self.cfg) if q.slurm is not None]

    def job_files(self, job: ClaimedJob) -> JobFiles:
        """The directory of a Slurm queue's job: ``<its queue's jobs dir>/<id>``."""
        return JobFiles(job_dir(self.jobs_dirs[job.queue], job.id))

    def report_capacity(self) -> dict:
        """``base.Executor.report_capacity``: ``host``, ``kind`` "slurm", its
        ``queues`` and the largest node of each one's partition (``largest_nodes``:
        queue -> {"memory_mb", "cpus"}, from sinfo), no slots or memory of its own
        (``max_running`` 0, ``memory_budget_mb`` 0: Slurm's nodes have them) and
        ``isolation``."""
        return {
            "host": self.host,
            "kind": "slurm",
            "queues": sorted(self.jobs_dirs),
            "largest_nodes": dict(self.largest_nodes),
            "max_running": 0,
            "memory_budget_mb": 0,
            # Its jobs' inits run on the nodes as on a host: a PID namespace each,
            # their user's account; their cgroups are Slurm's, not ours.
            "isolation": {**self.setup.isolation(), "cgroups": None},
        }

    def start(self) -> None:
        """``base.Executor.start``: make the queues' job directories, publish,
        LISTEN, and start the claim, poll (one per queue) and heartbeat loops.

        Raises
        ------
        SystemExit
            The job init is not built.
        OSError
            A jobs directory cannot be made.
        """
        if not INIT_PROGRAM.exists():
            raise SystemExit(f"{INIT_PROGRAM} is not built: run make")
        for directory in self.jobs_dirs.values():
            ensure_jobs_dir(directory)
        self.registry.heartbeat(len(self.tracked), self.report_capacity())
        self.listener.start()
        self._spawn(self._every(queue.HEARTBEAT_INTERVAL, self._heartbeat_and_adopt, "Adopting"))
        for slurm_queue in self.slurm_queues():
            self._spawn(self._poll_loop(slurm_queue.name))
        self._spawn(self._claim_loop())

    def wake(self) -> None:
        """Look for queued jobs now."""
        self._wakeup.set()

    def _spawn(self, coroutine) -> asyncio.Task:
        task = asyncio.get_event_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @staticmethod
    async def _every(seconds: float, step, what: str) -> None:
        while True:
            try:
                await step()
            except Exception:
                log.exception("%s failed", what)
            await asyncio.sleep(seconds)

    # ---- claiming and submitting ------------------------------------------------
    async def _claim_loop(self) -> None:
        await self._heartbeat_and_adopt()  # our jobs first: none is submitted twice
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
        """``base.Executor.claim_jobs`` for the Slurm queues: the jobs are held
        QUEUED (``queue.claim_jobs(hold=True)``) within each queue's limits; no
        slots or memory of this host bound them (Slurm's nodes have them).

        Returns
        -------
        list of ClaimedJob or None
            None when another executor held the claim.
        """
        claimed = queue.claim_jobs(
            self.sql,
            self.executor_name,
            host=self.host,
            queues=self.slurm_queues(),
            max_running=UNLIMITED,
            memory_budget_mb=UNLIMITED,
            batch=int(self.cfg["jobs.claim_batch"]),
            hold=True,
        )
        if claimed is None:
            asyncio.get_running_loop().call_later(0.005, self.wake)
        elif claimed:
            self.wake()  # there may be more
        return claimed

    def _track(self, job: ClaimedJob, status: str, slurm_job_id: int | None) -> TrackedJob:
        slurm_queue = queues.queue_named(self.cfg, job.queue)
        assert slurm_queue is not None and slurm_queue.slurm is not None
        tracked = TrackedJob(
            job=job,
            queue=slurm_queue,
            files=self.job_files(job),
            status=status,
            slurm_job_id=slurm_job_id,
            started_at=job.started_at,
            cancel_requested=job.cancel_requested_at is not None,
        )
        self.tracked[job.id] = tracked
        return tracked

    async def start_job(self, job: ClaimedJob) -> None:
        """``base.Executor.start_job``: submit it to Slurm (``_submit``); its polls
        then watch it. Raises nothing."""
        tracked = self._track(job, JobStatus.QUEUED.value, None)
        await self._submit(tracked, fresh=True)

    async def _submit(self, tracked: TrackedJob, fresh: bool) -> None:
        """Write the job's directory and sbatch it; retried while Slurm is
        unreachable. ``fresh``: a directory of its id is an earlier job's (or an
        earlier try's that never ran) and is removed first."""
        job = tracked.job
        tracked.submitting = True
        try:
            async with self._submit_slots:
                if tracked.cancel_requested:
                    self._finish(tracked, JobStatus.CANCELLED, JobOutput(), None)
                    return
                account = self.accounts.cached(job.submitter_id)
                if account is None:
                    account = await asyncio.to_thread(
                        self.accounts.ensure, job.submitter_id, job.username
                    )
                running = RunningJob(
                    id=job.id,
                    files=tracked.files,
                    started_at=utcnow(),
                    deadline=utcnow() + datetime.timedelta(seconds=job.timeout),
                    queue=job.queue,
                )
                launch = self.setup.job_launch(job, running, account)
                # The init gets the whole timeout: it counts from when Slurm starts it.
                launch = _with_timeout(launch, job.timeout)
                if fresh and os.path.lexists(tracked.files.root):
                    await asyncio.to_thread(remove_job_directory, tracked.files.root)
                script = await asyncio.to_thread(write_submission, launch, INIT_PROGRAM)
                options = sbatch_options(
                    job.id, tracked.files, tracked.queue, job.timeout, job.cpus, job.memory_mb
                )
                while True:
                    try:
                        slurm_job_id = await self.client.submit(options, str(script))
                        break
                    except SlurmUnavailable as exc:
                        log.warning("Job %s: Slurm unreachable (%s); trying again", job.id, exc)
                        message = f"waiting for Slurm: {exc}"[:500]
                        queue.record_pending_reason(self.sql, job.id, self.executor_name, message)
                        await asyncio.sleep(SUBMIT_RETRY)
                        # It may have got through: sbatch timed out after Slurm took it.
                        found = await self._find_by_name(job.id)
                        if found is not None:
                            slurm_job_id = found
                            break
                        if tracked.cancel_requested:
                            self._finish(tracked, JobStatus.CANCELLED, JobOutput(), None)
                            return
        except SlurmRefused as exc:
            self._finish(
                tracked, JobStatus.SERVER_ERROR, JobOutput(), f"Slurm refused the job: {exc}"
            )
            return
        except Exception as exc:
            log.exception("Could not submit job %s", job.id)
            message = f"could not submit the job to Slurm: {exc}"
            self._finish(tracked, JobStatus.SERVER_ERROR, JobOutput(), message)
            return
        finally:
            tracked.submitting = False
        tracked.slurm_job_id = slurm_job_id
        tracked.missing_since = None
        queue.record_submission(self.sql, job.id, self.executor_name, slurm_job_id)
        if tracked.cancel_requested:
            tracked.cancel_requested = False  # carried out now, as a new one
            self.cancel_jobs([job.id])

    async def _find_by_name(self, job_id: str) -> int | None:
        """The Slurm id of our job named ``job_id``, if Slurm lists one (the
        newest); None if it lists none or cannot be asked."""
        try:
            found = await self.client.jobs(name=job_id)
        except SlurmUnavailable:
            return None
        ids = [record.slurm_job_id for record in found.values() if record.name == job_id]
        return max(ids) if ids else None

    # ---- polling -----------------------------------------------------------
    async def _poll_loop(self, queue_name: str) -> None:
        while True:
            slurm_queue = queues.queue_named(self.cfg, queue_name)
            if slurm_queue is None or slurm_queue.slurm is None:
                return  # no longer a Slurm queue (config changed under a test)
            try:
                await self.poll(slurm_queue)
            except Exception:
                log.exception("Polling Slurm for queue %s failed", queue_name)
            await asyncio.sleep(slurm_queue.slurm.poll_interval)

    async def poll(self, slurm_queue: queues.Queue) -> None:
        """One ``squeue`` for every job of ``slurm_queue`` this executor tracks,
        and what it says recorded. A failed squeue changes nothing.

        Parameters
        ----------
        slurm_queue : Queue
        """
        assert slurm_queue.slurm is not None
        # Submitted ones, and those adopted with no id that may have run (missing).
        mine = [
            t
            for t in self.tracked.values()
            if t.queue.name == slurm_queue.name
            and (t.slurm_job_id is not None or t.missing_since is not None)
        ]
        if not mine:
            return
        try:
            records = await self.client.jobs(partition=slurm_queue.slurm.partition)
        except SlurmUnavailable as exc:
            log.warning("squeue failed for queue %s: %s", slurm_queue.name, exc)
            return
        for tracked in mine:
            if tracked.done.is_set() or tracked.submitting:
                continue
            record = records.get(tracked.slurm_job_id or -1)
            if record is not None and record.name != tracked.job.id:
                record = None  # its id went to another job: ours is lost to Slurm
            try:
                await self._reconcile(tracked, record)
            except Exception:
                log.exception("Job %s: recording Slurm's state failed", tracked.job.id)

    async def _reconcile(self, tracked: TrackedJob, record: SlurmRecord | None) -> None:
        """Record what Slurm says of one job (``record``: None when not listed)."""
        job = tracked.job
        if record is not None:
            tracked.missing_since = None
            if record.state in outcome.PENDING:
                message = outcome.pending_message(record.reason)
                if message != tracked.message:
                    queue.record_pending_reason(self.sql, job.id, self.executor_name, message)
                    tracked.message = message
                return
            if record.state in outcome.RUNNING:
                self._started(tracked, record.node)
                return
            if record.state in outcome.ENDED and not tracked.files.exit_status.exists():
                if not tracked.ended_seen:
                    tracked.ended_seen = True  # one more poll for the record to show
                    return
            await self._ended(tracked, record.state, record.reason, record.node)
            return
        # Not listed: forgotten after MinJobAge (it ended), or lost by the controller.
        if tracked.files.exit_status.exists():
            await self._ended(tracked, None, "", None)
            return
        now = time.monotonic()
        if tracked.missing_since is None:
            tracked.missing_since = now
            return
        assert tracked.queue.slurm is not None
        if now - tracked.missing_since < tracked.queue.slurm.lost_grace:
            return
        if tracked.slurm_job_id:
            # Slurm forgot it: its accounting (or completion file) may still say how
            # it ended (a lost node, a kill), better than "lost by Slurm".
            final = await self.client.final_state(tracked.slurm_job_id, job.id)
            if final is not None and final[0] in outcome.ENDED:
                await self._ended(tracked, final[0], "", final[1])
                return
        if not tracked.files.work.exists() and not tracked.cancel_requested:
            # Slurm lost it before it started (a controller crash right after the
            # submission): it never ran, so it is submitted again.
            log.warning("Job %s: Slurm lost it before it started; submitting again", job.id)
            tracked.slurm_job_id = None
            await asyncio.to_thread(remove_job_directory, tracked.files.root)
            await self._submit(tracked, fresh=True)
            return
        await self._ended(tracked, None, "", None)

    def _started(self, tracked: TrackedJob, node: str | None) -> None:
        if tracked.status == JobStatus.RUNNING:
            return
        started_at = utcnow()
        queue.record_start(
            self.sql, tracked.job.id, self.executor_name, node, started_at, tracked.slurm_job_id
        )
        tracked.status = JobStatus.RUNNING.value
        tracked.started_at = started_at
        if tracked.job.queued_at is not None:
            wait = (started_at - tracked.job.queued_at).total_seconds()
            metrics.QUEUE_WAIT.labels(queue=tracked.job.queue).observe(wait)

    async def _ended(
        self, tracked: TrackedJob, state: str | None, reason: str, node: str | None
    ) -> None:
        """Record the end of a job Slurm ended (``state``) or no longer lists (None),
        from its end record and Slurm's state."""
        running = RunningJob(
            id=tracked.job.id,
            files=tracked.files,
            started_at=tracked.started_at or utcnow(),
            deadline=utcnow(),
            cancel_requested=tracked.cancel_requested,
            queue=tracked.job.queue,
        )
        max_output = int(self.cfg["jobs.max_output_bytes"])
        status, output, message, limit = await asyncio.to_thread(how_it_ended, running, max_output)
        ran = await asyncio.to_thread(tracked.files.work.exists)
        record = tracked.files.read_end()
        # Slurm ended it (scancel by someone else, its own time limit, preemption):
        # the init's record then shows only the TERM it was sent, not why.
        slurm_ended_it = state in outcome.ENDED_BY_SLURM and not (record or {}).get("timed_out")
        host_lost = False
        if record is None or (slurm_ended_it and not tracked.cancel_requested):
            if state in outcome.NODE_LOST and tracked.job.requeue_on_host_loss:
                if not tracked.cancel_requested:
                    self._requeue(tracked, node)
                    return
            tail = await asyncio.to_thread(_tail, slurm_log(tracked.files), SLURM_LOG_TAIL)
            who = None
            if state == "CANCELLED" and not tracked.cancel_requested and tracked.slurm_job_id:
                who = await self.client.cancelled_by(tracked.slurm_job_id)
            status, message, limit = outcome.outcome_without_record(
                state, reason, node, ran, tracked.cancel_requested, tail, who
            )
            # A node's failure: its retry strategy's HOST_LOST, as a lost host's.
            host_lost = state in outcome.NODE_LOST and status == JobStatus.SERVER_ERROR
        if ran or status not in (JobStatus.CANCELLED, JobStatus.SERVER_ERROR):
            # It ran (maybe between two polls): RUNNING first, then its end.
            self._started(tracked, node)
        self._finish(tracked, status, output, message, host_lost)
        if ran:
            run_seconds = (utcnow() - (tracked.started_at or utcnow())).total_seconds()
            metrics.record_end(tracked.job.queue, status, run_seconds, limit)

    def _requeue(self, tracked: TrackedJob, node: str | None) -> None:
        """Its node was lost and it asked for ``requeue_on_host_loss``: back to QUEUED
        (RUNNING -> QUEUED, as a local job of a lost host), claimed and submitted
        afresh (its directory is removed first), as Slurm's requeue would, once."""
        self._started(tracked, node)
        queue.requeue_lost_job(self.sql, tracked.job.id, f"{node or '?'} (Slurm node)")
        tracked.done.set()
        self.tracked.pop(tracked.job.id, None)
        self.wake()

    def _finish(
        self,
        tracked: TrackedJob,
        status: JobStatus,
        output: JobOutput,
        message: str | None,
        host_lost: bool = False,
    ) -> None:
        # A retried job is QUEUED again: this executor claims and submits it afresh.
        queue.finish_job(
            self.sql, tracked.job.id, status, output, message, self.executor_name, host_lost
        )
        tracked.done.set()
        self.tracked.pop(tracked.job.id, None)

    async def watch_job(self, job_id: str) -> None:
        """``base.Executor.watch_job``: wait until the job's end is recorded (the
        queue's polls record it).

        Raises
        ------
        KeyError
            This executor does not hold ``job_id``.
        """
        await self.tracked[job_id].done.wait()

    # ---- cancel --------------------------------------------------------------
    def cancel_jobs(self, job_ids: list[str]) -> None:
        """``base.Executor.cancel_jobs``: end the ones this executor holds; one not
        yet submitted is cancelled before or right after its submission. Their
        polls then record them CANCELLED.

        A running job's init is sent TERM alone (``scancel --batch``): it ends the
        job's processes as on a local host (TERM, ``jobs.kill_grace``, KILL) and
        records the end with the output; Slurm's own scancel (TERM to every
        process at once) is kept for pending jobs, and as a backstop."""
        running: list[TrackedJob] = []
        pending: list[TrackedJob] = []
        for job_id in job_ids:
            tracked = self.tracked.get(job_id)
            if tracked is None or tracked.cancel_requested:
                continue
            tracked.cancel_requested = True
            if tracked.slurm_job_id:
                group = running if tracked.status == JobStatus.RUNNING else pending
                group.append(tracked)
        if running or pending:
            self._spawn(self._cancel(running, pending))

    async def _cancel(self, running: list[TrackedJob], pending: list[TrackedJob]) -> None:
        ids = [t.slurm_job_id for t in running if t.slurm_job_id]
        if ids and not await self._retrying(self.client.signal_batch, ids):
            pending = pending + running  # not started after all (or gone): scancel
            running = []
        await self._scancel([t.slurm_job_id for t in pending if t.slurm_job_id])
        if running:
            # The init ends the job within kill_grace; one that does not (stuck, or
            # the signal lost) is scancelled.
            await asyncio.sleep(self.setup.kill_grace + CANCEL_BACKSTOP)
            await self._scancel(
                [t.slurm_job_id for t in running if not t.done.is_set() and t.slurm_job_id]
            )

    async def _scancel(self, slurm_job_ids: list[int]) -> None:
        if slurm_job_ids:
            await self._retrying(self.client.cancel, slurm_job_ids)

    async def _retrying(self, command, slurm_job_ids: list[int]):
        """``await command(slurm_job_ids)``, tried again while Slurm is unreachable."""
        while True:
            try:
                return await command(slurm_job_ids)
            except SlurmUnavailable as exc:
                log.warning("scancel %s: Slurm unreachable (%s); trying again", slurm_job_ids, exc)
                await asyncio.sleep(SUBMIT_RETRY)

    # ---- restarts --------------------------------------------------------------
    async def _heartbeat_and_adopt(self) -> None:
        for slurm_queue in self.slurm_queues():
            assert slurm_queue.slurm is not None
            node = await self.client.largest_node(slurm_queue.slurm.partition)
            if node is not None:
                self.largest_nodes[slurm_queue.name] = node
        self.registry.heartbeat(len(self.tracked), self.report_capacity())
        await self.adopt_jobs()
        await self._remove_deleted_dirs()

    async def adopt_jobs(self) -> None:
        """``base.Executor.adopt_jobs``: take over the jobs of this host name held
        by an executor that is gone, and track them from their Slurm ids; a job
        with no id yet is looked up by its name, and submitted if Slurm has none
        (and it never ran). A cancel recorded meanwhile is carried out."""
        for held in queue.slurm_jobs_on_host(self.sql, self.host):
            job = held.job
            if job.id in self.tracked:
                continue
            if job.queue not in self.jobs_dirs:
                continue  # its queue is no longer a Slurm queue here
            if job.executor != self.executor_name and not queue.adopt_slurm_job(
                self.sql, job.id, job.executor, self.executor_name
            ):
                continue
            tracked = self._track(job, held.status, held.slurm_job_id)
            log.info("Tracking job %s (Slurm job %s)", job.id, held.slurm_job_id)
            if tracked.slurm_job_id is None:
                found = await self._find_by_name(job.id)
                if found is not None:
                    tracked.slurm_job_id = found
                    detail = f"found in Slurm as job {found} after a restart"
                    queue.record_submission(self.sql, job.id, self.executor_name, found, detail)
                elif tracked.files.exit_status.exists() or tracked.files.work.exists():
                    # It ran, and Slurm forgot it: the polls judge it (ended, or lost).
                    tracked.missing_since = time.monotonic()
                else:
                    self._spawn(self._submit(tracked, fresh=True))
                    continue
            if tracked.cancel_requested and tracked.slurm_job_id:
                tracked.cancel_requested = False  # carried out now, as a new one
                self.cancel_jobs([job.id])

    # ---- deleted jobs --------------------------------------------------------
    def _on_jobs_deleted(self, hosts: list[str]) -> None:
        if self.host in hosts:
            self._spawn(self._remove_deleted_dirs())

    async def _remove_deleted_dirs(self) -> None:
        """Remove the directories of this host name's deleted jobs (as their users:
        ``job_removal``)."""
        for job_id in queue.dirs_to_remove(self.sql, self.host):
            for directory in self.jobs_dirs.values():
                try:
                    root = job_dir(directory, job_id)
                except ValueError:
                    log.error("Not removing the directory of %r: not a job's name", job_id)
                    break
                if os.path.lexists(root):
                    try:
                        await asyncio.to_thread(remove_job_directory, root)
                    except OSError:
                        log.exception("Could not remove %s", root)

    async def end_all(self) -> None:
        """``base.Executor.end_all``: scancel every job it holds and wait until each
        end is recorded."""
        self.cancel_jobs(list(self.tracked))
        for tracked in list(self.tracked.values()):
            await tracked.done.wait()


def ensure_jobs_dir(directory: Path) -> None:
    """Make a Slurm queue's jobs directory (root 0711), or check the one there: a
    directory of root's that holds nothing but job directories. Never changes the
    mode of a directory it did not make (a jobs_dir of /etc would have made /etc
    0711). Blocking.

    Raises
    ------
    SystemExit
        It is not a directory of root's, is writable by others, or holds other
        things than job directories.
    """
    if not directory.exists():
        directory.mkdir(parents=True, mode=0o711)
        os.chmod(directory, 0o711)  # exact, whatever the umask
        return
    info = os.stat(directory, follow_symlinks=False)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise SystemExit(f"slurm jobs_dir {directory} must be a directory of the service's own")
    others = [name for name in os.listdir(directory) if not JOB_DIR_NAME.fullmatch(name)]
    if others:
        raise SystemExit(
            f"slurm jobs_dir {directory} holds other things than job directories "
            f"({', '.join(sorted(others)[:3])}...): give the queue a directory of its own"
        )


def _with_timeout(launch, timeout: int):
    """``launch`` with the init's deadline the job's whole timeout (seconds)."""
    from dataclasses import replace

    return replace(launch, timeout=float(timeout), cgroup=None)


def _tail(path: Path, size: int) -> str:
    """The last ``size`` bytes of ``path`` as text ("" if missing)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(f.tell() - size, 0))
            return f.read().decode(errors="replace")
    except OSError:
        return ""
