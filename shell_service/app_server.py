"""One app worker: serves the API and runs the local executor.

Supervisor starts ``server.processes`` of these, each with ``--port``.
"""

import argparse
import asyncio
import logging
import time
from pathlib import Path

import tornado.httpserver
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import OperationalError, ProgrammingError

from baselayer.app.app_factory import make_app
from baselayer.app.auth import TokenCache
from baselayer.app.config import Config, load_config
from baselayer.app.database import database_url, make_engine, make_session_factory
from baselayer.app.plain_sql import PlainSQL
from baselayer.app.version import version_with_git

from . import __version__, schemas
from .executors.local import LocalExecutor
from .executors.processes import available_shells
from .job_waiters import JobEndWaiters
from .job_writer import JobWriter
from .routes import ROUTES

log = logging.getLogger("shell_service")

DESCRIPTION = """Run shell scripts over HTTP. Create a job with its script, execute it,
and read its state and output. Every response is the envelope
`{"status", "data", "message", "version"}`; authenticate with
`Authorization: token <token>`.

Job states: READY (stored) → QUEUED (waiting for capacity) → RUNNING →
COMPLETE (exit 0) | FAILED (non-zero exit or signal) | TIMED_OUT | CANCELLED |
SERVER_ERROR (the service failed it; `status_message` says why)."""


def migrations_head(root: Path) -> str:
    return ScriptDirectory.from_config(AlembicConfig(str(root / "alembic.ini"))).get_current_head()


def wait_for_migrated_database(cfg: Config, engine, timeout: float = 300) -> None:
    """Block until the schema is at the newest migration (the migrations program runs it)."""
    head = migrations_head(cfg.root)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with engine.connect() as conn:
                current = conn.scalar(text("SELECT version_num FROM alembic_version"))
            if current == head:
                return
            reason = f"schema at {current}, want {head}"
        except (OperationalError, ProgrammingError) as exc:
            reason = str(exc).splitlines()[0]
        if time.monotonic() > deadline:
            raise SystemExit(f"Database not ready after {timeout:.0f} s: {reason}")
        log.info("Waiting for the database: %s", reason)
        time.sleep(1)


def build_app(cfg: Config, session_factory, executor: LocalExecutor):
    # PostgreSQL went away (restarted, say): the ORM's pooled connections are
    # dropped too, so no request meets a dead one.
    executor.listener.on_lost(session_factory.kw["bind"].dispose)
    return make_app(
        cfg,
        ROUTES,
        session_factory=session_factory,
        sql=executor.sql,
        token_cache=TokenCache(executor.listener),
        job_writer=JobWriter(PlainSQL(database_url(cfg)), executor.listener),
        job_waiters=JobEndWaiters(executor.listener),
        version=version_with_git(__version__, cfg.root),
        schemas=schemas.COMPONENTS,
        description=DESCRIPTION,
        executor=executor,
        allowed_shells=available_shells(cfg["jobs.shells"]),
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format=f"%(asctime)s %(levelname)s [:{args.port}] %(name)s: %(message)s",
    )

    cfg = load_config()
    engine = make_engine(cfg)
    wait_for_migrated_database(cfg, engine)
    session_factory = make_session_factory(engine)
    executor = LocalExecutor(cfg, session_factory)
    app = build_app(cfg, session_factory, executor)

    async def serve():
        server = tornado.httpserver.HTTPServer(
            app, xheaders=True, max_body_size=int(cfg["server.max_body_bytes"])
        )
        server.listen(args.port, address="127.0.0.1")
        executor.start()
        log.info("App worker listening on 127.0.0.1:%d", args.port)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
