"""Units of work: the one place transactions begin and end.

Services never commit. A request, a CLI command or a job opens a unit of work; it commits when
the block ends normally and rolls back when it raises.

The request dependency uses `scope="function"`, so the transaction commits before the
response is sent: a client never sees success for a commit that failed.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from patron.db.engine import make_engine

T = TypeVar("T")


class Retry(Exception):
    """Raised inside a unit of work run by `Database.run` to roll it back and run it again:
    another transaction committed something this one must see (a concurrent duplicate)."""


class Database:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine: Engine = make_engine(url, pool_size=pool_size)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        with self.sessionmaker() as session, session.begin():
            yield session

    def run(self, work: Callable[[Session], T], *, attempts: int = 3) -> T:
        """`work` in a unit of work of its own, run again (up to `attempts` times) when it
        raises `Retry`; the last attempt's `Retry` propagates."""
        for attempt in range(attempts):
            try:
                with self.unit_of_work() as session:
                    return work(session)
            except Retry:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        self.engine.dispose()


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _session(request: Request) -> Iterator[Session]:
    with get_database(request).unit_of_work() as session:
        yield session


SessionDep = Annotated[Session, Depends(_session, scope="function")]
DatabaseDep = Annotated[Database, Depends(get_database)]
