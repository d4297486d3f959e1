"""Resident memory (RSS) of the app workers and the executor: now, and the peak while
something runs."""

import threading
from pathlib import Path

from baselayer.tools.layout import StackLayout
from baselayer.tools.supervisor_control import rpc


def service_pids(layout: StackLayout) -> dict[str, int]:
    """``{"app_00": pid, ..., "executor": pid}``: the stack's running app workers
    and its executor (the Python processes that serve requests and run jobs)."""
    infos = rpc(layout).supervisor.getAllProcessInfo()
    return {
        info["name"]: info["pid"]
        for info in infos
        if info["group"] in ("app", "executor") and info["statename"] == "RUNNING"
    }


def rss_mb(pid: int) -> float:
    """VmRSS of ``pid`` in MB; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0


def rss_now(pids: dict[str, int]) -> dict[str, float]:
    return {name: round(rss_mb(pid), 1) for name, pid in pids.items()}


class PeakRss:
    """Samples the RSS of each of ``pids`` every ``interval`` seconds inside a ``with`` block.

    ``before`` holds the RSS at entry, ``peak`` the highest seen, ``growth`` the difference.
    """

    def __init__(self, pids: dict[str, int], interval: float = 0.05):
        self.pids = pids
        self.interval = interval
        self.before: dict[str, float] = {}
        self.peak: dict[str, float] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.is_set():
            for name, value in rss_now(self.pids).items():
                self.peak[name] = max(self.peak.get(name, 0.0), value)
            self._done.wait(self.interval)

    def __enter__(self):
        self.before = rss_now(self.pids)
        self.peak = dict(self.before)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()

    @property
    def growth(self) -> dict[str, float]:
        return {name: round(self.peak[name] - self.before[name], 1) for name in self.pids}

    def summary(self) -> dict:
        return {
            "before_mb": self.before,
            "peak_mb": self.peak,
            "growth_mb": self.growth,
            "max_peak_mb": max(self.peak.values(), default=0.0),
            "max_growth_mb": max(self.growth.values(), default=0.0),
        }
