"""Fixtures: a test database, the app served in-process, users with tokens, an API client.

`make test` runs pytest with BASELAYER_CONFIG=tests/config.test.yaml after starting
the test stack (whose PostgreSQL the in-process tests use too, in a database of
their own: ``<database.name>_unit``, so the stack's executor never claims their jobs).
"""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import tornado.httpserver
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text
from tornado.testing import bind_unused_port

from baselayer.app.config import load_config
from baselayer.app.database import database_url, make_engine, make_session_factory
from baselayer.app.plain_sql import PlainSQL
from shell_service import queue
from shell_service.app_server import build_app
from shell_service.executors.local import LocalExecutor
from shell_service.waiting import WaitingJobs, waiting_settings

from . import factories, skip_policy
from .helpers import Gate
from .stack_cleanup import unit_config


@pytest.fixture(scope="session")
def cfg():
    # The in-process app and executor get their own jobs directory, database and Unix accounts.
    return unit_config(load_config())


@pytest.fixture(scope="session")
def engine(cfg):
    """A freshly created and migrated database for the in-process tests."""
    name = cfg["database.name"]
    admin_engine = make_engine(cfg, database="postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.exit(f"No PostgreSQL for the tests ({exc}); run them with `make test`", 2)
    finally:
        admin_engine.dispose()
    engine = make_engine(cfg)
    alembic_cfg = AlembicConfig(str(cfg.root / "alembic.ini"))
    alembic_cfg.attributes["engine"] = engine
    command.upgrade(alembic_cfg, "heads")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def session_factory(engine):
    return make_session_factory(engine)


@pytest.fixture(scope="session", autouse=True)
def db_session(session_factory):
    """The session factories write through (the server uses sessions of its own)."""
    with session_factory() as session:
        factories.bind_session(session)
        yield session


class InProcessServer:
    """The Tornado app, an executor and the waiting-jobs service's passes on an event
    loop in a background thread (in the stack they are separate processes; here
    they share the loop and the LISTEN connection, and the app and the waiting
    passes have their own ``PlainSQL``, as the programs do)."""

    def __init__(self, cfg, session_factory):
        self.cfg, self.session_factory = cfg, session_factory
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        sock, self.port = bind_unused_port()

        async def start():
            self.executor = LocalExecutor(self.cfg, self.session_factory)
            self.app = build_app(
                self.cfg,
                self.session_factory,
                PlainSQL(database_url(self.cfg), self.cfg["app.name"]),
                self.executor.listener,
            )
            server = tornado.httpserver.HTTPServer(
                self.app, max_body_size=int(self.cfg["server.max_body_bytes"])
            )
            server.add_sockets([sock])
            self.waiting = WaitingJobs(
                PlainSQL(database_url(self.cfg), "waiting"), waiting_settings(self.cfg)
            )
            wake = asyncio.Event()
            for channel in (queue.QUEUED_CHANNEL, queue.ENDED_CHANNEL):
                self.executor.listener.subscribe(channel, lambda payloads: wake.set())
            self.loop.create_task(self._waiting_passes(wake))
            self.executor.start()
            self.app.settings["job_counts"].start()
            self.ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()

    async def _waiting_passes(self, wake: asyncio.Event):
        """As ``services/waiting``: a pass on each NOTIFY, else every poll interval."""
        thread = ThreadPoolExecutor(1, thread_name_prefix="waiting")
        while True:
            wake.clear()
            try:
                await self.loop.run_in_executor(thread, self.waiting.run_once)
            except Exception:  # the database restarted under a test: the next pass
                pass
            try:
                await asyncio.wait_for(wake.wait(), self.waiting.settings.poll_interval)
            except TimeoutError:
                pass

    def start(self):
        self.thread.start()
        assert self.ready.wait(30), "in-process server did not start"
        return self

    def stop(self):
        """End jobs still running, so no test leaves processes behind."""

        asyncio.run_coroutine_threadsafe(self.executor.end_all(), self.loop).result(60)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def server(cfg, session_factory, engine):
    server = InProcessServer(cfg, session_factory).start()
    yield server
    server.stop()


class Client:
    """requests against a base URL, with a token; returns the response."""

    def __init__(self, base_url: str, token: str | None):
        self.base_url, self.token = base_url, token
        self.http = requests.Session()

    def request(self, method, path, token=..., **kwargs):
        token = self.token if token is ... else token
        headers = kwargs.pop("headers", {})
        if token:
            headers.setdefault("Authorization", f"token {token}")
        return self.http.request(
            method, self.base_url + path, headers=headers, timeout=30, **kwargs
        )

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


@pytest.fixture
def paused_executor(server):
    """The in-process executor claims nothing while a test drives the queue itself."""
    jobs_cfg = server.cfg["jobs"]
    saved = jobs_cfg["max_running"]
    jobs_cfg["max_running"] = 0
    # Claims run on the server's loop: once this no-op has run there, no claim
    # that read the old limit is still in flight.
    asyncio.run_coroutine_threadsafe(asyncio.sleep(0), server.loop).result(10)
    yield
    jobs_cfg["max_running"] = saved
    server.executor.wake()


@pytest.fixture
def user_token():
    return factories.TokenFactory()


@pytest.fixture
def admin_token():
    return factories.TokenFactory(user=factories.UserFactory(admin=True))


@pytest.fixture
def api(server, user_token):
    """A client for the in-process app, as a normal user (``api.user``)."""
    client = Client(server.url, user_token.secret)
    client.user = user_token.user
    return client


@pytest.fixture
def gate(cfg, api):
    """A ``helpers.Gate`` for a job of ``api``'s user."""
    gate = Gate(cfg["jobs"]["accounts"]["uid_base"], api.user.id)
    yield gate
    gate.release()


@pytest.fixture
def admin_api(server, admin_token):
    client = Client(server.url, admin_token.secret)
    client.user = admin_token.user
    return client


@pytest.fixture
def anon_api(server):
    return Client(server.url, None)


def pytest_collection_modifyitems(session, config, items):
    """The browser tests (tests/browser/) last: pytest-playwright's sync API holds an
    event loop in the main thread from its first test to the session's end, and the
    tests that call ``asyncio.run`` cannot run while it does."""
    items.sort(key=lambda item: "tests/browser/" in item.nodeid)


def pytest_configure(config):
    # Under `make test`, a skip that hides a missing feature fails the run.
    config.pluginmanager.register(skip_policy, "skip_policy")
