"""``make test``: start the test stack, run pytest against it, always stop it.

The test config (``$BASELAYER_CONFIG``, else ``app.test_config``) gives
the stack its own run_dir, log_dir, ports and database, so it runs beside a
stack started with ``make run``. Extra arguments go to pytest.
"""

import importlib
import os
import subprocess
import sys

from baselayer.app.config import CONFIG_ENV, Config, load_config

from .errors import StackError
from .stack import start_or_explain, stop_stack
from .system_deps import MissingDependency, ensure_commands

#: pytest's exit code when it collected no tests: a suite that tests nothing fails.
NO_TESTS_COLLECTED = 5
#: Set for pytest: a skip that hides a missing feature (the stack not answering, a
#: tool not installed) fails the run (tests/skip_policy.py has the few allowed).
REQUIRE_EVERY_TEST = {"BASELAYER_TESTS": "required"}


def pytest_command(pytest_args: list[str]) -> list[str]:
    """``python -m pytest tests <args>``; without ``tests`` when the args name test paths."""
    names_paths = any(
        os.path.exists(arg.split("::")[0]) for arg in pytest_args if not arg.startswith("-")
    )
    return [sys.executable, "-m", "pytest", *([] if names_paths else ["tests"]), *pytest_args]


def clean_up(cfg: Config) -> bool:
    """Call ``cleanup(cfg)`` of the module named by ``app.test_cleanup_module``, if
    any (what earlier runs left outside the run directory: the app's Unix accounts,
    say); False, with the error printed, when it fails."""
    module_name = cfg.get("app.test_cleanup_module")
    if not module_name:
        return True
    try:
        importlib.import_module(module_name).cleanup(cfg)
    except Exception as exc:
        print(f"Test clean-up ({module_name}) failed: {exc!r}", file=sys.stderr, flush=True)
        return False
    return True


def run_tests(pytest_args: list[str]) -> int:
    """Run the suite against a freshly started test stack; return the exit code for make."""
    # Never fall back to the main config: we stop this stack at the end.
    if not os.environ.get(CONFIG_ENV):
        os.environ[CONFIG_ENV] = load_config()["app.test_config"]
    cfg = load_config()
    print(f"Test stack: run dir {cfg.path('app.run_dir')}, logs {cfg.path('app.log_dir')}")
    code = 1
    try:
        # What the tests need beyond the stack (command -> Debian package): a browser, say.
        ensure_commands(cfg.get("tests.system_commands") or {})
    except MissingDependency as exc:
        print(f"The tests need: {exc}", file=sys.stderr, flush=True)
        return code
    try:
        if clean_up(cfg) and start_or_explain(cfg):
            command = pytest_command(pytest_args)
            print(" ".join(command), flush=True)
            code = subprocess.call(command, env=os.environ | REQUIRE_EVERY_TEST)
            if code == NO_TESTS_COLLECTED:
                print("pytest collected no tests: failing", file=sys.stderr)
    finally:
        print("Stopping the test stack", flush=True)
        try:
            stop_stack(cfg)
        except StackError as exc:
            print(f"Could not stop the test stack: {exc}", file=sys.stderr)
            code = code or 1
        if not clean_up(cfg):
            code = code or 1
    return code


def main() -> None:
    sys.exit(run_tests(sys.argv[1:]))


if __name__ == "__main__":
    main()
