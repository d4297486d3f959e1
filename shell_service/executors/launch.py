"""The launch sequence: what starting one job on this host sends to the launcher.

``JobLaunch`` holds everything the launcher (``job_init.prepare``) and the job's
init (``job_init.encode_request``) need, as the caller decided it (the job's
account, argv, limits); ``launch_job`` turns it into the launch request and
sends it. ``LocalExecutor`` starts every job this way, and so does the bench's
isolated launch (``bench/isolated_launch.py``), so the bench measures the
executor's own code.
"""

from dataclasses import dataclass, field
from pathlib import Path

from .cgroups import JobCgroup
from .job_files import JobFiles
from .launcher_client import LauncherClient
from .processes import Limits


@dataclass(frozen=True)
class JobLaunch:
    """One job's start, as plain data.

    Attributes
    ----------
    job_id : str
    files : JobFiles
        The job's directory (the launcher makes it fresh, root-owned 0711).
    script : str
        The script's text, as the interpreter gets it (``processes.script_text``).
    argv : list of str
        The job's command, run in its ``work/`` directory: a sandbox's prefix if
        any, the interpreter by absolute path, ``./script`` and the job's args.
    env : dict
        The job's whole environment (``processes.job_environment``).
    umask : int
    limits : Limits
        Its rlimits.
    kill_grace : float
        Seconds between TERM and KILL to the job's processes when it ends.
    max_log_bytes : int
        Most bytes of each of stdout and stderr the init keeps.
    stdin : str or None
        What the job reads on standard input.
    uid, gid : int or None
        The Unix account the job runs as (root only); None: the service's own.
    tmp : Path or None
        The account's private /tmp, bind-mounted over /tmp and /var/tmp (root only).
    private_mounts : bool
        Whether the init makes the job's mount and IPC namespaces (root only).
    cgroup : JobCgroup or None
        The job's cgroup, with ``cgroup_limits`` (memory_mb, cpus, max_processes).
    timeout : float or None
        Seconds the init lets the job run before it ends it by itself (so a
        timeout holds while no executor runs); None: only the executor's timer.
    attempt : int
        Which attempt of the job this is (1 first): written in its directory
        (``job_files.write_attempt``) for the log's follow.
    number : int
        The job's ``jobs.number``, written beside it: the directory is this job's.
    """

    job_id: str
    files: JobFiles
    script: str
    argv: list[str]
    env: dict[str, str]
    umask: int
    limits: Limits
    kill_grace: float
    max_log_bytes: int
    stdin: str | None = None
    uid: int | None = None
    gid: int | None = None
    tmp: Path | None = None
    private_mounts: bool = False
    cgroup: JobCgroup | None = None
    cgroup_limits: tuple[int, int, int] = field(default=(0, 0, 0))
    timeout: float | None = None
    attempt: int = 1
    number: int = 0

    def request(self) -> dict:
        """The launch request: the protocol of ``launcher.py``.

        Returns
        -------
        dict
            JSON-able: ``id``, ``root``, ``script``, ``stdin``, ``uid``, ``gid``,
            ``tmp``, ``private_mounts``, ``argv``, ``env``, ``umask``, ``rlimits``,
            ``cgroup`` (``JobCgroup.request`` or None), ``kill_grace`` (seconds),
            ``max_log_bytes``, ``attempt``, ``number`` and, if set, ``timeout``
            (seconds).
        """
        request = {
            "id": self.job_id,
            "root": str(self.files.root),
            "script": self.script,
            "stdin": self.stdin,
            "uid": self.uid,
            "gid": self.gid,
            "tmp": str(self.tmp) if self.tmp else None,
            "private_mounts": self.private_mounts,
            "argv": list(self.argv),
            "env": dict(self.env),
            "umask": self.umask,
            "rlimits": self.limits.rlimits(),
            "cgroup": self.cgroup.request(*self.cgroup_limits) if self.cgroup else None,
            "kill_grace": self.kill_grace,
            "max_log_bytes": self.max_log_bytes,
            "attempt": self.attempt,
            "number": self.number,
        }
        if self.timeout is not None:
            request["timeout"] = self.timeout
        return request


async def launch_job(launcher: LauncherClient, launch: JobLaunch) -> int:
    """Start the job: send ``launch.request()`` to the launcher, which makes the
    job's directory and cgroup and starts its init.

    Parameters
    ----------
    launcher : LauncherClient
    launch : JobLaunch

    Returns
    -------
    int
        A pidfd of the job's init (the caller closes it); it turns readable when
        the init has exited, its end record (``JobFiles.read_end``) then final.

    Raises
    ------
    LaunchError
        The launcher could not start it (the message says why).
    """
    _, pidfd = await launcher.launch(launch.request())
    return pidfd
