"""Plain SQL for the hot paths: one autocommit psycopg2 connection per process.

Why not the ORM here: on the machines we run on, authenticating a request
through a SQLAlchemy session costs about 2 ms of CPU and a plain psycopg2 query
0.03 ms; a job submission paid 10 ms of Python per request. The ORM stays for
the models, the migrations and the rarely called handlers.

Each call is its own transaction (autocommit), so a path that writes several
rows does so in one statement (CTEs) or one multi-statement string, both of
which PostgreSQL runs atomically. Tornado serves every request of a process
on one thread and no caller awaits while it uses the connection, so one
connection serves the whole process.
"""

import logging

import psycopg2
import psycopg2.extensions
from psycopg2.extras import Json
from sqlalchemy import URL

log = logging.getLogger(__name__)

__all__ = ["DatabaseUnavailable", "Json", "PlainSQL"]


class DatabaseUnavailable(Exception):
    """The connection to PostgreSQL broke; the next call reconnects."""


class PlainSQL:
    def __init__(self, url: URL, application_name: str = "shell_service"):
        connect_args, connect_kwargs = url.get_dialect()().create_connect_args(url)
        self._connect_args = connect_args
        self._connect_kwargs = {**connect_kwargs, "application_name": application_name}
        self._conn = None

    def connection(self):
        if self._conn is None or self._conn.closed:
            self._conn = psycopg2.connect(*self._connect_args, **self._connect_kwargs)
            self._conn.autocommit = True
        return self._conn

    def _cursor_run(self, sql: str, params, fetch):
        try:
            with self.connection().cursor() as cursor:
                cursor.execute(sql, params)
                return fetch(cursor)
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            if self._conn is not None and self._conn.closed:
                self._conn = None
                log.warning("Lost the database connection: %s", str(exc).strip())
                raise DatabaseUnavailable(str(exc).strip()) from exc
            raise

    def rows(self, sql: str, params=None) -> list[dict]:
        """Every row of the result, as dicts keyed by column name."""

        def fetch(cursor):
            names = [column.name for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

        return self._cursor_run(sql, params, fetch)

    def row(self, sql: str, params=None) -> dict | None:
        """The first row, or None."""

        def fetch(cursor):
            row = cursor.fetchone()
            if row is None:
                return None
            return dict(zip([column.name for column in cursor.description], row, strict=True))

        return self._cursor_run(sql, params, fetch)

    def tuples(self, sql: str, params=None) -> list[tuple]:
        return self._cursor_run(sql, params, lambda cursor: cursor.fetchall())

    def value(self, sql: str, params=None):
        """The first column of the first row, or None."""
        row = self._cursor_run(sql, params, lambda cursor: cursor.fetchone())
        return None if row is None else row[0]

    def execute(self, sql: str, params=None) -> int:
        """Run a statement; how many rows it touched."""
        return self._cursor_run(sql, params, lambda cursor: cursor.rowcount)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
