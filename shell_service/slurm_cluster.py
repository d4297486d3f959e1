"""Which Slurm cluster the service talks to, and how its client commands are run.

Config ``slurm:``: the client commands' directory (``bin_dir``) and the
``slurm.conf`` they read (``conf``; empty: the system's). With
``slurm.test_cluster.enabled`` the stack starts a single-node cluster of its own
under the run directory (munge, slurmctld, slurmd, supervised: the
``services/slurm_cluster/`` programs), and the clients read its ``slurm.conf``.

Every Slurm command the service runs (``executors/slurm/commands.py``, the set-up's
check) runs by absolute path under ``bin_dir`` with ``client_environment``: a
fixed environment, nothing of the caller's.
"""

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
from pathlib import Path

from baselayer.app.config import Config

#: The PATH of every Slurm client command we run (the commands themselves by
#: absolute path; this is for what they run).
CLIENT_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def test_cluster_dir(cfg: Config) -> Path:
    """Where the stack's own test cluster keeps its config, keys, state and spool:
    ``<run_dir>/slurm``."""
    return cfg.path("app.run_dir") / "slurm"


def client_conf(cfg: Config) -> Path | None:
    """The ``slurm.conf`` the client commands read: the test cluster's when
    ``slurm.test_cluster.enabled``, else ``slurm.conf`` (None: the system's own,
    /etc/slurm/slurm.conf)."""
    if cfg.get("slurm.test_cluster.enabled"):
        return test_cluster_dir(cfg) / "slurm.conf"
    conf = cfg.get("slurm.conf")
    return cfg.path("slurm.conf") if conf else None


def client_environment(cfg: Config) -> dict[str, str]:
    """The whole environment of a Slurm client command: ``CLIENT_PATH``, and
    ``SLURM_CONF`` when ``client_conf`` names one. sbatch passes its environment to
    the batch script (``--export=ALL``), so nothing of the service's may be in it."""
    env = {"PATH": CLIENT_PATH, "LANG": "C.UTF-8"}
    conf = client_conf(cfg)
    if conf is not None:
        env["SLURM_CONF"] = str(conf)
    return env


def client_command(cfg: Config, name: str) -> str:
    """The absolute path of Slurm client command ``name`` ("sbatch", "squeue",
    ...) under ``slurm.bin_dir``."""
    return str(Path(str(cfg.get("slurm.bin_dir") or "/usr/bin")) / name)


# ---- the stack's own test cluster (services/slurm_cluster/) ------------------------

#: The environment of the cluster's daemons (started through ``env -i``: nothing
#: of supervisord's reaches them, nor the jobs they start).
DAEMON_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
ENV = "/usr/bin/env"
#: The daemons and the Debian package of each; the clients the set-up and the
#: executor run come with slurm-client.
DAEMON_PACKAGES = {"munged": "munge", "slurmctld": "slurmctld", "slurmd": "slurmd"}
CLIENT_PACKAGE = "slurm-client"
SLURM_CONF_TEMPLATE = (
    Path(__file__).resolve().parent.parent / "services/slurm_cluster/slurm.conf.tmpl"
)
#: Seconds a client command of ours may take: one aimed at a controller that is
#: down fails after ~9-10 s by itself.
CLIENT_TIMEOUT = 15


class ClusterPaths:
    """Where the test cluster's files are, under ``test_cluster_dir``: ``slurm.conf``
    and ``jobcomp.txt`` at its top, ``munge/`` (0700: the key, munged's seed),
    ``var/`` (0755: munged's socket, the pid files), ``state/`` (0700: slurmctld's
    StateSaveLocation, kept across restarts) and ``spool/`` (slurmd's)."""

    def __init__(self, cfg: Config):
        self.dir = test_cluster_dir(cfg)
        self.conf = self.dir / "slurm.conf"
        self.munge_dir = self.dir / "munge"
        self.munge_key = self.munge_dir / "munge.key"
        self.var_dir = self.dir / "var"
        self.munge_socket = self.var_dir / "munge.socket"
        self.state_dir = self.dir / "state"
        self.spool_dir = self.dir / "spool"


def test_cluster_settings(cfg: Config) -> dict:
    """The ``slurm.test_cluster`` section (an empty dict when there is none)."""
    return dict(cfg.get("slurm.test_cluster") or {})


def test_cluster_name(cfg: Config) -> str:
    """``slurm.test_cluster.cluster_name``, or ``<app.name>_<digest of run_dir>``: each
    stack on a host has a cluster of its own."""
    name = test_cluster_settings(cfg).get("cluster_name")
    if name:
        return str(name)
    digest = hashlib.sha256(str(cfg.path("app.run_dir")).encode()).hexdigest()[:8]
    return f"{re.sub(r'[^a-z0-9_]', '_', str(cfg['app.name']).lower())}_{digest}"


def daemon_program(cfg: Config, name: str) -> str:
    """The absolute path of daemon ``name`` (munged, slurmctld, slurmd) under
    ``slurm.test_cluster.sbin_dir``."""
    return str(Path(str(test_cluster_settings(cfg).get("sbin_dir") or "/usr/sbin")) / name)


def daemon_commands(cfg: Config) -> dict[str, list[str]]:
    """The test cluster's daemons, each in the foreground, as supervisord runs them
    (its program name -> argv, after ``env -i PATH=...``)."""
    paths = ClusterPaths(cfg)
    node = str(test_cluster_settings(cfg).get("node_name") or "node1")
    return {
        "munged": [
            daemon_program(cfg, "munged"),
            "--foreground",
            # Its socket is in the cluster's root-only directory (on purpose: only
            # root's clients may use it), which munged reports as an error unless
            # told to go on.
            "--force",
            f"--key-file={paths.munge_key}",
            f"--socket={paths.munge_socket}",
            f"--pid-file={paths.var_dir / 'munged.pid'}",
            f"--seed-file={paths.munge_dir / 'munged.seed'}",
            # Unused in the foreground (it logs to stderr), but never /var/log.
            f"--log-file={paths.var_dir / 'munged.log'}",
        ],
        "slurmctld": [daemon_program(cfg, "slurmctld"), "-D", "-f", str(paths.conf)],
        "slurmd": [daemon_program(cfg, "slurmd"), "-D", "-N", node, "-f", str(paths.conf)],
    }


def daemon_command_lines(cfg: Config) -> dict[str, list[str]]:
    """``daemon_commands``, each started through ``env -i`` with ``DAEMON_PATH``."""
    fixed = [ENV, "-i", f"PATH={DAEMON_PATH}", "LANG=C.UTF-8"]
    return {name: fixed + argv for name, argv in daemon_commands(cfg).items()}


def hardware(cfg: Config) -> dict[str, str]:
    """This machine as ``slurmd -C`` sees it: {"CPUs": "2", "Boards": "1", ...,
    "RealMemory": "24105"}.

    Raises
    ------
    ValueError
        When slurmd cannot say.
    """
    result = subprocess.run(
        [daemon_program(cfg, "slurmd"), "-C"],
        capture_output=True,
        text=True,
        env={"PATH": DAEMON_PATH},
        timeout=CLIENT_TIMEOUT,
    )
    first = result.stdout.splitlines()[0] if result.stdout else ""
    fields = dict(part.split("=", 1) for part in first.split() if "=" in part)
    if result.returncode != 0 or "CPUs" not in fields:
        raise ValueError(f"slurmd -C failed: {(result.stderr or result.stdout).strip()}")
    return fields


def node_resources(cfg: Config) -> str:
    """The node line's resources: ``cpus`` and ``memory_mb`` from config, else the
    machine's (``slurmd -C``, with its socket/core layout)."""
    settings = test_cluster_settings(cfg)
    cpus, memory = settings.get("cpus"), settings.get("memory_mb")
    if cpus and memory:
        return f"CPUs={int(cpus)} RealMemory={int(memory)}"
    found = hardware(cfg)
    if cpus:
        layout = f"CPUs={int(cpus)}"
    else:
        keys = ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore")
        layout = " ".join(f"{key}={found[key]}" for key in keys if key in found)
    return f"{layout} RealMemory={int(memory or found['RealMemory'])}"


def render_slurm_conf(cfg: Config) -> str:
    """The test cluster's ``slurm.conf`` (``services/slurm_cluster/slurm.conf.tmpl``
    with config ``slurm.test_cluster``).

    Parameters
    ----------
    cfg : Config

    Returns
    -------
    str

    Raises
    ------
    ValueError
        When the node's size is not configured and ``slurmd -C`` cannot say.
    """
    from baselayer.tools.render_configs import render_template

    settings = test_cluster_settings(cfg)
    paths = ClusterPaths(cfg)
    oversubscribe = int(settings.get("oversubscribe") or 1)
    node = str(settings.get("node_name") or "node1")
    text = render_template(
        SLURM_CONF_TEMPLATE,
        {
            "cluster_name": test_cluster_name(cfg),
            "controller_host": socket.gethostname().split(".")[0],
            "slurmctld_port": int(settings["slurmctld_port"]),
            "slurmd_port": int(settings["slurmd_port"]),
            "munge_socket": paths.munge_socket,
            "state_dir": paths.state_dir,
            "spool_dir": paths.spool_dir,
            "var_dir": paths.var_dir,
            "cluster_dir": paths.dir,
            "def_mem_per_cpu": int(settings.get("def_mem_per_cpu") or 256),
            "scheduler_parameters": settings.get("scheduler_parameters") or "",
            "min_job_age": int(settings.get("min_job_age") or 300),
            "slurmd_timeout": int(settings.get("slurmd_timeout") or 300),
            "kill_wait": int(settings.get("kill_wait") or 30),
            "extra_conf": "\n".join(str(line) for line in settings.get("extra_conf") or []),
            "node_name": node,
            "resources": node_resources(cfg),
            "partition": str(settings.get("partition") or "debug"),
            "oversubscribe": f"FORCE:{oversubscribe}" if oversubscribe > 1 else "NO",
        },
    )
    # An empty SchedulerParameters= is refused: leave the line out.
    return re.sub(r"^SchedulerParameters=\n", "", text, flags=re.MULTILINE)


def _private_dir(path: Path, mode: int) -> None:
    path.mkdir(mode=mode, parents=True, exist_ok=True)
    path.chmod(mode)


def prepare_test_cluster(cfg: Config) -> str:
    """Make the test cluster's directories, its munge key (once) and its
    ``slurm.conf`` (at every start; the daemons read it at theirs).

    Parameters
    ----------
    cfg : Config

    Returns
    -------
    str
        A digest of the ``slurm.conf`` and key: it goes in the daemons' supervisor
        programs, so that ``make run`` restarts them when it changes.

    Raises
    ------
    ValueError
        When not root (slurmd starts jobs as their users), or the config is wrong.
    """
    if os.geteuid() != 0:
        raise ValueError(
            "the Slurm test cluster (slurm.test_cluster.enabled) runs as root: run make as root"
        )
    settings = test_cluster_settings(cfg)
    for key in ("slurmctld_port", "slurmd_port"):
        if not isinstance(settings.get(key), int) or isinstance(settings.get(key), bool):
            raise ValueError(f"config slurm.test_cluster.{key} must be a port number")
    if settings["slurmctld_port"] == settings["slurmd_port"]:
        raise ValueError("config slurm.test_cluster: slurmctld_port and slurmd_port must differ")
    paths = ClusterPaths(cfg)
    # munged refuses a key readable by others or in a directory others may
    # enter, and a socket in a directory not everyone may search. The cluster's
    # own directory is root's alone: its clients are the service (root) and its
    # daemons; no local account (a job's user among them) may reach its munge
    # socket or slurm.conf to submit to it around the service's limits.
    _private_dir(paths.dir, 0o700)
    _private_dir(paths.munge_dir, 0o700)
    _private_dir(paths.var_dir, 0o755)
    _private_dir(paths.state_dir, 0o700)
    _private_dir(paths.spool_dir, 0o755)
    if not paths.munge_key.is_file() or paths.munge_key.stat().st_size < 32:
        fd = os.open(paths.munge_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o400)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(1024))
    paths.munge_key.chmod(0o400)
    text = render_slurm_conf(cfg)
    if not paths.conf.is_file() or paths.conf.read_text() != text:
        tmp = paths.conf.with_name("slurm.conf.tmp")
        tmp.write_text(text)
        tmp.chmod(0o644)
        tmp.replace(paths.conf)
    digest = hashlib.sha256(text.encode() + paths.munge_key.read_bytes())
    return digest.hexdigest()[:16]


def run_client(cfg: Config, name: str, *args: str, timeout: float = CLIENT_TIMEOUT):
    """Run Slurm client command ``name`` (by absolute path, ``client_environment``).

    Parameters
    ----------
    cfg : Config
    name : str
        "sbatch", "squeue", ...
    *args : str
        Its arguments.
    timeout : float
        Seconds it may take.

    Returns
    -------
    subprocess.CompletedProcess

    Raises
    ------
    FileNotFoundError
        When the command is not there.
    subprocess.TimeoutExpired
    """
    return subprocess.run(
        [client_command(cfg, name), *args],
        capture_output=True,
        text=True,
        env=client_environment(cfg),
        timeout=timeout,
        cwd="/",
    )


def node_states(cfg: Config, timeout: float = 5) -> list[str]:
    """The states of the cluster's nodes (``sinfo -h -N -o %T``), one per node.

    Parameters
    ----------
    cfg : Config
    timeout : float
        Seconds sinfo may take.

    Returns
    -------
    list of str
        "idle", "mixed", "down*", ...

    Raises
    ------
    RuntimeError
        With sinfo's message when it fails (the controller unreachable, say).
    FileNotFoundError, subprocess.TimeoutExpired
    """
    result = run_client(cfg, "sinfo", "-h", "-N", "-o", "%T", timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError((result.stderr or result.stdout).strip() or f"rc {result.returncode}")
    return result.stdout.split()


def test_cluster_not_ready(cfg: Config) -> str | None:
    """None when the test cluster's node is idle (or busy: mixed, allocated), else
    what it is now. Each call takes at most ~5 s (sinfo's own wait for a
    controller that does not answer is cut short).

    Parameters
    ----------
    cfg : Config

    Returns
    -------
    str or None
    """
    try:
        states = node_states(cfg)
    except subprocess.TimeoutExpired:
        return "the controller does not answer sinfo yet"
    except (OSError, RuntimeError) as exc:
        return f"sinfo: {exc}"
    if states and all(state in ("idle", "mixed", "allocated") for state in states):
        return None
    if any(state.startswith("drain") for state in states):
        # Slurm drains a node on its own (a job's processes it could not kill, say)
        # and never undrains it.
        node = test_cluster_settings(cfg).get("node_name") or "node1"
        return (
            f"node state {' '.join(states)}: see log/slurmctld.log, then "
            f"`scontrol update NodeName={node} State=RESUME` (SLURM_CONF={client_conf(cfg)})"
        )
    return f"node state {' '.join(states) or 'unknown'} (waiting for idle)"


def slurm_queue_names(cfg: Config) -> list[str]:
    """The names of the configured queues with ``executor: slurm`` (from the raw
    ``queues`` list)."""
    entries = cfg.get("queues") or []
    return [
        str(entry.get("name"))
        for entry in entries
        if isinstance(entry, dict) and entry.get("executor") == "slurm"
    ]


def check_clients(cfg: Config) -> None:
    """Check that the Slurm client commands work against the configured cluster:
    ``sinfo`` and ``squeue`` under ``slurm.bin_dir``, with ``client_environment``.

    Parameters
    ----------
    cfg : Config

    Raises
    ------
    ValueError
        Saying what is missing: a command not found, the slurm.conf missing, or
        the message of the failing command (the controller unreachable, say).
    """
    conf = client_conf(cfg)
    where = f"slurm.conf {conf}" if conf else "the system's slurm.conf"
    if conf is not None and not conf.is_file():
        raise ValueError(f"Slurm: config slurm.conf names {conf}, which does not exist")
    for name, args in (("sinfo", ("-h", "-o", "%P")), ("squeue", ("-h", "-o", "%i", "-t", "all"))):
        command = client_command(cfg, name)
        if not os.access(command, os.X_OK):
            raise ValueError(
                f"Slurm: {command} not found (config slurm.bin_dir: where the Slurm client "
                f"commands are; Debian's package {CLIENT_PACKAGE})"
            )
        try:
            result = run_client(cfg, name, *args)
        except subprocess.TimeoutExpired:
            raise ValueError(
                f"Slurm: {command} gave no answer within {CLIENT_TIMEOUT} s ({where})"
            ) from None
        if result.returncode != 0:
            message = (result.stderr or result.stdout).strip() or f"exit code {result.returncode}"
            raise ValueError(
                f"Slurm: {command} failed ({where}; is the controller up and reachable?): {message}"
            )


def _unix_socket_inodes(directory: Path) -> set[str]:
    """Inodes of the unix sockets bound to a path in ``directory`` (/proc/net/unix)."""
    prefix = f"{directory}/"
    inodes: set[str] = set()
    try:
        lines = Path("/proc/net/unix").read_text().splitlines()[1:]
    except OSError:
        return inodes
    for line in lines:
        fields = line.split()
        if len(fields) >= 8 and fields[7].startswith(prefix):
            inodes.add(fields[6])
    return inodes


def _all_processes() -> dict[int, int]:
    """pid -> parent pid, of every process."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def step_daemons(cfg: Config) -> list[int]:
    """The pids of the test cluster's slurmstepd processes: each listens on a unix
    socket in the cluster's spool directory (``<node>_<job>.<step>``), so another
    cluster's are never taken for ours.

    Parameters
    ----------
    cfg : Config

    Returns
    -------
    list of int
    """
    inodes = _unix_socket_inodes(ClusterPaths(cfg).spool_dir)
    pids: list[int] = []
    if not inodes:
        return pids
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for pid in _all_processes():
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in wanted:
                    pids.append(pid)
                    break
            except OSError:
                continue
    return pids


def running_daemons(cfg: Config, names: tuple[str, ...] = tuple(DAEMON_PACKAGES)) -> list[int]:
    """The pids of the test cluster's daemons that run now.

    Parameters
    ----------
    cfg : Config
    names : tuple of str
        Which daemons (default: all three).

    Returns
    -------
    list of int
    """
    from baselayer.tools.processes import pids_with_command

    commands = daemon_commands(cfg)
    return [pid for name in names for pid in pids_with_command(commands[name])]


def end_leftover_jobs(cfg: Config) -> int:
    """SIGKILL the test cluster's job steps left behind by its stopped daemons
    (a stopped slurmd leaves its slurmstepd and their jobs running): each
    slurmstepd and every process under it. Nothing while slurmd runs (the steps
    are its).

    Parameters
    ----------
    cfg : Config

    Returns
    -------
    int
        How many processes were killed.
    """
    if running_daemons(cfg, ("slurmd",)):
        return 0
    steps = step_daemons(cfg)
    if not steps:
        return 0
    parents = _all_processes()
    doomed = set(steps)
    grew = True
    while grew:
        children = {pid for pid, parent in parents.items() if parent in doomed} - doomed
        grew = bool(children)
        doomed |= children
    for pid in doomed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(doomed)


def reset_test_cluster(cfg: Config) -> bool:
    """For a test run that starts from nothing: end leftover job steps and empty
    the controller's state and slurmd's spool (the munge key and slurm.conf stay).
    Nothing when a daemon of the cluster runs.

    Parameters
    ----------
    cfg : Config

    Returns
    -------
    bool
        Whether it was reset (False: a daemon runs, or there is no cluster).
    """
    paths = ClusterPaths(cfg)
    if running_daemons(cfg) or not paths.dir.is_dir():
        return False
    end_leftover_jobs(cfg)
    for directory in (paths.state_dir, paths.spool_dir):
        if directory.is_dir():
            shutil.rmtree(directory)
    return True
