"""Jobs cannot take the place of a program NGINX forwards to, nor read the logs.

A job runs as an unprivileged Unix user on the stack's host. Were an app worker
or the status server on a TCP port, a job could bind that port while the stack
restarts and be sent other users' requests (their tokens with them). They
listen on unix sockets in a directory jobs cannot enter instead.
"""

import json
import re
from pathlib import Path

from baselayer.app.config import load_config

from ..helpers import run_job

UPSTREAM_BLOCK = re.compile(r"^\s*upstream\s+\S+\s*\{(.*?)^\s*\}", re.S | re.M)
SERVER_LINE = re.compile(r"^\s*server\s+(\S+)", re.M)

#: Run as the job's user: every way into each socket directory, one result each.
PROBE = r"""
import json, os, socket, sys

results = {}
for path in json.loads(sys.argv[1]):
    folder = os.path.dirname(path)

    def attempt(name, action):
        try:
            action()
            results[f"{name} {path}"] = "allowed"
        except OSError as exc:
            results[f"{name} {path}"] = type(exc).__name__

    attempt("list", lambda: os.listdir(folder))
    attempt("create", lambda: open(os.path.join(folder, "job-was-here"), "w").close())
    attempt("connect", lambda: socket.socket(socket.AF_UNIX).connect(path))
    attempt("bind", lambda: socket.socket(socket.AF_UNIX).bind(path + ".job"))
print(json.dumps(results))
"""


def nginx_upstreams(run_dir: Path) -> list[str]:
    """The address of every ``server`` in the rendered nginx.conf's upstream blocks."""
    text = (run_dir / "nginx.conf").read_text()
    blocks = UPSTREAM_BLOCK.findall(text)
    return [address for block in blocks for address in SERVER_LINE.findall(block)]


def test_nginx_forwards_only_to_unix_sockets_jobs_cannot_reach(stack, stack_user):
    stack_cfg = load_config()
    run_dir = stack_cfg.path("app.run_dir")
    upstreams = nginx_upstreams(run_dir)
    # One per app worker and the status server.
    assert len(upstreams) == int(stack_cfg["server.processes"]) + 1, upstreams
    tcp = [address for address in upstreams if not address.startswith("unix:")]
    assert not tcp, f"NGINX forwards to TCP addresses a job could bind: {tcp}"
    paths = [address.removeprefix("unix:") for address in upstreams]
    for path in paths:
        assert Path(path).is_socket(), path
        assert Path(path).parent.resolve().is_relative_to(run_dir.resolve()), path

    job = run_job(stack_user, PROBE, shell="python3", args=[json.dumps(paths)])
    assert job["status"] == "COMPLETE", job
    results = json.loads(job["stdout"])
    assert len(results) == 4 * len(paths)
    # Denied; or, for a project under /tmp, out of sight (the job's /tmp is its own).
    hidden = str(run_dir).startswith("/tmp/")
    assert set(results.values()) == {"FileNotFoundError" if hidden else "PermissionError"}, results
    for path in paths:
        assert not Path(path).with_name("job-was-here").exists()
        assert not Path(path + ".job").exists()


def test_jobs_cannot_read_the_logs(stack, stack_user):
    log_dir = load_config().path("app.log_dir")
    access_log = log_dir / "nginx-access.log"
    assert access_log.exists()  # so a denial below is not "no such file"
    assert log_dir.stat().st_mode & 0o007 == 0, oct(log_dir.stat().st_mode)

    job = run_job(stack_user, f"cat '{access_log}'; ls '{log_dir}'")
    assert job["status"] == "FAILED", job
    assert job["stdout"] == ""
    # Denied; or, for a project under /tmp, out of sight (the job's /tmp is its own).
    refusal = "No such file" if str(log_dir).startswith("/tmp/") else "Permission denied"
    assert job["stderr"].count(refusal) == 2, job["stderr"]
