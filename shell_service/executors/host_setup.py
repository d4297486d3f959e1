"""What this host gives its jobs, as the local executor sets it up: where their
directories are, whether they run as their users' own accounts, their cgroups,
sandbox, umask, interpreters, and the memory they may take together.

Read once, when the executor is made (``HostSetup(cfg)``); ``prepare`` makes the
jobs directory and the cgroups' parent when the executor starts.
"""

import os
import shutil

from baselayer.app.config import Config
from baselayer.app.models import utcnow

from ..job_paths import job_dir
from ..queue import ClaimedJob
from .accounts import Account
from .cgroups import JobCgroup, detect, job_cgroup_name
from .job_end import RunningJob
from .job_files import JobFiles, usable_jobs_dir
from .launch import JobLaunch
from .launcher_client import LaunchError
from .processes import Limits, available_shells, bwrap_sandbox, job_environment, script_text


def host_memory_mb() -> int:
    """This host's physical memory.

    Returns
    -------
    int
        MiB.
    """
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20


def umask_setting(value) -> int:
    """``jobs.umask`` as a mode.

    Parameters
    ----------
    value : str or int
        "022" (octal text, as umask(1) takes it) or a number.

    Returns
    -------
    int
        0 to 0o777.

    Raises
    ------
    SystemExit
        Anything else.
    ValueError
        Text that is not octal digits.
    """
    mode = int(value, 8) if isinstance(value, str) else int(value)
    if not 0 <= mode <= 0o777:
        raise SystemExit(f"jobs.umask must be an octal mode such as 022, not {value!r}")
    return mode


class HostSetup:
    """This host's set-up for jobs, from config (``jobs.*``).

    Parameters
    ----------
    cfg : Config

    Attributes
    ----------
    as_root : bool
        Jobs run as their users' own Unix accounts (the service runs as root);
        otherwise as the service's own user.
    jobs_dir : Path
        Where job directories are (``jobs.dir`` or its fallback: ``usable_dir``).
    memory_budget_mb : int
        MiB the jobs here may ask for together (``jobs.memory_budget_mb``, else
        the host's memory).
    cgroups : CgroupLayout or None
        The per-job cgroups' layout (root only; None where the host has none).
    sandbox : str or None
        "bwrap" or None (``jobs.sandbox``).
    shells : dict
        Interpreter name -> absolute path, of ``jobs.shells`` installed here.
    umask : int

    Raises
    ------
    SystemExit
        ``jobs.sandbox`` or ``jobs.umask`` is not usable here.
    """

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.as_root = os.geteuid() == 0
        self.jobs_dir = usable_jobs_dir(cfg.path("jobs.dir"), self.as_root)
        self.memory_budget_mb = int(cfg["jobs.memory_budget_mb"] or host_memory_mb())
        self.cgroups = detect() if self.as_root else None
        self.sandbox = cfg["jobs.sandbox"] or None
        if self.sandbox not in (None, "bwrap"):
            raise SystemExit(f"jobs.sandbox must be empty or 'bwrap', not {self.sandbox!r}")
        if self.sandbox == "bwrap" and not shutil.which("bwrap"):
            raise SystemExit("jobs.sandbox is 'bwrap' but bwrap is not installed")
        self.shells = available_shells(list(cfg["jobs.shells"]))
        self.umask = umask_setting(cfg["jobs.umask"])

    def prepare(self) -> None:
        """Make the jobs directory and the jobs' cgroup parent.

        The jobs directory is 0711 (jobs may enter their own directory, not list the
        others); the cgroup parent is hidden and weighted by ``jobs.cpu_weight``; the
        cgroup names' key is read now, so one that cannot be read stops the start.

        Raises
        ------
        OSError
            A directory, cgroup file or the key cannot be made or read.
        """
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.jobs_dir, 0o711)
        if self.cgroups:
            # The names' key now: one that cannot be read stops the start, rather
            # than every launch and adoption later.
            job_cgroup_name(self.jobs_dir, "")
            self.cgroups.hide_jobs()
            self.cgroups.weigh_jobs(int(self.cfg["jobs.cpu_weight"]))

    def job_files(self, job_id: str) -> JobFiles:
        """The files of job ``job_id`` on this host.

        Parameters
        ----------
        job_id : str

        Returns
        -------
        JobFiles
        """
        return JobFiles(job_dir(self.jobs_dir, job_id))

    def job_cgroup(self, job_id: str) -> JobCgroup | None:
        """Job ``job_id``'s cgroup (not made: the launcher makes it).

        Parameters
        ----------
        job_id : str

        Returns
        -------
        JobCgroup or None
            None where jobs get no cgroup (not root, or no cgroup v2).
        """
        if not self.cgroups:
            return None
        return JobCgroup(self.cgroups, job_cgroup_name(self.jobs_dir, job_id))

    def sandbox_prefix(self, files: JobFiles) -> list[str]:
        """The sandbox's command before the job's.

        Parameters
        ----------
        files : JobFiles

        Returns
        -------
        list of str
            ``bwrap ...`` when ``jobs.sandbox`` is "bwrap", else [].
        """
        return bwrap_sandbox(files, self.jobs_dir) if self.sandbox == "bwrap" else []

    @property
    def kill_grace(self) -> float:
        """Seconds between TERM and KILL when a job ends (``jobs.kill_grace``)."""
        return float(self.cfg["jobs.kill_grace"])

    def limits(self, job: ClaimedJob) -> Limits:
        """The job's rlimits.

        Parameters
        ----------
        job : ClaimedJob

        Returns
        -------
        Limits
            CPU seconds: its timeout (seconds) times its cpus (at least 1); address
            space, bytes: its memory_mb (MiB) times ``jobs.address_space_factor``.
        """
        return Limits(
            cpu_seconds=max(job.timeout * max(job.cpus, 1), 1),
            address_space_bytes=job.memory_mb * int(self.cfg["jobs.address_space_factor"]) * 2**20,
        )

    def job_launch(self, job: ClaimedJob, running: RunningJob, account: Account) -> JobLaunch:
        """How ``job`` starts here as ``account`` (``launch.launch_job`` sends it).

        Parameters
        ----------
        job : ClaimedJob
        running : RunningJob
            Its files, cgroup and deadline (the init gets the seconds left).
        account : Account
            The job's Unix account (used only as root; its name and home fill the
            environment either way).

        Returns
        -------
        JobLaunch

        Raises
        ------
        LaunchError
            Its shell is not installed on this host.
        """
        shell_path = self.shells.get(job.shell)
        if shell_path is None:
            raise LaunchError(f"the shell {job.shell!r} is not installed on this host")
        return JobLaunch(
            job_id=job.id,
            files=running.files,
            script=script_text(job.code, job.shell),
            stdin=job.stdin,
            uid=account.uid if self.as_root else None,
            gid=account.gid if self.as_root else None,
            tmp=account.tmp if self.as_root and account.tmp else None,
            private_mounts=self.as_root,
            argv=[*self.sandbox_prefix(running.files), shell_path, "./script", *job.args],
            env=job_environment(job.id, account.name, str(account.home), "/bin/sh", dict(job.env)),
            umask=self.umask,
            limits=self.limits(job),
            cgroup=running.cgroup,
            cgroup_limits=(job.memory_mb, job.cpus, int(self.cfg["jobs.max_processes"])),
            # The init keeps the deadline and judges whether the job timed out
            # (it holds while no executor runs); the executor's timer is a backup.
            timeout=max((running.deadline - utcnow()).total_seconds(), 0),
            kill_grace=self.kill_grace,
            max_log_bytes=int(self.cfg["jobs.max_log_bytes"]),
            attempt=job.attempt,
            number=job.number,
        )

    def isolation(self) -> dict:
        """What protects the host and other users from jobs here (/api/sysinfo).

        Returns
        -------
        dict
            - ``run_as``: "user account" (each API user's own Unix account) or
              "service user" (the service does not run as root);
            - ``containment``: how every process of a job is ended with it: "pid
              namespace" (the job's init is its process 1) or "subreaper" (not root:
              its init ends its descendants one by one);
            - ``private_tmp``: bool, each user's jobs get their own /tmp and /var/tmp;
            - ``cgroups``: the cgroup version and controllers of the per-job limits
              (``CgroupLayout.describe``), or None;
            - ``rlimits``: True; ``sandbox``: as configured.
        """
        return {
            "run_as": "user account" if self.as_root else "service user",
            "containment": "pid namespace" if self.as_root else "subreaper",
            "private_tmp": self.as_root,
            "cgroups": self.cgroups.describe() if self.cgroups else None,
            "rlimits": True,
            "sandbox": self.sandbox,
        }
