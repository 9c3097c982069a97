from datetime import datetime

import typer
from rich.console import Console

from patron.config import get_settings
from patron.db import migrate as migrations
from patron.db.session import Database
from patron.errors import PatronError
from patron.kit.clock import SystemClock

console = Console()
err_console = Console(stderr=True)


def database(url: str | None = None) -> Database:
    """The database to work on. A SQLite file is brought up to date first (zero set-up, as
    `serve` and `demo` do); PostgreSQL is migrated only by `patron migrate`, on purpose."""
    url = url or get_settings().database_url
    if url.startswith("sqlite"):
        migrations.upgrade(url)
    return Database(url)


def now() -> datetime:
    return SystemClock().now()


def fail(exc: PatronError) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {exc.detail}")
    return typer.Exit(code=2)


DbOption = typer.Option(
    None,
    "--database-url",
    envvar="PATRON_DATABASE_URL",
    help="Database URL (default: sqlite:///./patron.db).",
)
