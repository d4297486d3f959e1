"""Plain SQL for the hot paths: one autocommit psycopg2 connection per process.

Why not the ORM here: on the machines we run on, authenticating a request
through a SQLAlchemy session costs about 2 ms of CPU and a plain psycopg2 query
0.03 ms; a job submission paid 10 ms of Python per request. The ORM stays for
the models, the migrations, and work done in threads (this one connection
serves one thread).

Each call is its own transaction (autocommit), so a path that writes several
rows does so in one statement (CTEs), which PostgreSQL runs atomically.
Tornado serves every request of a process on one thread and no caller awaits
while it uses the connection, so one connection serves the whole process.

A ``Statement`` is prepared once per connection: PostgreSQL then neither
parses nor plans it again, which halves the server's CPU per request here (the
authentication query: 0.56 ms of server CPU as text, 0.14 ms prepared).
"""

import functools
import hashlib
import logging
import re

import orjson
import psycopg2
import psycopg2.errors
import psycopg2.extensions
import sqlalchemy.exc
from psycopg2.extras import register_default_json, register_default_jsonb
from sqlalchemy import URL

log = logging.getLogger(__name__)

__all__ = ["DatabaseUnavailable", "PlainSQL", "Statement", "database_unavailable", "statement"]


class DatabaseUnavailable(Exception):
    """PostgreSQL cannot be reached now (down, restarting, or the connection broke);
    the next call connects again. Handlers answer it with 503 and ``Retry-After``."""


#: SQLSTATEs of a server that cannot serve us now, beside class 08 (connection
#: exception): admin_shutdown (a fast shutdown, pg_terminate_backend),
#: crash_shutdown (another backend crashed), cannot_connect_now (starting up or
#: in recovery), idle_session_timeout, too_many_connections.
UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "57P05", "53300"})


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached now, rather than that a
    statement is wrong: the caller answers 503 (try again) instead of 500 (a bug).

    Parameters
    ----------
    exc
        Any exception: a DatabaseUnavailable, a psycopg2 error, or SQLAlchemy's
        wrapper of one (``DBAPIError``, whose ``orig`` is the driver's error).

    Returns
    -------
    bool
        True for a failed connect, a connection the server closed or reset, and
        the SQLSTATEs of class 08 and UNAVAILABLE_SQLSTATES; False for anything
        else (syntax errors, constraint violations, serialization failures,
        statement timeouts, errors that are not the database's).
    """
    if isinstance(exc, DatabaseUnavailable):
        return True
    cause: BaseException | None = exc
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        cause = exc.orig
    if not isinstance(cause, psycopg2.Error):
        return False
    code = cause.pgcode
    if code:
        return code.startswith("08") or code in UNAVAILABLE_SQLSTATES
    # No SQLSTATE: libpq's own failure (connect refused, server closed the
    # connection unexpectedly, connection already closed).
    return isinstance(cause, (psycopg2.OperationalError, psycopg2.InterfaceError))


class Statement:
    """SQL with ``%(name)s`` parameters, run as a server-side prepared statement.

    Parameters
    ----------
    sql : str
        The statement; ``%%`` is a literal ``%``.

    Attributes
    ----------
    name : str
        ``st_`` and a hash of ``sql``: the prepared statement's name.
    params : list of str
        The parameter names, in the order of their ``$n`` placeholders.
    prepare_sql, execute_sql : str
        The PREPARE and EXECUTE statements (EXECUTE with ``%s`` for each parameter).
    """

    def __init__(self, sql: str):
        self.sql = sql
        self.params: list[str] = []

        def placeholder(match: re.Match) -> str:
            # %(name)s -> $N, one number per distinct name, in order of appearance.
            if match.group(1) not in self.params:
                self.params.append(match.group(1))
            return f"${self.params.index(match.group(1)) + 1}"

        text = re.sub(r"%\((\w+)\)s", placeholder, sql).replace("%%", "%")
        self.name = "st_" + hashlib.sha1(sql.encode()).hexdigest()[:20]
        self.prepare_sql = f"PREPARE {self.name} AS {text}"
        arguments = f"({', '.join(['%s'] * len(self.params))})" if self.params else ""
        self.execute_sql = f"EXECUTE {self.name}{arguments}"

    def arguments(self, params: dict | None) -> list:
        """``params``' values in the order of the statement's ``$n`` placeholders.

        Parameters
        ----------
        params : dict or None

        Returns
        -------
        list

        Raises
        ------
        KeyError
            When a parameter of the statement is missing from ``params``.
        """
        if not self.params:
            return []
        if params is None:
            raise KeyError(f"{self.name} takes parameters: {', '.join(self.params)}")
        return [params[name] for name in self.params]


@functools.lru_cache(maxsize=512)
def statement(sql: str) -> Statement:
    """The Statement for SQL built at run time (such as a list with its filters).

    Cached (512 texts), so each distinct text is prepared once per connection.

    Parameters
    ----------
    sql : str

    Returns
    -------
    Statement
    """
    return Statement(sql)


def _named(cursor, rows: list[tuple]) -> list[dict]:
    """``rows`` fetched from ``cursor`` as dicts keyed by column name."""
    names = [column.name for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in rows]


def _dicts(cursor) -> list[dict]:
    return _named(cursor, cursor.fetchall())


class PlainSQL:
    """One process's autocommit connection, made on first use and again after the
    server dropped it; see the module docstring.

    The query methods take ``sql`` (text, or a ``Statement`` prepared once per
    connection) and ``params`` (a dict for ``%(name)s`` placeholders). They raise
    ``DatabaseUnavailable`` when the server cannot be reached now (the next call
    connects again); psycopg2's other errors pass through.

    Parameters
    ----------
    url : sqlalchemy.URL
        The database to connect to.
    application_name : str, optional
        Shown in ``pg_stat_activity``.
    """

    def __init__(self, url: URL, application_name: str = "baselayer"):
        connect_args, connect_kwargs = url.get_dialect()().create_connect_args(url)
        self._connect_args = connect_args
        self._connect_kwargs = {**connect_kwargs, "application_name": application_name}
        self._conn = None
        self._prepared: set[str] = set()
        self._stale = False

    def mark_stale(self) -> None:
        """Reconnect before the next statement (the server went away, say). Safe
        to call from any thread: the connection's own thread acts on it."""
        self._stale = True

    def connection(self):
        """The open connection, made (and its statements forgotten) when there is
        none, it closed, or ``mark_stale`` was called.

        Raises
        ------
        psycopg2.Error
            The connect failed (``_cursor_run`` turns that into DatabaseUnavailable).
        """
        if self._stale:
            self._stale = False
            self.close()
        if self._conn is None or self._conn.closed:
            self._conn = None
            self._prepared = set()
            conn = psycopg2.connect(*self._connect_args, **self._connect_kwargs)
            try:
                conn.autocommit = True
                # orjson reads json columns several times faster (a page of 100 jobs
                # has 200 of them).
                register_default_json(conn, loads=orjson.loads)
                register_default_jsonb(conn, loads=orjson.loads)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _cursor_run(self, sql: "str | Statement", params, fetch, try_lock: int | None = None):
        try:
            try:
                return self._cursor_run_once(sql, params, fetch, try_lock)
            except psycopg2.errors.InvalidSqlStatementName:
                # Our prepared statements were dropped behind our back (DEALLOCATE,
                # DISCARD ALL): prepare them again, once.
                self._prepared = set()
                return self._cursor_run_once(sql, params, fetch, try_lock)
        except psycopg2.Error as exc:
            broken = self._conn is None or self._conn.closed
            if not (broken or database_unavailable(exc)):
                raise
            # The next call connects again (and prepares its statements again).
            if self._conn is not None:
                log.warning("Lost the database connection: %s", str(exc).strip())
            self.close()
            raise DatabaseUnavailable(str(exc).strip() or type(exc).__name__) from exc

    def _cursor_run_once(self, sql: "str | Statement", params, fetch, try_lock: int | None):
        with self.connection().cursor() as cursor:
            if isinstance(sql, Statement):
                if sql.name not in self._prepared:
                    cursor.execute(sql.prepare_sql)
                    self._prepared.add(sql.name)
                params = sql.arguments(params)
                sql = sql.execute_sql
            if try_lock is None:
                cursor.execute(sql, params)
                return fetch(cursor)
            return self._run_locked(cursor, sql, params, fetch, try_lock)

    @staticmethod
    def _run_locked(cursor, sql: str, params, fetch, key: int):
        """The statement in a transaction holding advisory lock ``key``; None (and
        nothing run) if another session holds it. The statement's snapshot is
        taken once the lock is held."""
        cursor.execute(f"BEGIN; SELECT pg_try_advisory_xact_lock({int(key)})")
        if not cursor.fetchone()[0]:
            cursor.execute("ROLLBACK")
            return None
        try:
            cursor.execute(sql, params)
            result = fetch(cursor)
            cursor.execute("COMMIT")
        except Exception:
            if not cursor.connection.closed:
                cursor.execute("ROLLBACK")
            raise
        return result

    def rows(self, sql: "str | Statement", params=None) -> list[dict]:
        """Every row of the result.

        Parameters
        ----------
        sql : str or Statement
        params : dict, optional
            Values for the ``%(name)s`` placeholders.

        Returns
        -------
        list of dict
            Column name -> value.

        Raises
        ------
        DatabaseUnavailable
            The server cannot be reached now (the next call connects again).
        psycopg2.Error
            Any other error of the statement.
        """
        return self._cursor_run(sql, params, _dicts)

    def rows_if_unlocked(self, sql: "str | Statement", params, lock: int) -> list[dict] | None:
        """``rows``, run holding the transaction-level advisory lock ``lock``.

        Parameters
        ----------
        sql : str or Statement
        params : dict or None
        lock : int
            The advisory lock's key.

        Returns
        -------
        list of dict or None
            None (and nothing run) when another session holds the lock.

        Raises
        ------
        DatabaseUnavailable
            The server cannot be reached now (the next call connects again).
        psycopg2.Error
            Any other error of the statement.
        """
        return self._cursor_run(sql, params, _dicts, try_lock=lock)

    def row(self, sql: "str | Statement", params=None) -> dict | None:
        """The first row of the result.

        Parameters
        ----------
        sql : str or Statement
        params : dict, optional
            Values for the ``%(name)s`` placeholders.

        Returns
        -------
        dict or None
            Column name -> value; None when there is no row.

        Raises
        ------
        DatabaseUnavailable
            The server cannot be reached now (the next call connects again).
        psycopg2.Error
            Any other error of the statement.
        """
        rows = self._cursor_run(sql, params, lambda cursor: _named(cursor, cursor.fetchmany(1)))
        return rows[0] if rows else None

    def tuples(self, sql: "str | Statement", params=None) -> list[tuple]:
        """Every row of the result, as tuples.

        Parameters
        ----------
        sql : str or Statement
        params : dict, optional
            Values for the ``%(name)s`` placeholders.

        Returns
        -------
        list of tuple

        Raises
        ------
        DatabaseUnavailable
            The server cannot be reached now (the next call connects again).
        psycopg2.Error
            Any other error of the statement.
        """
        return self._cursor_run(sql, params, lambda cursor: cursor.fetchall())

    def value(self, sql: "str | Statement", params=None):
        """The first column of the first row.

        Parameters
        ----------
        sql : str or Statement
        params : dict, optional
            Values for the ``%(name)s`` placeholders.

        Returns
        -------
        object
            None when there is no row (or the value is NULL).

        Raises
        ------
        DatabaseUnavailable
            The server cannot be reached now (the next call connects again).
        psycopg2.Error
            Any other error of the statement.
        """
        row = self._cursor_run(sql, params, lambda cursor: cursor.fetchone())
        return None if row is None else row[0]

    def close(self) -> None:
        """Close the connection (if any); the next call connects again."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._prepared = set()
