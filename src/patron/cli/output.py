"""Listings, printed for whoever reads them: a table for a person at a terminal; for a
program (stdout is a pipe or a file), tab-separated lines under a header, or JSON with
`--json`. Rich would box and wrap a table to 80 columns when piped, which no program can
parse."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
import typer
from rich.table import Table
from rich.text import Text

from patron.cli.common import console, err_console

JsonOption = typer.Option(
    False, "--json", help="Print a JSON array on stdout, one object per row, for programs."
)

Row = Mapping[str, Any]


def listing(rows: Sequence[Row], *, columns: Sequence[str], as_json: bool, empty: str) -> None:
    """Print `rows` (each a mapping with at least `columns`). JSON carries every key of
    each row; the table and the tab-separated lines carry `columns`, in that order. `empty`
    is said to a person at a terminal when there is nothing to list."""
    if as_json:
        sys.stdout.write(
            orjson.dumps(list(rows), option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
            + "\n"
        )
    elif sys.stdout.isatty():
        _table(rows, columns, empty)
    else:
        sys.stdout.write("\t".join(columns) + "\n")
        for row in rows:
            sys.stdout.write("\t".join(_field(row[c]) for c in columns) + "\n")


def _table(rows: Sequence[Row], columns: Sequence[str], empty: str) -> None:
    if not rows:
        err_console.print(empty, markup=False, highlight=False)
        return
    table = Table(*columns, header_style="bold")
    for row in rows:
        # Text, not str: a tenant or key name is shown literally, never read as markup.
        table.add_row(*(Text(_cell(row[c])) for c in columns))
    console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M} UTC"
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return str(value)


def _field(value: Any) -> str:
    """One tab-separated field: empty for none, ISO 8601 for a time, a list joined by commas;
    a backslash, tab, newline or carriage return inside is escaped as `\\\\`, `\\t`, `\\n`,
    `\\r` (PostgreSQL's COPY text format), so one row is always one line."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        text = value.isoformat()
    elif isinstance(value, list | tuple):
        text = ",".join(str(v) for v in value)
    else:
        text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
