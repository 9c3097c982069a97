"""Statements every request runs, executed on the driver's own cursor.

Building and executing a Core statement through SQLAlchemy costs about 90 us of CPU per
execution beyond the query itself (measured: 196 us against 105 us for the API key lookup),
as much as the query costs the database. For the few statements on the hot path, `Hot`
compiles the statement once per dialect and runs the SQL text directly with named
parameters. Only columns whose driver values need no SQLAlchemy type processing belong here
(PostgreSQL returns aware datetimes, uuids and JSON as the models expect); on SQLite, where
types need processing and there is no round trip to save, the statement runs through
SQLAlchemy as usual.
"""

from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from patron.db.bulk import PREPARE_UP_TO

AnySelect = Select[*tuple[Any, ...]]


class Hot:
    def __init__(self, build: Callable[[str], AnySelect]) -> None:
        self._build = build
        self._compiled: dict[str, tuple[AnySelect, str | None, dict[str, Any]]] = {}

    def _for(self, dialect: Dialect) -> tuple[AnySelect, str | None, dict[str, Any]]:
        found = self._compiled.get(dialect.name)
        if found is None:
            stmt = self._build(dialect.name)
            sql, fixed = None, {}
            if dialect.name == "postgresql":
                compiled = stmt.compile(dialect=dialect)
                # Literals in the expression (`asset = 'points'`) are parameters too.
                sql, fixed = (
                    str(compiled),
                    {k: v for k, v in compiled.params.items() if v is not None},
                )
            found = self._compiled[dialect.name] = (stmt, sql, fixed)
        return found

    def rows(self, session: Session, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
        """The result rows, as tuples in the statement's column order."""
        conn = session.connection()
        stmt, sql, fixed = self._for(conn.dialect)
        if sql is None:
            return [tuple(row) for row in conn.execute(stmt, params)]
        driver = conn.connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        # As in patron.db.bulk.raw: never prepared when it carries many keys.
        many = any(isinstance(v, list) and len(v) > PREPARE_UP_TO for v in params.values())
        with driver.cursor() as cursor:
            cursor.execute(sql, {**fixed, **params}, prepare=False if many else None)
            return cursor.fetchall()
