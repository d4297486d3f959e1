"""Connecting to PostgreSQL: the URL from config, the engine and the session factory."""

from sqlalchemy import URL, create_engine
from sqlalchemy.orm import sessionmaker

from .config import Config


def database_url(cfg: Config, database: str | None = None) -> URL:
    """The SQLAlchemy URL for the configured (or embedded) server.

    The embedded cluster listens only on a unix socket in ``run_dir/pgsock``.
    Every connection turns PostgreSQL's JIT off: it compiles any plan whose
    *estimated* cost is high, and the claim's estimate at depth is (a LATERAL
    LIMIT the planner cannot read): 30 ms of compiling for a 3 ms statement.
    No statement here is the long analytic query JIT is for.
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
    """The embedded cluster's unix socket directory: ``<run_dir>/pgsock``."""
    return cfg.path("app.run_dir") / "pgsock"


def make_engine(cfg: Config, database: str | None = None, **kwargs):
    """A SQLAlchemy engine for the configured database (or ``database`` on the same
    server); ``kwargs`` go to ``create_engine``. The pool holds
    ``database.pool_size`` connections unless a ``poolclass`` is given."""
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", cfg.get("database.pool_size", 5))
        # No ping before each checkout (a round trip per request): a connection
        # the server dropped fails its request, and SQLAlchemy then replaces
        # every pooled connection.
    return create_engine(database_url(cfg, database), **kwargs)


def make_session_factory(engine) -> sessionmaker:
    """ORM sessions on ``engine`` whose objects stay readable after commit."""
    # expire_on_commit=False: handlers serialize rows after committing them.
    return sessionmaker(engine, expire_on_commit=False)
