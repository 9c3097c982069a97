"""Many-row writes to several tables in as few round trips as the database allows.

On PostgreSQL every operation becomes a data-modifying CTE fed by `jsonb_populate_recordset`
over one JSON parameter holding its rows, and all of them run as ONE statement: a batch of a
thousand events, or a single event, is written with one round trip. The statement text
depends only on which operations are present, never on the row count, so the server plans
the same few statements again and again.

On SQLite (in-process, no round trips to save) each operation is one executemany.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
import psycopg
from sqlalchemy import ColumnElement, Table, and_, any_, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

Kind = Literal["insert", "insert_ignore", "update", "upsert"]


@dataclass
class Op:
    """One table's share of a write. Every row must have the same keys.

    insert_ignore: INSERT ... ON CONFLICT (conflict) DO NOTHING RETURNING returning.
    update: UPDATE the rows whose `key` columns match, setting the other columns given.
    upsert: INSERT ... ON CONFLICT (conflict) DO UPDATE SET the other columns given.
    """

    kind: Kind
    table: Table
    rows: list[dict[str, Any]]
    conflict: tuple[str, ...] = ()
    returning: str | None = None
    # For updates: the columns that find a row. All but the last have one value across the
    # operation's rows (the tenant).
    key: tuple[str, ...] = ("tenant_id", "id")
    result: list[Any] = field(default_factory=list)


def execute(session: Session, ops: list[Op]) -> None:
    """Run the operations that have rows; an insert_ignore's `result` receives the
    `returning` values of the rows it inserted."""
    ops = [op for op in ops if op.rows]
    if not ops:
        return
    if session.get_bind().dialect.name == "postgresql":
        _postgres(session, ops)
    else:
        for op in ops:
            _sqlite(session, op)


def _columns(op: Op) -> list[str]:
    return list(op.rows[0])


def _postgres(session: Session, ops: list[Op]) -> None:
    ctes: list[str] = []
    params: list[Any] = []
    selects: list[str] = []
    for i, op in enumerate(ops):
        cols = _columns(op)
        table = op.table.name
        # One parameter per operation: its rows as a JSON array, which the server turns into
        # rows of the table's own type. Building it is one orjson call (uuids and datetimes
        # included); per-column arrays cost far more to adapt in Python.
        params.append(orjson.dumps(op.rows).decode())
        source = f"jsonb_populate_recordset(NULL::{table}, ${len(params)}::jsonb) AS v"
        if op.kind == "update":
            sets = ", ".join(f"{c} = v.{c}" for c in cols if c not in op.key)
            where = " AND ".join(f"t.{k} = v.{k}" for k in op.key)
            # The planner takes any set-returning function for 100 rows, and against a large
            # table it then scans the whole table for a hash join (measured: a seq scan of
            # every member to update one). The keys as an array parameter let it estimate
            # the rows to update from the index, and look them up there.
            # (Every key column but the last has one value in an operation: the tenant.)
            dialect = session.get_bind().dialect
            *fixed, last = op.key
            for k in fixed:
                params.append(op.rows[0][k])
                where += f" AND t.{k} = ${len(params)}::{op.table.c[k].type.compile(dialect)}"
            params.append([row[last] for row in op.rows])
            where += (
                f" AND t.{last} = ANY(${len(params)}::{op.table.c[last].type.compile(dialect)}[])"
            )
            ctes.append(
                f"c{i} AS (UPDATE {table} AS t SET {sets} FROM {source} WHERE {where} RETURNING 1)"
            )
        else:
            names = ", ".join(cols)
            sql = f"INSERT INTO {table} ({names}) SELECT {', '.join(f'v.{c}' for c in cols)}"
            sql += f" FROM {source}"
            if op.kind == "insert_ignore":
                sql += f" ON CONFLICT ({', '.join(op.conflict)}) DO NOTHING"
            elif op.kind == "upsert":
                sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c not in op.conflict)
                sql += f" ON CONFLICT ({', '.join(op.conflict)}) DO UPDATE SET {sets}"
            sql += f" RETURNING {op.returning or 1}"
            ctes.append(f"c{i} AS ({sql})")
        if op.returning:
            selects.append(f"(SELECT array_agg({op.returning}) FROM c{i})")
    # Every CTE runs whether or not it is selected; select the ones whose results we need.
    select = ", ".join(selects) if selects else "1"
    statement = f"WITH {', '.join(ctes)} SELECT {select}"
    [row] = raw(session, statement, params, rows=max(len(op.rows) for op in ops))
    returning = [op for op in ops if op.returning]
    for op, values in zip(returning, row if selects else (), strict=True):
        op.result = list(values or [])


# Operations with more rows than this run as unprepared statements.
PREPARE_UP_TO = 8


def raw(
    session: Session, statement: str, params: list[Any], *, rows: int = 1
) -> list[tuple[Any, ...]]:
    """Run a PostgreSQL statement with `$n` placeholders on the session's connection and
    return its rows. A raw cursor takes the placeholders as they are: psycopg does not
    re-parse a long statement on every call (it caches only short ones).

    `rows` is the most rows any of its parameters carries. Beyond PREPARE_UP_TO the statement
    is never prepared, so the server plans it for the rows it carries whatever its
    `plan_cache_mode` (a generic plan for a thousand rows was measured 60x slower: 3.4 s
    against 55 ms per batch; see patron.db.engine), and the server keeps no prepared
    statement per batch shape.
    """
    driver = session.connection().connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    with psycopg.RawCursor(driver) as cursor:
        cursor.execute(statement, params, prepare=False if rows > PREPARE_UP_TO else None)
        return cursor.fetchall()


def one_of(session: Session, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """`column IN values`; on PostgreSQL as `= ANY(array)`, one parameter however many
    values, so a thousand keys do not make a thousand-parameter statement to parse."""
    values = list(values)
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def _sqlite(session: Session, op: Op) -> None:
    conn = session.connection()
    if op.kind == "insert":
        conn.execute(op.table.insert(), op.rows)
    elif op.kind == "insert_ignore":
        stmt = sqlite.insert(op.table).on_conflict_do_nothing(index_elements=list(op.conflict))
        if op.returning:
            op.result = list(
                conn.execute(stmt.returning(op.table.c[op.returning]), op.rows).scalars()
            )
        else:
            conn.execute(stmt, op.rows)
    elif op.kind == "upsert":
        upsert = sqlite.insert(op.table)
        upsert = upsert.on_conflict_do_update(
            index_elements=list(op.conflict),
            set_={c: upsert.excluded[c] for c in _columns(op) if c not in op.conflict},
        )
        conn.execute(upsert, op.rows)
    else:
        cols = _columns(op)
        update = (
            op.table.update()
            .where(and_(*(op.table.c[k] == bindparam(f"k_{k}") for k in op.key)))
            .values({c: bindparam(f"v_{c}") for c in cols if c not in op.key})
        )
        conn.execute(
            update,
            [
                {
                    **{f"k_{k}": row[k] for k in op.key},
                    **{f"v_{c}": row[c] for c in cols if c not in op.key},
                }
                for row in op.rows
            ],
        )
