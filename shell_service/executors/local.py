"""This host's jobs: ``JobHost`` (what the app workers need: where a job's files
are, which uid runs it, how to end it, how many jobs are in each state) and
``LocalExecutor``, the executor service's program (``services/executor``), one
per host: it claims queued jobs and runs them here.

A job runs under a small wrapper (``job_wrapper.sh``) in its own process group, with
stdout and stderr going to files in its directory and its exit status written
to a file when it ends; so a job does not depend on the executor that started
it. The executor also looks for RUNNING jobs on its host whose executor is gone,
and adopts them: it watches the wrapper if it still runs, or finishes the job from its
status file, or, when both are gone, ends it as SERVER_ERROR.
"""

import asyncio
import datetime
import logging
import os
import shutil
import signal
import socket
from dataclasses import dataclass

from sqlalchemy.orm import sessionmaker

from baselayer.app.config import Config
from baselayer.app.database import database_url
from baselayer.app.models import utcnow
from baselayer.app.notifications import Listener
from baselayer.app.plain_sql import DatabaseUnavailable, PlainSQL

from .. import metrics, queue
from ..job_states import JobStatus
from ..models import Job
from ..queue import ClaimedJob, JobOutput
from .cgroups import JobCgroup, detect
from .job_files import JobFiles, usable_jobs_dir
from .processes import (
    Limits,
    bwrap_sandbox,
    job_command,
    job_environment,
    signal_job,
    start_wrapper,
    wait_for_child,
    wait_for_exit,
    wrapper_alive,
)

log = logging.getLogger(__name__)

#: Seconds before looking again when another executor held the claim.
CLAIM_RETRY = 0.005
#: Seconds between recounts of jobs per state (a whole-table count, shared by
#: every app worker), and between looks at the shared counts.
STATUS_COUNT_INTERVAL = 60.0
STATUS_COUNT_CHECK = 15.0
#: Seconds between looks for jobs whose executor has gone (and heartbeats).
ADOPT_INTERVAL = 5.0
#: Another host's executor silent this long has lost its RUNNING jobs for good.
SILENT_HOST = datetime.timedelta(minutes=5)
#: A RUNNING job with neither a wrapper nor a status file this long after it
#: started is lost (its executor died before launching it).
LAUNCH_GRACE = datetime.timedelta(seconds=10)


@dataclass
class RunningJob:
    id: str
    files: JobFiles
    uid: int | None
    started_at: datetime.datetime
    deadline: datetime.datetime
    cgroup: JobCgroup | None = None
    wrapper_pid: int | None = None
    timed_out: bool = False
    # Ended in the database by someone else (a cancel) while this executor ran it.
    ended_elsewhere: bool = False
    # This executor is recording its end.
    recording_end: bool = False


def host_memory_mb() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobHost:
    """This host's jobs as the app workers see them: their files, their uids,
    the isolation they get, how to end them, and the count of jobs per state."""

    def __init__(self, cfg: Config, session_factory: sessionmaker, sql: PlainSQL):
        self.cfg = cfg
        self.session_factory = session_factory
        self.sql = sql
        self.host = socket.gethostname()
        # Per-job uids need root (to switch to them); otherwise jobs run as us.
        self.per_job_uid = os.geteuid() == 0
        self.jobs_dir = usable_jobs_dir(cfg.path("jobs.dir"), self.per_job_uid)
        self.memory_budget_mb = int(cfg["jobs.memory_budget_mb"] or host_memory_mb())
        self.cgroups = detect() if self.per_job_uid else None
        self.sandbox = cfg["jobs.sandbox"] or None
        if self.sandbox not in (None, "bwrap"):
            raise SystemExit(f"jobs.sandbox must be empty or 'bwrap', not {self.sandbox!r}")
        if self.sandbox == "bwrap" and not shutil.which("bwrap"):
            raise SystemExit("jobs.sandbox is 'bwrap' but bwrap is not installed")
        # Jobs per state, recounted in a thread every STATUS_COUNT_INTERVAL seconds:
        # with a million rows the count takes long enough to stall the event loop.
        self.status_counts: dict[str, int] = {status.value: 0 for status in JobStatus}
        # Its own connection (it connects on first use): the count runs in a
        # thread, beside the event loop's statements.
        self._counting_sql = PlainSQL(database_url(cfg), "shell_service counts")
        self._tasks: set[asyncio.Task] = set()

    def start_counting(self) -> None:
        """Read the shared jobs-per-state counts now and every STATUS_COUNT_CHECK
        seconds, recounting them when they are STATUS_COUNT_INTERVAL old."""
        self._spawn(self._every(STATUS_COUNT_CHECK, self.recount, "Counting jobs per state"))

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

    # ---- files, uids, isolation -------------------------------------------
    def job_files(self, job_id: str) -> JobFiles:
        return JobFiles(self.jobs_dir / job_id)

    def job_uid(self, number: int) -> int | None:
        return int(self.cfg["jobs.uid_base"]) + number if self.per_job_uid else None

    def remove_files(self, job_id: str) -> None:
        """A deleted job's directory goes with it."""
        shutil.rmtree(self.job_files(job_id).root, ignore_errors=True)

    def job_cgroup(self, job_id: str) -> JobCgroup | None:
        return JobCgroup(self.cgroups, job_id) if self.cgroups else None

    def sandbox_prefix(self, files: JobFiles) -> list[str]:
        return bwrap_sandbox(files, self.jobs_dir) if self.sandbox == "bwrap" else []

    def isolation(self) -> dict:
        """What protects the host from jobs here (reported by /api/sysinfo)."""
        return {
            "per_job_uid": self.per_job_uid,
            "cgroups": self.cgroups.describe() if self.cgroups else None,
            "rlimits": True,
            "sandbox": self.sandbox,
        }

    # ---- ending jobs -------------------------------------------------------
    async def terminate(self, uid: int | None, wrapper_pid: int | None, grace: float) -> None:
        """TERM to the job's whole process tree, then KILL after ``grace`` seconds.

        With a per-job uid each signal scans /proc (thousands of entries with many
        jobs running): in a thread, so the event loop serves requests meanwhile."""
        await asyncio.to_thread(signal_job, signal.SIGTERM, uid=uid, wrapper_pid=wrapper_pid)
        deadline = asyncio.get_running_loop().time() + grace
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
            if uid is not None:
                if not await asyncio.to_thread(signal_job, 0, uid=uid, wrapper_pid=None):
                    return
            elif wrapper_pid and not process_alive(wrapper_pid):
                return
        await asyncio.to_thread(signal_job, signal.SIGKILL, uid=uid, wrapper_pid=wrapper_pid)

    def cancel_running(self, job: Job) -> None:
        """End a cancelled job's processes at once, if they run on this host.

        The cancel's NOTIFY tells the job's executor too (on whichever host), which
        ends them as well; this covers the moments it is down or restarting."""
        if not (job.worker or "").startswith(f"{self.host}:"):
            return
        uid = self.job_uid(job.number)
        pid = self.job_files(job.id).read_wrapper_pid()
        self._spawn(self.terminate(uid, pid, grace=1.0))

    # ---- jobs per state ------------------------------------------------------
    async def recount(self) -> dict[str, int]:
        """Recount the jobs per state if the shared counts are a minute old (one
        app worker of all does, in a thread: with a million jobs the count takes
        a third of a second), then read them."""

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
        active ones (QUEUED, RUNNING) exact, now."""
        return {**self.status_counts, **queue.count_active(self.sql)}


class LocalExecutor(JobHost):
    """Claims jobs from the queue, runs them, watches them, and adopts orphans."""

    def __init__(self, cfg: Config, session_factory: sessionmaker):
        # The hot paths (claim, finish) use plain SQL on the event loop's thread.
        super().__init__(cfg, session_factory, PlainSQL(database_url(cfg)))
        self.worker_name = f"{self.host}:{os.getpid()}"
        self.watching: dict[str, RunningJob] = {}
        self._wakeup = asyncio.Event()
        self.listener = Listener(database_url(cfg))
        self.listener.subscribe(queue.NOTIFY_CHANNEL, lambda payloads: self.wake())
        self.listener.subscribe(queue.ENDED_CHANNEL, self._on_jobs_ended)
        # The server went away: the connections reconnect before their next use.
        self.listener.on_lost(self.sql.mark_stale)

    # ---- start-up and waking ---------------------------------------------
    def start(self) -> None:
        """LISTEN for submissions; start the claim and adoption loops on this IOLoop."""
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.jobs_dir, 0o711)  # jobs may enter their own directory, not list others
        if self.cgroups:
            self.cgroups.weigh_jobs(int(self.cfg["jobs.cpu_weight"]))
        self.listener.start()
        self._spawn(self._claim_loop())
        self._spawn(self._every(ADOPT_INTERVAL, self._heartbeat_and_adopt, "Adopting jobs"))
        if self.cfg["jobs.retention_days"]:
            interval = float(self.cfg["jobs.retention_interval"])
            self._spawn(self._every(interval, self.sweep_old_jobs, "Deleting old jobs"))
        self.wake()

    def wake(self) -> None:
        self._wakeup.set()

    # ---- claiming --------------------------------------------------------
    async def _claim_loop(self) -> None:
        interval = float(self.cfg["jobs.poll_interval"])
        while True:
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=interval)
            except TimeoutError:
                pass
            self._wakeup.clear()
            try:
                self._claim_and_launch()
            except Exception:
                log.exception("Claiming jobs failed; retrying in %s s", interval)

    def _claim_and_launch(self) -> None:
        batch = int(self.cfg["jobs.claim_batch"])
        # On the event loop: a hop to a thread and back costs a single job more
        # latency (measured: round trip p50 +15 ms) than the claim blocks the loop.
        claimed = queue.claim_jobs(
            self.sql,
            self.worker_name,
            max_running=int(self.cfg["jobs.max_running"]),
            per_user=int(self.cfg["jobs.max_running_per_user"]),
            memory_budget_mb=self.memory_budget_mb,
            batch=batch,
        )
        if claimed is None:
            # Another host's executor is claiming; it may leave jobs (or miss ones queued
            # since it looked): look again in a moment.
            asyncio.get_running_loop().call_later(CLAIM_RETRY, self.wake)
            return
        for job in claimed:
            if job.queued_at is not None:
                metrics.QUEUE_WAIT.observe((job.started_at - job.queued_at).total_seconds())
            self._spawn(self._launch(job))
        if len(claimed) == batch:
            # A full batch: there may be more (other hosts' executors take their share).
            self.wake()

    # ---- running -----------------------------------------------------------
    def limits(self, job: ClaimedJob) -> Limits:
        return Limits(
            cpu_seconds=max(job.timeout * max(job.cpus, 1), 1),
            address_space_bytes=job.memory_mb * int(self.cfg["jobs.address_space_factor"]) * 2**20,
            file_size_bytes=int(self.cfg["jobs.max_log_bytes"]),
        )

    async def _launch(self, job: ClaimedJob) -> None:
        running = RunningJob(
            id=job.id,
            files=self.job_files(job.id),
            uid=self.job_uid(job.number),
            started_at=job.started_at,
            deadline=job.started_at + datetime.timedelta(seconds=job.timeout),
            cgroup=self.job_cgroup(job.id),
        )
        self.watching[job.id] = running
        try:
            limits = self.limits(job)
            # Files, cgroups and the fork happen in a thread: each takes the disk
            # or the kernel a while, and the event loop serves requests meanwhile.
            process = await asyncio.to_thread(self._prepare_and_start, running, job, limits)
        except Exception as exc:  # the service, not the script, failed
            log.exception("Could not start job %s", job.id)
            self.watching.pop(job.id, None)
            self._finish(job.id, JobStatus.SERVER_ERROR, message=f"could not start the job: {exc}")
            return
        # The wrapper records its pid in its directory (wrapper.pid) for adopters.
        running.wrapper_pid = process.pid
        if running.ended_elsewhere:
            # Cancelled while it was being started: the cancel found no process.
            self._spawn(self.terminate(running.uid, running.wrapper_pid, grace=1.0))
        await self._watch(running, process)

    def _on_jobs_ended(self, job_ids: list[str]) -> None:
        """Jobs ended in the database (their ids, from a NOTIFY): one this executor is
        still starting or running was cancelled, so its processes go, including
        when the cancel came before its wrapper started."""
        for job_id in job_ids:
            running = self.watching.get(job_id)
            if running is None or running.recording_end:
                continue
            running.ended_elsewhere = True
            if running.wrapper_pid is not None:
                self._spawn(self.terminate(running.uid, running.wrapper_pid, grace=1.0))

    def _prepare_and_start(self, running: RunningJob, job: ClaimedJob, limits: Limits):
        running.files.prepare(job.code, job.stdin, running.uid)
        if running.cgroup:
            running.cgroup.create(job.memory_mb, job.cpus, limits.processes)
        return start_wrapper(
            running.files,
            job_command(job.shell, list(job.args), running.uid, self.sandbox_prefix(running.files)),
            job_environment(job.id, running.files, dict(job.env)),
            limits,
            running.cgroup.procs_files if running.cgroup else [],
        )

    async def _watch(self, running: RunningJob, process=None) -> None:
        """Wait for the job to end (killing it at its deadline), then record how it ended."""
        try:
            waiting = self._spawn(
                wait_for_child(process)
                if process is not None
                else wait_for_exit(running.wrapper_pid)
            )
            remaining = (running.deadline - utcnow()).total_seconds()
            try:
                await asyncio.wait_for(asyncio.shield(waiting), timeout=max(remaining, 0))
            except TimeoutError:
                running.timed_out = True
                await self.terminate(running.uid, running.wrapper_pid, grace=self.kill_grace)
                await waiting
            await self._record_end(running, process.returncode if process is not None else None)
        finally:
            self.watching.pop(running.id, None)

    @property
    def kill_grace(self) -> float:
        return float(self.cfg["jobs.kill_grace"])

    async def _record_end(self, running: RunningJob, wrapper_code: int | None) -> None:
        running.recording_end = True
        # Reading the files and removing the cgroups block: in a thread.
        status, output, message, limit = await asyncio.to_thread(
            self._how_it_ended, running, wrapper_code
        )
        self._finish(running.id, status, output, message)
        run_seconds = (utcnow() - running.started_at).total_seconds()
        metrics.record_end(status, run_seconds, limit)
        if running.cgroup:
            await asyncio.to_thread(running.cgroup.remove)

    def _how_it_ended(self, running: RunningJob, wrapper_code: int | None):
        """The job's final state, output, message and the limit that killed it, if any."""
        limit = int(self.cfg["jobs.max_output_bytes"])
        stdout, stdout_cut = running.files.read_output(running.files.stdout, limit)
        stderr, stderr_cut = running.files.read_output(running.files.stderr, limit)
        code = running.files.read_exit_status()
        message = limit = None
        if code is None and wrapper_code is not None:
            # The wrapper itself was killed; asyncio reports signal N as -N.
            code = wrapper_code if wrapper_code >= 0 else 128 - wrapper_code
        if code is None:
            status = JobStatus.SERVER_ERROR
            message = "the job's wrapper ended without recording an exit status"
        elif running.timed_out:
            status = JobStatus.TIMED_OUT
            message = "ran past its timeout and was killed"
            limit = "timeout"
        elif code == 0:
            status = JobStatus.COMPLETE
        else:
            status = JobStatus.FAILED
            if running.cgroup and running.cgroup.out_of_memory():
                message = "killed: out of memory (the job's memory_mb limit)"
                limit = "memory"
            elif code > 128:
                message = f"killed by signal {code - 128} ({signal_name(code - 128)})"
                if code - 128 == signal.SIGXCPU:
                    message += ": CPU time limit reached"
                    limit = "cpu"
        # Truncated: the row's copy is shorter than the output, or the file hit its cap.
        max_log = int(self.cfg["jobs.max_log_bytes"])
        truncated = {"stdout": stdout_cut, "stderr": stderr_cut}
        for name in truncated:
            if running.files.size(getattr(running.files, name)) >= max_log:
                truncated[name] = True
                note = f"{name} reached jobs.max_log_bytes; later output was dropped"
                message = f"{message}; {note}" if message else note
        output = JobOutput(code, stdout, stderr, truncated["stdout"], truncated["stderr"])
        return status, output, message, limit

    def _finish(self, job_id: str, status: JobStatus, output=None, message=None) -> None:
        queue.finish_job(self.sql, job_id, status, output or JobOutput(), message)
        # Capacity freed: others' NOTIFY wakes them; wake ourselves at once.
        self.wake()

    # ---- retention -----------------------------------------------------------
    async def sweep_old_jobs(self) -> int:
        """Delete finished jobs older than jobs.retention_days, batch by batch; how many."""
        cutoff = utcnow() - datetime.timedelta(days=float(self.cfg["jobs.retention_days"]))
        deleted = 0
        while True:
            with self.session_factory() as session:
                ids = queue.delete_finished_before(session, cutoff)
            for job_id in ids or ():
                self.remove_files(job_id)
            deleted += len(ids or ())
            if not ids:
                return deleted
            await asyncio.sleep(0)  # let requests in between batches

    # ---- adopting orphans --------------------------------------------------
    async def _heartbeat_and_adopt(self) -> None:
        with self.session_factory() as session:
            queue.heartbeat(session, self.worker_name, len(self.watching))
        await self._adopt_orphans()

    def _worker_alive(self, worker: str | None) -> bool:
        pid = (worker or "").rpartition(":")[2]
        return pid.isdigit() and process_alive(int(pid))

    async def _adopt_orphans(self) -> None:
        jobs = queue.running_jobs_on_host(self.sql, self.host)
        with self.session_factory() as session:
            lost_elsewhere = queue.jobs_of_silent_workers(session, self.host, SILENT_HOST)
        for job_id in lost_elsewhere:
            self._finish(
                job_id,
                JobStatus.SERVER_ERROR,
                message="the host running the job stopped answering (no executor heartbeat "
                f"for {SILENT_HOST.seconds // 60} minutes)",
            )
        for job in jobs:
            if job["id"] in self.watching:
                continue
            if job["worker"] != self.worker_name:
                if self._worker_alive(job["worker"]):
                    continue
                with self.session_factory() as session:
                    if not queue.adopt_job(session, job["id"], job["worker"], self.worker_name):
                        continue
                log.info("Adopting job %s from %s", job["id"], job["worker"])
            files = self.job_files(job["id"])
            running = RunningJob(
                id=job["id"],
                files=files,
                uid=self.job_uid(job["number"]),
                started_at=job["started_at"],
                deadline=job["started_at"] + datetime.timedelta(seconds=job["timeout"]),
                cgroup=self.job_cgroup(job["id"]),
                wrapper_pid=files.read_wrapper_pid(),
            )
            if files.read_exit_status() is not None:
                await self._record_end(running, None)
            elif wrapper_alive(running.wrapper_pid, files):
                self.watching[job["id"]] = running
                self._spawn(self._watch(running))
            elif running.wrapper_pid or utcnow() - job["started_at"] > LAUNCH_GRACE:
                self._finish(
                    job["id"],
                    JobStatus.SERVER_ERROR,
                    message="the job's process and exit status are both gone "
                    "(its executor or the host stopped while it ran)",
                )


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown signal"
