"""Where job directories are: computed from config, nothing made.

The app workers read a job's output files from here (read-only; and
``attempt_in``, which attempt made a directory); the
executor makes the directories (``executors/job_files.py``: ``usable_dir``
makes the fallback's parents). Both compute the same place from the same
config.
"""

import hashlib
import os
import re
import stat
from pathlib import Path

#: Job names (a job's id, as a user gives it): one token of letters, digits, '_',
#: '.', '-', and not dots only (``job_dir``).
JOB_NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,128}$"
_JOB_NAME = re.compile(JOB_NAME_PATTERN)
#: An array task's id: its array job's id, ':' and its index (as AWS Batch names
#: an array's children). No name a user may give holds a ':', so no job can
#: take a task's id before its task is made.
TASK_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,118}:[0-9]{1,9}$"
_TASK_ID = re.compile(TASK_ID_PATTERN)

#: Where job directories go when the configured place is not reachable by job users.
FALLBACK_ROOT = Path("/var/lib/shell_service")

#: Directories a job sees replaced by its own (``job_init.c``, private_namespaces): job
#: directories, homes and tmp dirs under them would be out of a job's sight.
HIDDEN_FROM_JOBS = (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"), Path("/run/lock"))

#: The output streams a job's directory holds, by name (``stdout``, ``stderr``).
OUTPUT_STREAMS = ("stdout", "stderr")


def others_can_traverse(path: Path) -> bool:
    """Whether a user with no rights but "others" can walk down to ``path``."""
    for directory in [path, *path.parents]:
        if directory.exists() and not directory.stat().st_mode & stat.S_IXOTH:
            return False
    return True


def hidden_from_jobs(path: Path) -> bool:
    """Whether ``path`` lies under a directory jobs see replaced by their own."""
    resolved = path.resolve()
    return any(resolved.is_relative_to(hidden.resolve()) for hidden in HIDDEN_FROM_JOBS)


def reachable_dir(
    configured: Path, as_root: bool, kind: str, fallback_root: Path = FALLBACK_ROOT
) -> Path:
    """``configured``, unless job users could not walk down to it (a project under a
    0700 home, say) or their jobs would not see it (a project under /tmp, whose
    jobs get their user's own /tmp): then ``<fallback_root>/<digest>/<kind>``, the
    digest being that of ``configured`` (so each configured place gets its own).
    Only computes the path: makes nothing.

    ``as_root``: whether jobs run as their users' own accounts (the service runs
    as root); otherwise ``configured`` always. ``kind`` is one word ("jobs",
    "homes", "tmp"): it names the fallback directory."""
    if not as_root or (others_can_traverse(configured) and not hidden_from_jobs(configured)):
        return configured
    digest = hashlib.sha256(str(configured).encode()).hexdigest()[:12]
    return fallback_root / digest / kind


def is_job_id(job_id: str) -> bool:
    """Whether ``job_id`` may be a job's id: a job's name (not dots only) or an
    array task's id (``TASK_ID_PATTERN``)."""
    if _TASK_ID.fullmatch(job_id) is not None:
        return True
    return _JOB_NAME.fullmatch(job_id) is not None and set(job_id) != {"."}


def job_dir(jobs_dir: Path, job_id: str) -> Path:
    """Job ``job_id``'s own directory under ``jobs_dir``: every path of a job's
    directory is made here.

    Parameters
    ----------
    jobs_dir : Path
    job_id : str

    Returns
    -------
    Path
        ``jobs_dir / job_id``.

    Raises
    ------
    ValueError
        ``job_id`` is neither a job's name (``JOB_NAME_PATTERN``) nor a task's
        id (``TASK_ID_PATTERN``), or is made of dots only: "." would name
        ``jobs_dir`` itself (pathlib drops it) and ".." its parent, and whatever
        removes a job's directory would remove those. The API refuses such ids;
        this holds for any id from the database too.
    """
    if not is_job_id(job_id):
        raise ValueError(f"not a job's name: {job_id!r}")
    return jobs_dir / job_id


def output_file(jobs_dir: Path, job_id: str, stream: str) -> Path:
    """The file holding job ``job_id``'s ``stream`` ("stdout" or "stderr") under
    ``jobs_dir`` (``reachable_dir`` of ``jobs.dir``). Raises ValueError for another
    stream name, or an id ``job_dir`` refuses."""
    if stream not in OUTPUT_STREAMS:
        raise ValueError(f"no such output stream: {stream!r}")
    return job_dir(jobs_dir, job_id) / stream


#: In a job's directory, beside its output: which job and which attempt of it made
#: the directory (``<attempt>\n<job number>\n``: ``jobs.number``, never reused, so a
#: deleted job's directory is never taken for a new job of the same id). Written by
#: the service (root's, 0600) before the job starts; each attempt makes it anew.
ATTEMPT_FILE = "attempt"


def attempt_in(directory: Path, number: int) -> int | None:
    """Which attempt's files a job's directory holds (``ATTEMPT_FILE``), if the
    directory is job ``number``'s.

    Parameters
    ----------
    directory : Path
        The job's directory.
    number : int
        The job's ``jobs.number``.

    Returns
    -------
    int or None
        None when there is no such file or not yet its numbers (a directory being
        made, or none), or it is another job's: a deleted job's of the same id,
        until the executor removes it.
    """
    try:
        fd = os.open(directory / ATTEMPT_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        text = os.read(fd, 64)
    finally:
        os.close(fd)
    found = re.fullmatch(rb"([0-9]{1,9})\n([0-9]{1,19})\n", text)
    if found is None or int(found.group(2)) != number:
        return None
    return int(found.group(1))


def slurm_jobs_dirs(cfg) -> dict[str, Path]:
    """Where each Slurm queue's job directories are: queue name -> its
    ``slurm.jobs_dir`` (or its fallback, as for ``jobs_dir``), computed as the
    Slurm executor computes it. The service host shares them with the nodes, so
    the app workers read a Slurm job's live output here.

    Raises
    ------
    shell_service.queues.QueueConfigError
        ``queues:`` is not valid.
    """
    from .queues import configured_queues  # queues reads config; this module is lower

    return {
        queue.name: reachable_dir(queue.slurm.jobs_dir, os.geteuid() == 0, f"slurm-{queue.name}")
        for queue in configured_queues(cfg)
        if queue.slurm is not None
    }


def jobs_dir(cfg) -> Path:
    """Where this host's job directories are (``jobs.dir``, or its fallback when
    jobs run as their users' accounts and could not reach it): the same place the
    executor computes, as long as both run as the same user."""
    return reachable_dir(cfg.path("jobs.dir"), os.geteuid() == 0, "jobs")
