"""The local executor: each app worker claims queued jobs and runs them here.

A job runs in its own directory under ``jobs.dir``: the script is written to
``script`` and run by the job's shell, in a new session, with stdout and stderr
going to files (never through the worker's memory) and a clean environment.
"""

import asyncio
import logging
import os
import shutil
import socket
from pathlib import Path

import psycopg2.extensions
from sqlalchemy.orm import sessionmaker
from tornado.ioloop import IOLoop

from baselayer.app.config import Config
from baselayer.app.database import database_url

from .. import queue
from ..job_states import JobStatus
from ..queue import ClaimedJob

log = logging.getLogger(__name__)

#: Variables a job gets besides its own; nothing of the service's environment leaks.
BASE_PATH = "/usr/local/bin:/usr/bin:/bin"


def read_capped(path: Path, limit: int) -> str:
    """The first ``limit`` bytes of a file as text (undecodable bytes replaced)."""
    try:
        with open(path, "rb") as f:
            # PostgreSQL text cannot hold NUL bytes.
            return f.read(limit).decode("utf-8", "replace").replace("\x00", "\ufffd")
    except FileNotFoundError:
        return ""


class LocalExecutor:
    """Claims jobs from the queue and runs them as subprocesses of this worker."""

    def __init__(self, cfg: Config, session_factory: sessionmaker):
        self.cfg = cfg
        self.session_factory = session_factory
        self.jobs_dir = cfg.path("jobs.dir")
        self.worker_name = f"{socket.gethostname()}:{os.getpid()}"
        self.running: dict[str, asyncio.subprocess.Process] = {}
        self._wakeup = asyncio.Event()
        self._listen_conn = None
        self._loop_task: asyncio.Task | None = None
        self._job_tasks: set[asyncio.Task] = set()

    # ---- waking up -------------------------------------------------------
    def start(self) -> None:
        """LISTEN for submissions and start the claim loop on the current IOLoop."""
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self._listen()
        self._loop_task = asyncio.get_event_loop().create_task(self._claim_loop())
        self.wake()

    def _listen(self) -> None:
        # A dedicated connection outside any pool: it stays in LISTEN for good.
        url = database_url(self.cfg)
        connect_args, connect_kwargs = url.get_dialect()().create_connect_args(url)
        self._listen_conn = psycopg2.connect(*connect_args, **connect_kwargs)
        self._listen_conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        with self._listen_conn.cursor() as cursor:
            cursor.execute(f"LISTEN {queue.NOTIFY_CHANNEL}")
        IOLoop.current().add_handler(self._listen_conn.fileno(), self._on_notify, IOLoop.READ)

    def _on_notify(self, fd, events) -> None:
        try:
            self._listen_conn.poll()
        except psycopg2.Error:
            # The server went away: stop listening; the poll interval keeps claiming,
            # and the next restart of this worker listens again.
            log.exception("Lost the LISTEN connection; falling back to polling")
            IOLoop.current().remove_handler(fd)
            return
        self._listen_conn.notifies.clear()
        self.wake()

    def wake(self) -> None:
        self._wakeup.set()

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
        with self.session_factory() as session:
            claimed = queue.claim_jobs(
                session,
                self.worker_name,
                max_running=int(self.cfg["jobs.max_running"]),
                per_user=int(self.cfg["jobs.max_running_per_user"]),
            )
        for job in claimed:
            task = asyncio.get_event_loop().create_task(self._run(job))
            self._job_tasks.add(task)
            task.add_done_callback(self._job_tasks.discard)

    # ---- running ---------------------------------------------------------
    def job_dir(self, job_id: str) -> Path:
        return self.jobs_dir / job_id

    def _prepare_dir(self, job: ClaimedJob) -> Path:
        job_dir = self.job_dir(job.id)
        if job_dir.exists():
            shutil.rmtree(job_dir)
        job_dir.mkdir(parents=True)
        (job_dir / "script").write_text(job.code)
        return job_dir

    def _environment(self, job: ClaimedJob, job_dir: Path) -> dict[str, str]:
        return {
            "PATH": BASE_PATH,
            "HOME": str(job_dir),
            "LANG": "C.UTF-8",
            "SHELL_SERVICE_JOB_ID": job.id,
        }

    async def _run(self, job: ClaimedJob) -> None:
        try:
            job_dir = self._prepare_dir(job)
            with (
                open(job_dir / "stdout", "wb") as out,
                open(job_dir / "stderr", "wb") as err,
            ):
                process = await asyncio.create_subprocess_exec(
                    job.shell,
                    "script",
                    cwd=job_dir,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    env=self._environment(job, job_dir),
                    start_new_session=True,
                )
        except Exception as exc:  # the service, not the script, failed
            log.exception("Could not start job %s", job.id)
            self._finish(
                job.id,
                JobStatus.SERVER_ERROR,
                message=f"could not start the job: {exc}",
            )
            return

        self.running[job.id] = process
        try:
            with self.session_factory() as session:
                queue.set_pid(session, job.id, process.pid)
            return_code = await process.wait()
        finally:
            self.running.pop(job.id, None)

        limit = int(self.cfg["jobs.max_output_bytes"])
        status = JobStatus.COMPLETE if return_code == 0 else JobStatus.FAILED
        message = None
        if return_code < 0:
            # asyncio reports death by signal N as -N; shells report 128+N.
            message = f"killed by signal {-return_code}"
        self._finish(
            job.id,
            status,
            return_code=return_code,
            stdout=read_capped(job_dir / "stdout", limit),
            stderr=read_capped(job_dir / "stderr", limit),
            message=message,
        )

    def _finish(self, job_id: str, status: JobStatus, **fields) -> None:
        with self.session_factory() as session:
            queue.finish_job(session, job_id, status, **fields)
        # Capacity freed: others' NOTIFY wakes them; wake ourselves at once.
        self.wake()
