"""Engines for the two supported databases.

SQLite (the zero set-up default): WAL, foreign keys on, and every transaction starts with
BEGIN IMMEDIATE, which takes the write lock at once. That serialises balance changes the way a
row lock does on PostgreSQL, and avoids the deadlock-prone upgrade from a read lock.

PostgreSQL: psycopg 3, with `plan_cache_mode=force_custom_plan`: every statement is planned
for the values it carries. psycopg prepares a statement after five executions, and the server
may then switch to one generic plan for all values. Two measurements decided it:
- a generic plan of the batch write, made for a thousand rows, ran 60x slower (3.4 s against
  55 ms per batch); the bulk writer also never prepares a statement carrying many rows;
- a generic plan of the member lock, on a table whose statistics were out of date, read all
  of a tenant's 10,000 members to lock one (9.4 ms against 0.16 ms). Tenants of very
  different sizes share each statement's plan, so a generic plan is a bet on an average
  tenant. Planning every time costs about 1.5 ms of server CPU per single event; with
  generic plans and fresh statistics single events ran 36% faster in one comparison (249
  against 183 events/s), a gain not worth plans that can go wrong by 60x.
"""

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


def normalise_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` and use psycopg 3 for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, echo=echo)
    return create_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        # No pre-ping: it would cost a round trip on every request. Connections are
        # recycled instead, and one dropped by a server restart fails a single request.
        pool_recycle=1800,
        # A server that drops packets fails the connection in 10 s instead of hanging until
        # the operating system gives up.
        connect_args={
            "options": "-c plan_cache_mode=force_custom_plan -c timezone=UTC",
            "connect_timeout": 10,
        },
    )


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def is_postgres(engine_or_dialect_name: str) -> bool:
    return engine_or_dialect_name == "postgresql"
