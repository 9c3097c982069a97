"""The migrations are the schema: what they build must be exactly what the models declare, and
`patron migrate` must be safe to run on a database that is already up to date."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.sql.elements import ClauseElement
from typer.testing import CliRunner

from patron.auth.models import Tenant
from patron.cli.main import app
from patron.db.engine import make_engine, normalise_url
from patron.db.migrate import alembic_config
from patron.db.models import metadata
from patron.db.session import Database
from patron.kit.clock import FrozenClock

runner = CliRunner()


def schema_diff(engine: Engine) -> list[Any]:
    """What autogenerate would write into a new migration: nothing, if the schema matches."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


def plain(value: Any) -> Any:
    """Reflected values with SQL clauses (partial index predicates) as their text."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, ClauseElement):
        return str(value)
    return value


def fingerprint(engine: Engine) -> dict[str, Any]:
    """The schema as the database reports it, plus the recorded revision."""
    inspector = inspect(engine)
    tables: dict[str, Any] = {}
    for name in sorted(inspector.get_table_names()):
        tables[name] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                for c in inspector.get_columns(name)
            ],
            "pk": plain(inspector.get_pk_constraint(name)),
            "fks": sorted(map(repr, plain(inspector.get_foreign_keys(name)))),
            "indexes": sorted(map(repr, plain(inspector.get_indexes(name)))),
            "uniques": sorted(map(repr, plain(inspector.get_unique_constraints(name)))),
        }
    with engine.connect() as conn:
        versions = sorted(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    return {"tables": tables, "versions": versions}


def head(url: str) -> str:
    revision = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert revision is not None
    return revision


@pytest.fixture
def fresh_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same kind as the test database."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path}/fresh.db"
        return
    base = make_url(normalise_url(database_url))
    name = f"patron_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def migrate(url: str) -> None:
    result = runner.invoke(app, ["migrate", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


class TestMigrationsMatchTheModels:
    def test_the_migrated_test_database_has_exactly_the_models_schema(self, db: Database) -> None:
        assert schema_diff(db.engine) == []

    def test_the_test_database_is_at_the_head_revision(self, db: Database) -> None:
        with db.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        assert current == head(db.url)

    def test_every_model_table_exists_and_nothing_else(self, db: Database) -> None:
        tables = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set(metadata.tables)

    def test_the_comparison_notices_a_missing_table(self, fresh_url: str) -> None:
        """The check above can fail: on an empty database it reports every table missing."""
        engine = make_engine(fresh_url)
        try:
            added = {d[1].name for d in schema_diff(engine) if d[0] == "add_table"}
        finally:
            engine.dispose()
        assert added == set(metadata.tables)


class TestMigrateCommand:
    def test_migrate_builds_an_empty_database_to_the_models_schema(self, fresh_url: str) -> None:
        migrate(fresh_url)
        engine = make_engine(fresh_url)
        try:
            assert schema_diff(engine) == []
            assert fingerprint(engine)["versions"] == [head(fresh_url)]
        finally:
            engine.dispose()

    def test_running_migrate_twice_changes_nothing(
        self, fresh_url: str, clock: FrozenClock
    ) -> None:
        migrate(fresh_url)
        engine = make_engine(fresh_url)
        try:
            tenant_id = uuid.uuid4()
            with engine.begin() as conn:
                conn.execute(
                    insert(Tenant).values(tenant_id=tenant_id, name="kept", created_at=clock.now())
                )
            before = fingerprint(engine)
            migrate(fresh_url)
            assert fingerprint(engine) == before
            with engine.connect() as conn:
                names = conn.execute(select(Tenant.name)).scalars().all()
            assert names == ["kept"]
        finally:
            engine.dispose()
