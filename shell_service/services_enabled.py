"""Which of the app's service folders (``services/<name>/``) run in a stack
(config ``app.services_enabled_module``; ``baselayer/tools/app_services.py``)."""

from baselayer.app.config import Config

from .slurm_cluster import slurm_queue_names


def enabled(cfg: Config, name: str) -> bool:
    """Whether service ``name`` runs in the stack ``cfg`` describes.

    ``slurm_cluster`` (the stack's own Slurm cluster) when
    ``slurm.test_cluster.enabled``; ``slurm_executor`` when a queue has
    ``executor: slurm``; every other one always (the executor, and the
    scheduler: with no schedule it only sleeps).

    Parameters
    ----------
    cfg : Config
    name : str
        The service folder's name.

    Returns
    -------
    bool
    """
    if name == "slurm_cluster":
        return bool(cfg.get("slurm.test_cluster.enabled"))
    if name == "slurm_executor":
        return bool(slurm_queue_names(cfg))
    return True
