"""The stack's single-node Slurm test cluster (config ``slurm.test_cluster``): the
set-up, start and readiness hooks of this service folder (``baselayer/tools/
app_services.py`` calls them; ``shell_service/services_enabled.py`` enables the
folder). The daemons are Slurm's and munge's own programs, in the foreground
(``supervisor.conf.tmpl``); the work is in ``shell_service/slurm_cluster.py``."""

import shlex

from baselayer.app.config import Config
from shell_service import slurm_cluster


def system_commands(cfg: Config) -> dict[str, str]:
    """The daemons and the client commands, each with its Debian package.

    Parameters
    ----------
    cfg : Config

    Returns
    -------
    dict
        Absolute path -> package.
    """
    commands = {
        slurm_cluster.daemon_program(cfg, name): package
        for name, package in slurm_cluster.DAEMON_PACKAGES.items()
    }
    for name in ("sbatch", "squeue", "sinfo", "scancel", "scontrol"):
        commands[slurm_cluster.client_command(cfg, name)] = slurm_cluster.CLIENT_PACKAGE
    return commands


def prepare(cfg: Config, layout) -> dict[str, str]:
    """Make the cluster's files (``slurm_cluster.prepare_test_cluster``).

    Parameters
    ----------
    cfg : Config
    layout : baselayer.tools.layout.StackLayout

    Returns
    -------
    dict
        The command line of each daemon (``munged_command``, ``slurmctld_command``,
        ``slurmd_command``) and ``conf_digest``.

    Raises
    ------
    ValueError
        Not root, or a wrong setting.
    """
    values = {"conf_digest": slurm_cluster.prepare_test_cluster(cfg)}
    for name, argv in slurm_cluster.daemon_command_lines(cfg).items():
        values[f"{name}_command"] = shlex.join(argv)
    return values


def commands(cfg: Config, layout) -> list[list[str]]:
    """The daemons' command lines as they run (``env`` has exec'd them).

    Parameters
    ----------
    cfg : Config
    layout : baselayer.tools.layout.StackLayout

    Returns
    -------
    list of list of str
    """
    return list(slurm_cluster.daemon_commands(cfg).values())


def not_ready(cfg: Config) -> str | None:
    """None once the node is idle, else its state or sinfo's error.

    Parameters
    ----------
    cfg : Config

    Returns
    -------
    str or None
    """
    return slurm_cluster.test_cluster_not_ready(cfg)
