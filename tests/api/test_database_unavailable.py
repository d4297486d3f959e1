"""The database out of reach (issue 11, section 8): every request that needs it
answers 503 with ``Retry-After`` and the envelope, whichever way it reaches it (plain
SQL with its prepared statements, the ORM session, the batched job writer), and
connections come back by themselves. Real errors stay errors.

The apps here are in-process, built on connections to a port where nothing listens
(unreachable) or to the test database (reachable); ``tests/e2e/test_database_outage.py``
SIGKILLs the stack's PostgreSQL under load.
"""

import asyncio
import socket
import threading
import time

import psycopg2
import psycopg2.errors
import pytest
import sqlalchemy.exc
import tornado.httpserver
from sqlalchemy import text
from tornado.testing import bind_unused_port

from baselayer.app.config import Config
from baselayer.app.database import database_url, make_engine, make_session_factory
from baselayer.app.notifications import Listener
from baselayer.app.plain_sql import DatabaseUnavailable, PlainSQL, Statement, database_unavailable
from shell_service.app_server import build_app

from .. import factories
from ..conftest import Client
from .envelope import assert_error, assert_success


def closed_port() -> int:
    """A local TCP port where nothing listens (connecting is refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unreachable_cfg(cfg) -> Config:
    """``cfg`` with its database on a port where nothing listens."""
    bad = Config(dict(cfg), cfg.root)
    bad["database"] = dict(cfg["database"], host="127.0.0.1", port=closed_port())
    return bad


class AppServer:
    """``build_app`` served on an event loop in a thread, with no executor running."""

    def __init__(self, cfg, session_factory, sql: PlainSQL):
        self.args = (cfg, session_factory, sql)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        assert self.ready.wait(30), "the app did not start"

    def _run(self):
        asyncio.set_event_loop(self.loop)
        cfg, session_factory, sql = self.args
        sock, self.port = bind_unused_port()
        # Never started: a listener that is not alive (the token cache caches nothing).
        app = build_app(cfg, session_factory, sql, Listener(database_url(cfg)))
        tornado.httpserver.HTTPServer(app).add_sockets([sock])
        self.ready.set()
        self.loop.run_forever()

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def unreachable(cfg):
    """An app none of whose connections can reach a database."""
    bad = unreachable_cfg(cfg)
    engine = make_engine(bad)
    server = AppServer(bad, make_session_factory(engine), PlainSQL(database_url(bad)))
    yield server
    server.stop()
    engine.dispose()


@pytest.fixture(scope="module")
def half_reachable(cfg, engine):
    """An app whose hot-path connection (authentication, reads) reaches the test
    database, while its ORM sessions and its job writer cannot reach any."""
    bad = unreachable_cfg(cfg)
    bad_engine = make_engine(bad)
    server = AppServer(bad, make_session_factory(bad_engine), PlainSQL(database_url(cfg)))
    yield server
    server.stop()
    bad_engine.dispose()


def assert_unavailable(response) -> dict:
    """A 503 in the envelope, with a Retry-After of whole seconds."""
    body = assert_error(response, 503, mentions="database")
    assert body["data"] == {}, body
    assert int(response.headers["Retry-After"]) > 0, response.headers
    return body


#: Every route's calls that read or write the database (the ids need not exist).
DATABASE_CALLS = [
    ("GET", "/api/jobs", None),
    ("GET", "/api/jobs?status=FAILED&limit=5", None),
    ("GET", "/api/jobs/some_job", None),
    ("GET", "/api/jobs/some_job?wait=1", None),
    ("GET", "/api/jobs/some_job/events", None),
    ("GET", "/api/jobs/some_job/log", None),
    ("GET", "/api/jobs/some_job/log?follow=true", None),
    ("POST", "/api/jobs", {"code": "echo hi"}),
    ("POST", "/api/jobs", {"id": "named", "code": "echo hi", "execute": True}),
    ("PATCH", "/api/jobs/some_job", {"code": "echo changed"}),
    ("DELETE", "/api/jobs/some_job", None),
    ("POST", "/api/jobs/some_job/execute", None),
    ("GET", "/api/execute/some_job", None),
    ("POST", "/api/jobs/some_job/cancel", None),
    ("POST", "/api/jobs/some_job/rerun", None),
    ("GET", "/api/users", None),
    ("POST", "/api/users", {"username": "nobody"}),
    ("PATCH", "/api/users/2", {"disabled": True}),
    ("GET", "/api/tokens", None),
    ("POST", "/api/tokens", {"name": "t", "user_id": 1}),
    ("DELETE", "/api/tokens/1", None),
]


@pytest.mark.parametrize("method,path,body", DATABASE_CALLS)
def test_every_call_answers_503_with_retry_after_when_the_database_is_unreachable(
    unreachable, method, path, body
):
    client = Client(unreachable.url, "any-token")
    assert_unavailable(client.request(method, path, json=body))


@pytest.mark.parametrize("path", ["/api/sysinfo", "/metrics"])
def test_health_and_metrics_answer_503_when_the_database_is_unreachable(unreachable, path):
    assert_unavailable(Client(unreachable.url, None).get(path))


def test_what_needs_no_database_still_answers(unreachable):
    anonymous = Client(unreachable.url, None)
    assert_error(anonymous.get("/api/jobs"), 401)
    assert anonymous.get("/api/openapi.json").status_code == 200
    assert_error(anonymous.get("/api/no_such_thing"), 404)


@pytest.fixture
def admin(half_reachable, admin_token):
    return Client(half_reachable.url, admin_token.secret)


def test_job_creation_through_an_unreachable_job_writer_answers_503(admin):
    # Requests at once: the writer batches them, and the batch fails as one.
    client = admin
    responses = [
        client.post("/api/jobs", json={"id": f"lost_{time.time_ns()}_{n}", "code": "true"})
        for n in range(3)
    ]
    for response in responses:
        assert_unavailable(response)
    job = factories.JobFactory()
    assert_unavailable(client.post(f"/api/jobs/{job.id}/rerun"))


def test_no_handler_needs_an_orm_session(admin):
    """Every statement of the handlers is a plain one (``queue``, ``auth_store``): with
    the ORM's connections unreachable, they all still answer."""
    job = factories.JobFactory()
    assert assert_success(admin.get(f"/api/jobs/{job.id}"))["id"] == job.id
    changed = assert_success(admin.request("PATCH", f"/api/jobs/{job.id}", json={"code": "x"}))
    assert changed["code"] == "x"
    events = assert_success(admin.get(f"/api/jobs/{job.id}/events"))
    assert [event["detail"] for event in events] == ["changed: code"]
    assert assert_success(admin.get(f"/api/jobs/{job.id}/log"))["text"] == ""
    assert assert_success(admin.get("/api/users"))
    user = assert_success(admin.post("/api/users", json={"username": f"u{time.time_ns()}"}))
    granted = assert_success(
        admin.request("PATCH", f"/api/users/{user['id']}", json={"admin": True})
    )
    assert granted["is_admin"] is True
    token = assert_success(admin.post("/api/tokens", json={"name": "t", "user_id": user["id"]}))
    assert_success(admin.get("/api/tokens"))
    assert_success(admin.delete(f"/api/tokens/{token['id']}"))
    assert assert_success(admin.post(f"/api/jobs/{job.id}/cancel"))["status"] == "CANCELLED"
    assert_success(admin.delete(f"/api/jobs/{job.id}"))


# ---- the connections themselves ---------------------------------------------------


def terminate_backend(engine, pid: int) -> None:
    """``pg_terminate_backend(pid)``, then wait until that backend has gone."""
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        deadline = time.monotonic() + 30
        # pg_stat_activity is read once per transaction and kept (PostgreSQL 15's
        # stats_fetch_consistency): each look is a transaction of its own.
        conn.commit()
        while conn.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        ).scalar():
            conn.commit()
            assert time.monotonic() < deadline, f"backend {pid} still there"
            # pg_stat_activity is read once per transaction: a new one looks again.
            conn.rollback()
            time.sleep(0.02)


PLUS_ONE = Statement("SELECT %(x)s::int + 1")


def test_plain_sql_reconnects_and_prepares_again_after_its_backend_is_terminated(cfg, engine):
    sql = PlainSQL(database_url(cfg), "outage test")
    assert sql.value(PLUS_ONE, {"x": 1}) == 2
    pid = sql.value("SELECT pg_backend_pid()")
    terminate_backend(engine, pid)
    with pytest.raises(DatabaseUnavailable):
        sql.value(PLUS_ONE, {"x": 1})
    # The next call connects again and prepares the statement on the new connection.
    assert sql.value(PLUS_ONE, {"x": 2}) == 3
    assert sql.value("SELECT pg_backend_pid()") != pid
    sql.close()


def test_plain_sql_prepares_again_when_its_statements_were_deallocated(cfg):
    sql = PlainSQL(database_url(cfg), "outage test")
    assert sql.value(PLUS_ONE, {"x": 1}) == 2
    with sql.connection().cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    assert sql.value(PLUS_ONE, {"x": 5}) == 6
    sql.close()


def test_plain_sql_that_cannot_connect_raises_database_unavailable_each_time(cfg):
    sql = PlainSQL(database_url(unreachable_cfg(cfg)))
    for _ in range(2):
        with pytest.raises(DatabaseUnavailable, match="refused"):
            sql.value(PLUS_ONE, {"x": 1})


def test_a_wrong_statement_is_not_unavailability_and_keeps_the_connection(cfg):
    sql = PlainSQL(database_url(cfg), "outage test")
    pid = sql.value("SELECT pg_backend_pid()")
    with pytest.raises(psycopg2.errors.UndefinedTable) as excinfo:
        sql.value("SELECT * FROM no_such_table")
    assert not database_unavailable(excinfo.value)
    assert sql.value("SELECT pg_backend_pid()") == pid
    sql.close()


def connect(cfg):
    """A new psycopg2 connection to the test database."""
    url = database_url(cfg)
    args, kwargs = url.get_dialect()().create_connect_args(url)
    return psycopg2.connect(*args, **kwargs)


def errors_of(cfg, engine) -> dict[str, BaseException]:
    """Real exceptions, by what caused them."""
    found: dict[str, BaseException] = {}
    try:
        psycopg2.connect(host="127.0.0.1", port=closed_port(), dbname="x", connect_timeout=5)
    except psycopg2.Error as exc:
        found["connect refused"] = exc
    conn = connect(cfg)
    pid = conn.get_backend_pid()
    terminate_backend(engine, pid)
    try:
        conn.cursor().execute("SELECT 1")
    except psycopg2.Error as exc:
        found["terminated"] = exc
    conn = connect(cfg)
    conn.autocommit = True
    with conn.cursor() as cursor:
        for name, statement in [
            ("syntax", "SELEC 1"),
            ("unique", "CREATE TEMP TABLE t (x int PRIMARY KEY); INSERT INTO t VALUES (1), (1)"),
            ("timeout", "SET statement_timeout = 1; SELECT pg_sleep(1)"),
            ("division", "SELECT 1/0"),
        ]:
            try:
                cursor.execute(statement)
            except psycopg2.Error as exc:
                found[name] = exc
    conn.close()
    bad_engine = make_engine(unreachable_cfg(cfg))
    try:
        bad_engine.connect()
    except sqlalchemy.exc.DBAPIError as exc:
        found["orm connect refused"] = exc
    bad_engine.dispose()
    return found


def test_unavailability_is_told_from_real_errors(cfg, engine):
    found = errors_of(cfg, engine)
    assert set(found) == {
        "connect refused",
        "terminated",
        "syntax",
        "unique",
        "timeout",
        "division",
        "orm connect refused",
    }, found
    unavailable = {name for name, exc in found.items() if database_unavailable(exc)}
    assert unavailable == {"connect refused", "terminated", "orm connect refused"}, found
    assert database_unavailable(DatabaseUnavailable("gone"))
    assert not database_unavailable(ValueError("not the database's"))
