"""The app's settings that `make run` checks before it starts or restarts anything
(``app.config_check_module``): a config its programs would refuse at start must
not take down a stack that is running. The programs check the same at their own
start (``app_server.main``, ``services/executor``)."""

from baselayer.app.config import Config

from . import queues, retries, slurm_cluster
from .scheduler import scheduler_settings
from .stats import stats_settings
from .waiting import waiting_settings
from .webhooks import targets


def check(cfg: Config) -> None:
    """Refuse a config the app workers or the executor would stop on.

    Parameters
    ----------
    cfg : Config

    Raises
    ------
    ValueError
        Naming the setting: the queues (``queues.QueueConfigError``), this host's
        name, ``hosts.lost_after``, ``jobs.max_attempts``, the ``scheduler:``, ``waiting:``,
        ``stats:`` and ``arrays:`` sections, or the ``webhooks:`` section.
    """
    check_webhooks(cfg)
    queues.configured_queues(cfg)
    queues.host_name(cfg)
    lost_after = cfg.get("hosts.lost_after")
    if isinstance(lost_after, bool) or not isinstance(lost_after, int | float) or lost_after <= 0:
        raise ValueError(
            f"config hosts.lost_after must be a number of seconds > 0, not {lost_after!r}"
        )
    scheduler_settings(cfg)
    waiting_settings(cfg)
    stats_settings(cfg)
    retries.retry_settings(cfg)


def check_webhooks(cfg: Config) -> None:
    """The ``webhooks:`` section: its networks and its numbers.

    Raises
    ------
    ValueError
        Naming the setting.
    """
    settings = cfg.get("webhooks") or {}
    try:
        targets.parse_networks(settings.get("allow_networks") or [])
    except ValueError as exc:
        raise ValueError(f"config webhooks.allow_networks: {exc}") from None
    numbers = {
        "timeout": settings.get("timeout"),
        "poll_interval": settings.get("poll_interval"),
        "concurrency": settings.get("concurrency"),
        "batch": settings.get("batch"),
        "max_per_user": settings.get("max_per_user"),
        "keep_deliveries_days": settings.get("keep_deliveries_days"),
        **{f"retry.{k}": v for k, v in (settings.get("retry") or {}).items()},
    }
    for name, value in numbers.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(f"config webhooks.{name} must be a number > 0, not {value!r}")
    rescan = settings.get("rescan_events")
    if isinstance(rescan, bool) or not isinstance(rescan, int) or rescan < 0:
        raise ValueError(f"config webhooks.rescan_events must be an integer >= 0, not {rescan!r}")


def check_external(cfg: Config) -> None:
    """What `make run` alone checks, after ``check``: when a queue runs its jobs on
    Slurm and the stack starts no cluster of its own (``slurm.test_cluster.enabled``),
    the Slurm client commands must work against the configured cluster
    (``slurm_cluster.check_clients``). Not at the programs' start: a Slurm
    controller that is down for a moment must not keep the API from starting.

    Parameters
    ----------
    cfg : Config

    Raises
    ------
    ValueError
        Saying what of Slurm is missing.
    """
    if slurm_cluster.slurm_queue_names(cfg) and not cfg.get("slurm.test_cluster.enabled"):
        slurm_cluster.check_clients(cfg)
