"""A second local executor beside the bench stack's, under another host name and
with a jobs directory of its own: two "hosts" on this machine, for the hosts
scenario (the same arrangement as tests/e2e/test_hosts.py)."""

import os
import signal
import subprocess
import sys
import time

import yaml

from baselayer.app.config import Config

from .tools import BenchError

HOST_NAME = "benchb"


class SecondHost:
    """``services/executor`` run with config overrides: ``hosts.name`` HOST_NAME and
    ``jobs.dir`` ``<run_dir>/jobs_benchb``; its other settings (slots, memory) are
    the stack's. A context manager: started on entry, stopped (SIGTERM) on exit."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        run_dir = cfg.path("app.run_dir")
        self.overrides = run_dir / "benchb.yaml"
        self.log = cfg.path("app.log_dir") / "executor_benchb.log"
        self.jobs_dir = run_dir / "jobs_benchb"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "SecondHost":
        overrides = {"hosts": {"name": HOST_NAME}, "jobs": {"dir": str(self.jobs_dir)}}
        self.overrides.write_text(yaml.safe_dump(overrides))
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "BASELAYER_CONFIG": f"{os.environ.get('BASELAYER_CONFIG', '')}:{self.overrides}",
            "PYTHONUNBUFFERED": "1",
            "PROMETHEUS_MULTIPROC_DIR": str(self.cfg.path("app.run_dir") / "metrics"),
        }
        command = [sys.executable, "-m", "services.executor.executor"]
        command += ["--run-dir", str(self.cfg.path("app.run_dir"))]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=self.cfg.root, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        # Up once its launcher runs and it has claimed (nothing): its log says so.
        deadline = time.monotonic() + 60
        while f"Executor {HOST_NAME}:{self.process.pid} running" not in self.log.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"the second executor did not start: see {self.log}")
            time.sleep(0.2)
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(60)
