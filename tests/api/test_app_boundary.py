"""The app workers serve the API and nothing else: they load no executor code."""

import subprocess
import sys


def test_the_app_worker_imports_nothing_of_the_executors(cfg):
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, shell_service.app_server; "
            "print(sorted(m for m in sys.modules if m.startswith('shell_service.executors')))",
        ],
        cwd=cfg.root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert loaded.strip() == "[]"
