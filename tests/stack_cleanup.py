"""What `make test` removes before it starts and after it stops the test stack
(``app.test_cleanup_module`` in tests/config.test.yaml): the Unix accounts of
the test stack and of the in-process tests, made in earlier runs whose databases,
and so user ids, are gone; the Slurm test cluster's jobs left running by its
stopped slurmd, and its state (each run starts with an empty cluster). Also the
in-process tests' config (``unit_config``).
"""

import copy

from baselayer.app.config import Config
from shell_service import slurm_cluster
from shell_service.executors.accounts import remove_stack_accounts

#: The in-process tests' accounts when the config names none (tests.unit_accounts).
UNIT_ACCOUNTS = {"prefix": "ssu-", "uid_base": 1900000000}


def unit_config(cfg: Config) -> Config:
    """The in-process tests' config: ``cfg`` with a database of their own
    (``<name>_unit``, so the stack's executor never claims their jobs), their own
    jobs directory, ``hosts.lost_after`` at its default, and Unix accounts of
    their own (``tests.unit_accounts``: prefix and uid_base; homes and tmp under
    the run dir), since their user ids collide with the stack's."""
    data = copy.deepcopy(dict(cfg))
    run_dir = cfg.path("app.run_dir")
    accounts = dict(cfg["jobs"].get("accounts", {}))
    accounts.update(cfg.get("tests.unit_accounts") or UNIT_ACCOUNTS)
    accounts.update(homes_dir=str(run_dir / "homes_unit"), tmp_dir=str(run_dir / "tmp_unit"))
    data["jobs"] = dict(data["jobs"], dir=str(run_dir / "jobs_unit"), accounts=accounts)
    data["database"] = dict(data["database"], name=data["database"]["name"] + "_unit")
    # The stack's short hosts.lost_after is for tests/e2e/test_hosts.py; the
    # in-process executor must not judge the fake hosts of the lost-host tests
    # while those call the statements themselves (their jobs are a minute old).
    data["hosts"] = dict(data.get("hosts") or {}, lost_after=300)
    unit = Config(data, cfg.root)
    unit.files = list(cfg.files)
    return unit


def cleanup(cfg: Config) -> None:
    """End the Slurm test cluster's leftover jobs and empty its state (when its
    daemons are stopped), then remove the test stack's and the in-process tests'
    Unix accounts (the jobs ran as them)."""
    if cfg.get("slurm.test_cluster.enabled"):
        killed = slurm_cluster.end_leftover_jobs(cfg)
        if killed:
            print(f"Killed {killed} leftover processes of Slurm test jobs", flush=True)
        slurm_cluster.reset_test_cluster(cfg)
    for which, config in (("test stack", cfg), ("in-process tests", unit_config(cfg))):
        removed = remove_stack_accounts(config)
        if removed:
            print(f"Removed {removed} Unix accounts of the {which}", flush=True)
