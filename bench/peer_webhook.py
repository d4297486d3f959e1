"""The peer: adnanh/webhook running ``sh -c true`` per request, synchronously.

webhook answers a hook's request once its command has ended (with the command's
output in the response), keeps nothing, and has no queue: a lower bound on
what "run a script over HTTP" costs, against which the burst rate is read.
"""

import contextlib
import json
import shutil
from pathlib import Path

from .processes import Program, wait_until_answers
from .tools import BenchError

HOOK_ID = "true"


def hooks(shell: str = "/bin/sh") -> list[dict]:
    return [
        {
            "id": HOOK_ID,
            "execute-command": shell,
            "pass-arguments-to-command": [
                {"source": "string", "name": "-c"},
                {"source": "string", "name": "true"},
            ],
            "include-command-output-in-response": True,
        }
    ]


@contextlib.contextmanager
def webhook_server(run_dir: Path, log_dir: Path, port: int):
    """Run webhook on 127.0.0.1:``port`` for the block; yields the hook's URL."""
    webhook = shutil.which("webhook")
    if webhook is None:
        raise BenchError("webhook is not installed (apt-get install webhook)")
    run_dir.mkdir(parents=True, exist_ok=True)
    hooks_file = run_dir / "hooks.json"
    hooks_file.write_text(json.dumps(hooks(), indent=2))
    command = [webhook, "-hooks", str(hooks_file), "-ip", "127.0.0.1", "-port", str(port)]
    program = Program("webhook", command, log_dir / "webhook.log", cwd=run_dir)
    try:
        url = f"http://127.0.0.1:{port}/hooks/{HOOK_ID}"
        wait_until_answers(url, [program])
        yield url
    finally:
        program.stop()
