"""Named queues: each a pool of limits that jobs name (config ``queues:``).

A queue says which executor kind runs its jobs (``local``: the hosts' own
executors; ``slurm``: handed to a Slurm cluster, ``executors/slurm/``), which hosts
serve it, how many of its jobs may run at once (all hosts together, and per
user), how much memory they may ask for together, and each job option's default
and maximum. A setting left empty takes the ``jobs:`` section's value of the same
name, read when it is used, so the default config's one queue, ``default``,
behaves as the service did before queues existed.

Fairness between users, priority and the per-user limit apply within each queue
(``queue/claim.py``); a host's own capacity (``jobs.max_running``,
``jobs.memory_budget_mb``) bounds every queue it serves.
"""

import functools
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from baselayer.app.config import Config

#: Executor kinds a queue may name.
EXECUTOR_KINDS = ("local", "slurm")

#: sbatch's long options the Slurm executor sets itself for every job
#: (executors/slurm/batch.py), or that would change who runs the job, where, or
#: with what environment: a queue's ``slurm.options`` may not set them, nor any
#: abbreviation of them (sbatch takes any unambiguous prefix: ``--ui=0``).
SBATCH_OWN_OPTIONS = (
    "--job-name", "--chdir", "--output", "--error", "--input", "--export",
    "--export-file", "--uid", "--gid", "--requeue", "--no-requeue", "--time",
    "--mem", "--mem-per-cpu", "--mem-per-gpu", "--cpus-per-task", "--wrap",
    "--parsable", "--partition", "--account", "--array", "--signal",
    "--get-user-env", "--dependency", "--batch", "--wait", "--test-only",
)  # fmt: skip

#: A queue's extra sbatch option: one long option, ``--name`` or ``--name=value``,
#: as one argument (short options would hide what they set).
SBATCH_OPTION_PATTERN = re.compile(r"--([a-z][a-z0-9-]*)(=[^\n\0]*)?")


def sbatch_option_problem(option: str) -> str | None:
    """Why ``option`` may not be one of a queue's extra sbatch options (None: it may).

    Parameters
    ----------
    option : str
        One argument, as the queue's ``slurm.options`` lists it.

    Returns
    -------
    str or None
    """
    match = SBATCH_OPTION_PATTERN.fullmatch(option)
    if match is None:
        return "is not one long sbatch option (--name or --name=value, one argument)"
    name = "--" + match.group(1)
    if len(name) < 4:
        return "is too short to say which option it is"
    owned = [own for own in SBATCH_OWN_OPTIONS if own.startswith(name)]
    if owned:
        return f"sets {owned[0]}, which the executor sets itself"
    return None


#: A Slurm partition's or account's name as it may appear on an sbatch command line.
SLURM_NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True)
class SlurmSettings:
    """A Slurm queue's ``slurm:`` settings.

    Attributes
    ----------
    partition : str or None
        ``--partition`` (None: the cluster's default partition).
    account : str or None
        ``--account`` (None: the submitting user's default).
    options : tuple of str
        Extra sbatch options, each one argument ("--qos=high"), never one of
        ``SBATCH_OWN_OPTIONS``.
    poll_interval : float
        Seconds between the executor's batched ``squeue`` polls of this queue.
    jobs_dir : Path
        Where its jobs' directories go: a filesystem the service host shares with
        the nodes, at the same path on both.
    lost_grace : float
        Seconds a job Slurm no longer lists may take to show its end record (a
        shared filesystem's caches) before it ends SERVER_ERROR "lost by Slurm".
    """

    partition: str | None
    account: str | None
    options: tuple[str, ...]
    poll_interval: float
    jobs_dir: Path
    lost_grace: float


#: A queue's name: one lowercase word (it appears in URLs, metrics labels and paths).
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_-]{0,31}")

#: Job options a queue bounds: option -> (config key of its default, of its maximum).
OPTIONS = {
    "timeout": ("default_timeout", "max_timeout"),
    "cpus": ("default_cpus", "max_cpus"),
    "memory_mb": ("default_memory_mb", "max_memory_mb"),
}

#: Settings a queue may leave empty to take the ``jobs:`` section's value.
INHERITED = ("max_running_per_user", *(key for pair in OPTIONS.values() for key in pair))


class QueueConfigError(ValueError):
    """``queues:`` in config is not valid; the message names the queue and setting."""


@dataclass(frozen=True)
class Queue:
    """One queue's settings, with the ``jobs:`` section's values filled in.

    Attributes
    ----------
    name, description : str
    executor : str
        The executor kind that runs its jobs (one of ``EXECUTOR_KINDS``).
    hosts : tuple of str
        The hosts whose executors run its jobs; empty: every host.
    max_running : int or None
        Its jobs running at once on all hosts together; None: only the hosts'
        capacity bounds them.
    max_running_per_user : int
        One user's jobs of this queue running at once.
    memory_budget_mb : int or None
        MiB its running jobs may ask for together, on all hosts; None: no budget
        beyond each host's.
    defaults, maxima : dict
        ``{"timeout": seconds, "cpus": n, "memory_mb": MiB}``: what a job gets
        when it names none, and the most it may ask for.
    slurm : SlurmSettings or None
        A Slurm queue's settings (None for a local queue). Its ``max_running`` and
        per-user limit then count the jobs handed to Slurm (pending there or
        running).
    """

    name: str
    description: str
    executor: str
    hosts: tuple[str, ...]
    max_running: int | None
    max_running_per_user: int
    memory_budget_mb: int | None
    defaults: dict
    maxima: dict
    slurm: SlurmSettings | None = None

    def serves(self, host: str) -> bool:
        """Whether the executor of ``host`` runs this queue's jobs."""
        return not self.hosts or host in self.hosts


def _optional_int(value, where: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise QueueConfigError(f"{where} must be a whole number >= 0 or empty, not {value!r}")
    return value


def configured_queues(cfg: Config) -> list[Queue]:
    """The queues of ``cfg["queues"]`` in config order (the first is the default).

    Read afresh at each call (a dict walk, microseconds): the executor reads its
    limits at every claim, so a test or an operator changing ``jobs:`` settings
    in the running config sees them apply.

    Raises
    ------
    QueueConfigError
        No queue, a name that is not one lowercase word or is repeated, an unknown
        executor kind or setting, or a limit that is not a whole number.
    """
    entries = cfg.get("queues") or []
    if not isinstance(entries, list) or not entries:
        raise QueueConfigError("config queues: must list at least one queue")
    jobs = cfg["jobs"]
    known = {"name", "description", "executor", "hosts", "max_running", "memory_budget_mb"}
    known.add("slurm")
    known.update(INHERITED)
    queues, seen = [], set()
    for entry in entries:
        if not isinstance(entry, dict):
            raise QueueConfigError(f"config queues: each entry is a mapping, not {entry!r}")
        name = entry.get("name")
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            raise QueueConfigError(
                f"config queues: name {name!r} must be one lowercase word "
                "(a-z, then a-z 0-9 _ -, at most 32 characters)"
            )
        if name in seen:
            raise QueueConfigError(f"config queues: {name!r} is listed twice")
        seen.add(name)
        where = f"config queues: {name}:"
        unknown = set(entry) - known
        if unknown:
            raise QueueConfigError(f"{where} unknown setting(s) {', '.join(sorted(unknown))}")
        kind = entry.get("executor") or "local"
        if kind not in EXECUTOR_KINDS:
            raise QueueConfigError(
                f"{where} executor {kind!r} is not one of {', '.join(EXECUTOR_KINDS)}"
            )
        if entry.get("slurm") is not None and kind != "slurm":
            raise QueueConfigError(f"{where} slurm: settings need executor: slurm")
        hosts = entry.get("hosts") or []
        if not isinstance(hosts, list) or not all(isinstance(h, str) and h for h in hosts):
            raise QueueConfigError(f"{where} hosts must be a list of host names")
        settings: dict[str, int] = {}
        for key in INHERITED:
            value = entry.get(key)
            value = jobs.get(key) if value is None or value == "" else value
            number = _optional_int(value, f"{where} {key}")
            if number is None:
                raise QueueConfigError(f"{where} {key} must be set, here or in jobs:")
            settings[key] = number
        for default_key, max_key in OPTIONS.values():
            if settings[default_key] > settings[max_key]:
                raise QueueConfigError(
                    f"{where} {default_key} ({settings[default_key]}) is over "
                    f"{max_key} ({settings[max_key]})"
                )
        budget = _optional_int(entry.get("memory_budget_mb"), f"{where} memory_budget_mb")
        if budget is not None and settings["max_memory_mb"] > budget:
            raise QueueConfigError(
                f"{where} max_memory_mb ({settings['max_memory_mb']}) is over its "
                f"memory_budget_mb ({budget}): such a job could never start"
            )
        queues.append(
            Queue(
                name=name,
                description=str(entry.get("description") or ""),
                executor=kind,
                hosts=tuple(hosts),
                max_running=_optional_int(entry.get("max_running"), f"{where} max_running"),
                max_running_per_user=settings["max_running_per_user"],
                memory_budget_mb=_optional_int(
                    entry.get("memory_budget_mb"), f"{where} memory_budget_mb"
                ),
                defaults={option: settings[keys[0]] for option, keys in OPTIONS.items()},
                maxima={option: settings[keys[1]] for option, keys in OPTIONS.items()},
                slurm=_slurm_settings(cfg, entry, name) if kind == "slurm" else None,
            )
        )
    return queues


def _slurm_settings(cfg: Config, entry: dict, name: str) -> SlurmSettings:
    """A Slurm queue's ``slurm:`` mapping, checked (``configured_queues``)."""
    where = f"config queues: {name}: slurm:"
    settings = entry.get("slurm") or {}
    if not isinstance(settings, dict):
        raise QueueConfigError(f"{where} must be a mapping")
    known = {"partition", "account", "options", "poll_interval", "jobs_dir", "lost_grace"}
    unknown = set(settings) - known
    if unknown:
        raise QueueConfigError(f"{where} unknown setting(s) {', '.join(sorted(unknown))}")
    names: dict[str, str | None] = {}
    for key in ("partition", "account"):
        value = settings.get(key)
        if value in (None, ""):
            names[key] = None
        elif not isinstance(value, str) or not SLURM_NAME_PATTERN.fullmatch(value):
            raise QueueConfigError(f"{where} {key} {value!r} is not a Slurm name")
        else:
            names[key] = value
    options = settings.get("options") or []
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise QueueConfigError(f"{where} options must be a list of sbatch options")
    for option in options:
        problem = sbatch_option_problem(option)
        if problem:
            raise QueueConfigError(
                f"{where} option {option!r} {problem} (queue settings: partition, account, "
                "max_timeout, max_memory_mb, max_cpus)"
            )
    numbers = {}
    for key, default in (("poll_interval", 5.0), ("lost_grace", 60.0)):
        value = settings.get(key)
        value = default if value in (None, "") else value
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise QueueConfigError(f"{where} {key} must be a number of seconds > 0")
        numbers[key] = float(value)
    places = tuple(str(cfg[key]) for key in _SERVICE_DIRS)
    jobs_dir = _checked_jobs_dir(str(cfg.root), places, settings.get("jobs_dir"), name)
    return SlurmSettings(
        partition=names["partition"],
        account=names["account"],
        options=tuple(options),
        poll_interval=numbers["poll_interval"],
        jobs_dir=jobs_dir,
        lost_grace=numbers["lost_grace"],
    )


#: The service's own directories (config keys), which no Slurm jobs_dir may be,
#: hold, or (but for the run directory) lie in.
_SERVICE_DIRS = (
    "app.run_dir", "app.log_dir", "jobs.dir", "jobs.accounts.homes_dir", "jobs.accounts.tmp_dir",
)  # fmt: skip


#: The system's own directories, which no Slurm jobs_dir may be or lie in.
_SYSTEM_DIRS = (
    "/etc",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib64",
    "/boot",
    "/proc",
    "/sys",
    "/dev",
    "/root",
    "/var/lib/postgresql",
)


@functools.lru_cache(maxsize=64)
def _checked_jobs_dir(root: str, places: tuple[str, ...], configured, name: str) -> Path:
    """A Slurm queue's jobs_dir, resolved and checked: a directory of its own, not
    one of the service's (``_SERVICE_DIRS``, the project) nor above one, nor inside
    one but the run directory, nor in the test cluster's files or the sockets.
    Cached: resolving paths costs syscalls, and ``configured_queues`` runs on every
    request (only a valid result is cached; an error is raised each time).

    Raises
    ------
    QueueConfigError
        Naming the queue and what the directory is or is in.
    """
    base = Path(root)
    dirs = {key: (base / place).resolve() for key, place in zip(_SERVICE_DIRS, places, strict=True)}
    run_dir = dirs["app.run_dir"]
    jobs_dir = (base / str(configured or run_dir / "slurm-jobs" / name)).resolve()
    where = f"config queues: {name}: slurm: jobs_dir {jobs_dir}"
    for key, directory in {"the project": base.resolve(), **dirs}.items():
        if directory == jobs_dir or directory.is_relative_to(jobs_dir):
            raise QueueConfigError(f"{where} is {key} or holds it: give it a directory of its own")
    for system in _SYSTEM_DIRS:
        if jobs_dir == Path(system) or jobs_dir.is_relative_to(system):
            raise QueueConfigError(f"{where} is inside {system}, the system's")
    inside = {key: dirs[key] for key in _SERVICE_DIRS[1:]}
    inside["the test cluster's files"] = run_dir / "slurm"
    inside["the stack's sockets"] = run_dir / "sockets"
    for key, directory in inside.items():
        if jobs_dir.is_relative_to(directory):
            raise QueueConfigError(f"{where} is inside {key}")
    project = base.resolve()
    if jobs_dir.is_relative_to(project) and not jobs_dir.is_relative_to(run_dir):
        raise QueueConfigError(
            f"{where} is inside the project (only its run directory may hold it)"
        )
    return jobs_dir


def queue_named(cfg: Config, name: str | None) -> Queue | None:
    """The queue called ``name`` (None: the default, the first); None if none is."""
    queues = configured_queues(cfg)
    if name is None:
        return queues[0]
    return next((queue for queue in queues if queue.name == name), None)


#: A host's name: what hostnames are made of (it is part of "host:pid").
HOST_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


def host_name(cfg: Config) -> str:
    """This host's name as its executor records it (``hosts.name``; empty: the
    machine's hostname). It names the host in ``jobs.host`` and ``GET /api/queues``
    and picks the queues its executor serves.

    Raises
    ------
    QueueConfigError
        ``hosts.name`` is not a hostname (letters, digits, ``.``, ``_``, ``-``).
    """
    name = str(cfg.get("hosts.name") or socket.gethostname())
    if not HOST_PATTERN.fullmatch(name):
        raise QueueConfigError(
            f"config hosts.name {name!r} must be a host name: letters, digits, '.', '_', '-'"
        )
    return name
