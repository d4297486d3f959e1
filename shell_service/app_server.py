"""One app worker: serves the API.

Supervisor starts ``server.processes`` of these, each with ``--socket`` (a unix
socket NGINX forwards to, in a directory no job can enter). Jobs run
in the executor service (``services/executor``), one per host.
"""

import argparse
import asyncio
import logging
from pathlib import Path

import tornado.httpserver

from baselayer.app import logs
from baselayer.app.app_factory import make_app
from baselayer.app.auth import TokenCache
from baselayer.app.config import Config
from baselayer.app.database import database_url, make_session_factory
from baselayer.app.notifications import Listener
from baselayer.app.plain_sql import PlainSQL
from baselayer.app.unix_socket import listen_on_unix_socket
from baselayer.app.version import version_with_git

from . import __version__, queues, schemas
from .job_counts import JobCounts
from .job_paths import jobs_dir, slurm_jobs_dirs
from .job_waiters import JobEndWaiters
from .job_writer import JobWriter
from .program import checked_config, migrated_engine
from .routes import ROUTES
from .shells import available_shells

log = logging.getLogger("shell_service")

DESCRIPTION = """Run shell scripts over HTTP. Create a job with its script, execute it,
and read its state and output. Every response is the envelope
`{"status", "data", "message", "version"}`; authenticate with
`Authorization: token <token>`.

Job states: READY (stored) → QUEUED (waiting for capacity) → RUNNING →
COMPLETE (exit 0) | FAILED (non-zero exit or signal) | TIMED_OUT | CANCELLED |
SERVER_ERROR (the service failed it; `status_message` says why)."""
#: What the docs' curl examples show for each path parameter.
PATH_EXAMPLES = {"job_id": "hello", "user_id": "2", "token_id": "3", "webhook_id": "1"}


def build_app(cfg: Config, session_factory, sql: PlainSQL, listener: Listener):
    """The Tornado app: the API and nothing else (no executor, no job's processes
    or files but reading its output).

    Parameters
    ----------
    cfg : Config
    session_factory : sessionmaker
        For ``BaseHandler.session`` (this app's handlers use none: their
        statements are plain, in ``queue`` and ``auth_store``).
    sql : PlainSQL
        The worker's event-loop connection (authentication, the hot paths).
    listener : Listener
        The worker's LISTEN connection (token cache invalidation, new jobs'
        writer, job-end waiters); the caller starts it.

    Returns
    -------
    tornado.web.Application
        Its ``settings["job_counts"]`` (``JobCounts``) is for the caller to start
        on the serving loop.
    """
    # PostgreSQL went away (restarted, say): the worker's connections reconnect
    # before their next use, and the ORM's pooled ones are dropped, so no
    # request meets a dead one.
    listener.on_lost(sql.mark_stale)
    listener.on_lost(session_factory.kw["bind"].dispose)
    return make_app(
        cfg,
        ROUTES,
        session_factory=session_factory,
        sql=sql,
        token_cache=TokenCache(listener),
        job_writer=JobWriter(PlainSQL(database_url(cfg), cfg["app.name"]), listener),
        job_waiters=JobEndWaiters(listener),
        version=version_with_git(__version__, cfg.root),
        schemas=schemas.COMPONENTS,
        description=DESCRIPTION,
        path_examples=PATH_EXAMPLES,
        job_counts=JobCounts(cfg, sql),
        jobs_dir=jobs_dir(cfg),
        slurm_jobs_dirs=slurm_jobs_dirs(cfg),
        # This host's name: a job that ran on another shows its stored output.
        host=queues.host_name(cfg),
        allowed_shells=list(available_shells(cfg["jobs.shells"])),
        # The docs page at / links to the dashboard.
        ui_url="/ui/",
    )


def main(argv=None) -> None:
    """Run one app worker on ``--socket`` until it is stopped (``argv``: the
    command line's arguments, ``sys.argv[1:]`` when None)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--socket", type=Path, required=True, help="the unix socket to listen on")
    args = parser.parse_args(argv)
    logs.configure(args.socket.stem)

    cfg = checked_config()
    session_factory = make_session_factory(migrated_engine(cfg))
    sql = PlainSQL(database_url(cfg), cfg["app.name"])
    listener = Listener(database_url(cfg))
    app = build_app(cfg, session_factory, sql, listener)

    async def serve():
        # No xheaders: Tornado would check NGINX's X-Real-IP on every request (3% of
        # a worker's time under load) for the few lines the worker logs, which
        # read the header themselves (``log_request``).
        server = tornado.httpserver.HTTPServer(app, max_body_size=int(cfg["server.max_body_bytes"]))
        listen_on_unix_socket(server, args.socket)
        listener.start()
        app.settings["job_counts"].start()
        log.info("App worker listening on %s", args.socket)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
