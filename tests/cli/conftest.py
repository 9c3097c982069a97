"""Fixtures of the command-line tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from patron.db.engine import normalise_url

PG_URL = os.environ.get("PATRON_TEST_DATABASE_URL")


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    """A new PostgreSQL database without the schema, beside the test server's, with a
    password in its URL (the local server trusts, so any password connects)."""
    assert PG_URL
    base = make_url(normalise_url(PG_URL))
    name = f"patron_cli_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name, password="s3cret-pw").render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
