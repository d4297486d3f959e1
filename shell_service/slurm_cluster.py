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
