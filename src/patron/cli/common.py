from datetime import datetime

import typer
from rich.console import Console

from patron.config import get_settings
from patron.db.session import Database
from patron.errors import PatronError
from patron.kit.clock import SystemClock

console = Console()
err_console = Console(stderr=True)


def database(url: str | None = None) -> Database:
    return Database(url or get_settings().database_url)


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
