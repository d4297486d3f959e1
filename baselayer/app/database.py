"""Connecting to PostgreSQL: the URL from config, the engine and the session factory."""

from sqlalchemy import URL, create_engine
from sqlalchemy.orm import sessionmaker

from .config import Config


def database_url(cfg: Config, database: str | None = None) -> URL:
    """The SQLAlchemy URL for the configured (or embedded) server.

    The embedded cluster (no ``database.host``) listens only on a unix socket in
    ``<run_dir>/pgsock``.
    Every connection turns PostgreSQL's JIT off: it compiles any plan whose
    *estimated* cost is high, and the claim's estimate at depth is (a LATERAL
    LIMIT the planner cannot read): 30 ms of compiling for a 3 ms statement.
    No statement here is the long analytic query JIT is for.

    Parameters
    ----------
    cfg : Config
        Reads ``database.host``, ``port``, ``user``, ``password``, ``name``.
    database : str, optional
        Another database on the same server (default: ``database.name``).

    Returns
    -------
    sqlalchemy.URL
    """
    db = cfg["database"]
    if db.get("host"):
        host, port = db["host"], db.get("port") or 5432
    else:
        host, port = str(embedded_socket_dir(cfg)), None
    return URL.create(
        "postgresql+psycopg2",
        username=db["user"],
        password=db.get("password") or None,
        host=host,
        port=port,
        database=database or db["name"],
        query={"options": "-c jit=off"},
    )


def embedded_socket_dir(cfg: Config):
    """The embedded cluster's unix socket directory.

    Parameters
    ----------
    cfg : Config

    Returns
    -------
    Path
        ``<app.run_dir>/pgsock``, absolute.
    """
    return cfg.path("app.run_dir") / "pgsock"


def make_engine(cfg: Config, database: str | None = None, **kwargs):
    """A SQLAlchemy engine for the configured database (or another on the same server).

    Parameters
    ----------
    cfg : Config
    database : str, optional
        Another database on the same server.
    **kwargs
        Passed to ``create_engine``. The pool holds ``database.pool_size``
        connections (default 5) unless a ``poolclass`` or ``pool_size`` is given.

    Returns
    -------
    sqlalchemy.Engine
        No connection is made until first use.
    """
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", cfg.get("database.pool_size", 5))
        # No ping before each checkout (a round trip per request): a connection
        # the server dropped fails its request, and SQLAlchemy then replaces
        # every pooled connection.
    return create_engine(database_url(cfg, database), **kwargs)


def make_session_factory(engine) -> sessionmaker:
    """ORM sessions on ``engine`` whose objects stay readable after commit.

    Parameters
    ----------
    engine : sqlalchemy.Engine

    Returns
    -------
    sessionmaker
    """
    # expire_on_commit=False: handlers serialize rows after committing them.
    return sessionmaker(engine, expire_on_commit=False)
