"""A Slurm job's directory, batch script and sbatch options.

The job's directory (``<queue's slurm.jobs_dir>/<job id>/``, on the filesystem
the service host shares with the nodes) is made before the submission, root
0711 as on a local host, with ``submit/`` (root 0700) holding what the job's
init reads: the request (``job_init.encode_request``), the script's text and
the stdin. The batch script Slurm runs (as the submitting user, root, on a
cluster dedicated to the service) is one line: ``exec`` of the job's init,
``build/job_init --pid-namespace`` by absolute path, with those files on its
descriptors 3-6, as the launcher starts it on a local host (the init makes the
job's PID namespace itself: the launcher is not there to). The init then makes
``work/``, drops to the job's user, keeps the job's deadline and writes
``stdout``, ``stderr`` and ``exit_status``: a job reads and writes nothing
there but ``work/``. Slurm's own messages go to ``submit/slurm.log``.

The user's script, args and env are never on sbatch's command line nor in its
environment: sbatch sees only our paths and the queue's settings.
"""

import math
import os
import shlex
from pathlib import Path

from ...queues import Queue
from ..job_files import JobFiles, write_attempt
from ..launch import JobLaunch

#: ``submit/`` holds the init's inputs and Slurm's log; root 0700.
SUBMIT_DIR = "submit"
#: Slurm's --output and --error, in ``submit/``.
SLURM_LOG = "slurm.log"
#: Minutes Slurm's time limit runs past the job's timeout: the init ends the job
#: at its timeout (seconds, exactly); Slurm's limit is whole minutes, enforced
#: 14-21 s late, and is only the backstop.
BACKSTOP_MINUTES = 1


def write_submission(launch: JobLaunch, init_program: Path) -> Path:
    """Make the job's directory and ``submit/`` with the init's inputs and the
    batch script. Blocking.

    Parameters
    ----------
    launch : JobLaunch
        The job's start, as on a local host (``HostSetup.job_launch``), its files
        under the queue's ``jobs_dir``; without a cgroup.
    init_program : Path
        ``build/job_init``, absolute: the nodes see it at the same path.

    Returns
    -------
    Path
        The batch script.

    Raises
    ------
    OSError
        The directory exists already, or a file cannot be written.
    ValueError
        The request holds a NUL byte (``encode_request``).
    """
    from ..job_init import encode_request

    request = launch.request()
    # ``job_init --pid-namespace`` makes the job's PID namespace itself (the
    # launcher does that on a local host): the job sees only its own processes.
    encoded = encode_request(request, pid_namespace=True)
    root = launch.files.root
    root.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(root.parent, 0o711)
    root.mkdir(mode=0o711)
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        write_attempt(root_fd, launch.attempt, launch.number)
    finally:
        os.close(root_fd)
    submit = root / SUBMIT_DIR
    submit.mkdir(mode=0o700)
    _write(submit / "request", encoded)
    _write(submit / "script", launch.script.encode())
    stdin = submit / "stdin"
    _write(stdin, (launch.stdin or "").encode())
    quoted = {name: shlex.quote(str(path)) for name, path in (("root", root), ("submit", submit))}
    script = (
        "#!/bin/sh\n"
        f"# shell_service job {launch.job_id}: its init runs it, as on a local host.\n"
        f"exec {shlex.quote(str(init_program))} --pid-namespace 3<{quoted['root']}"
        f" 4<{quoted['submit']}/request 5<{quoted['submit']}/script 6<{quoted['submit']}/stdin\n"
    )
    batch = submit / "batch.sh"
    _write(batch, script.encode())
    return batch


def _write(path: Path, data: bytes) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def slurm_log(files: JobFiles) -> Path:
    """Where Slurm writes its own messages for the job (``submit/slurm.log``)."""
    return files.root / SUBMIT_DIR / SLURM_LOG


def sbatch_options(
    job_id: str, files: JobFiles, queue: Queue, timeout: int, cpus: int, memory_mb: int
) -> list[str]:
    """sbatch's options for a job (``commands.SlurmClient.submit``).

    Parameters
    ----------
    job_id : str
        Its id: the Slurm job's name, checked on every poll (a controller that
        lost a job may give its Slurm id to another).
    files : JobFiles
        Its directory (made first: Slurm runs a job whose ``--chdir`` is missing
        in /tmp, and fails one whose output directory is missing without a word).
    queue : Queue
        Its queue: ``slurm.partition``, ``slurm.account``, ``slurm.options``.
    timeout : int
        Seconds (the init keeps it; Slurm's limit is its backstop).
    cpus : int
    memory_mb : int
        MiB (``--mem``: Slurm ends a job past it).

    Returns
    -------
    list of str
    """
    assert queue.slurm is not None
    minutes = math.ceil(timeout / 60) + BACKSTOP_MINUTES
    # The queue's own options first: sbatch takes the last of an option given
    # twice, so ours hold even if one got past the config's check.
    options = [
        *queue.slurm.options,
        f"--job-name={job_id}",
        # Never run again by Slurm (a node failure would re-run the script from the
        # start): an end is recorded once, here.
        "--no-requeue",
        f"--time={minutes}",
        f"--cpus-per-task={max(cpus, 1)}",
        f"--mem={max(memory_mb, 1)}M",
        f"--chdir={files.root}",
        f"--output={slurm_log(files)}",
        f"--error={slurm_log(files)}",
        "--input=/dev/null",
    ]
    if queue.slurm.partition:
        options.append(f"--partition={queue.slurm.partition}")
    if queue.slurm.account:
        options.append(f"--account={queue.slurm.account}")
    return options
