"""Test set-up: a real database built by the migrations, and the real API over real HTTP.

Without PATRON_TEST_DATABASE_URL the suite runs on a fresh SQLite file. With it (a
PostgreSQL URL), the suite creates a fresh database beside the one named, migrates it, runs
against it and drops it at the end; tests marked `postgres` run only then.

Isolation: every test works in a tenant of its own, which is also how the product isolates
shops. The API runs in uvicorn on a free port of 127.0.0.1 for the whole session; each test
gets its own frozen clock, which the server reads.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from patron.app import create_app
from patron.config import Settings
from patron.db.engine import normalise_url
from patron.db.migrate import upgrade
from patron.db.session import Database
from patron.kit.clock import FrozenClock
from tests.factories import Shop, create_shop
from tests.servers import serving

PG_URL = os.environ.get("PATRON_TEST_DATABASE_URL")
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if PG_URL:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set PATRON_TEST_DATABASE_URL")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    if not PG_URL:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/patron-test.db"
            upgrade(url)
            yield url
        return
    base = make_url(normalise_url(PG_URL))
    name = f"patron_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="session")
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url, pool_size=20)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def dialect(db: Database) -> str:
    return db.dialect


class SwitchableClock:
    """The server's clock: each test points it at a FrozenClock of its own."""

    def __init__(self) -> None:
        self.target = FrozenClock(START)

    def now(self) -> datetime:
        return self.target.now()


@pytest.fixture(scope="session")
def server_clock() -> SwitchableClock:
    return SwitchableClock()


@pytest.fixture(scope="session")
def base_url(db: Database, server_clock: SwitchableClock) -> Iterator[str]:
    app = create_app(
        Settings(database_url=db.url, jobs_interval=0), clock=server_clock, database=db
    )
    with serving(app) as url:
        yield url


@pytest.fixture
def clock(server_clock: SwitchableClock) -> FrozenClock:
    """This test's clock; the server reads it too."""
    frozen = FrozenClock(START)
    server_clock.target = frozen
    return frozen


@pytest.fixture
def shop(db: Database, clock: FrozenClock) -> Shop:
    """A fresh tenant with a published default program (USD, 1 point per dollar, no pending
    days, no expiry, forbid) and an all-scopes API key."""
    return create_shop(db, now=clock.now())


@pytest.fixture
def client(base_url: str, shop: Shop) -> Iterator[httpx.Client]:
    """An HTTP client authenticated as `shop`."""
    with httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {shop.key}"}, timeout=30
    ) as c:
        yield c


@pytest.fixture
def anon(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as c:
        yield c
