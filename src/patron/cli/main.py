"""`patron`: demo, serve, migrate, tenants, keys, jobs, verify-ledger."""

import logging
from datetime import UTC, datetime

import typer

from patron.cli import demo, keys, tenants
from patron.cli.common import DbOption, console, database, err_console, now
from patron.config import get_settings
from patron.db import migrate as migrations

app = typer.Typer(
    help="Patron, the open-source loyalty engine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(tenants.app, name="tenants")
app.add_typer(keys.app, name="keys")
jobs_app = typer.Typer(help="Scheduled work.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
app.command("demo")(demo.demo)


@app.command("migrate")
def migrate(database_url: str | None = DbOption) -> None:
    """Bring the database schema up to date."""
    url = database_url or get_settings().database_url
    migrations.upgrade(url)
    console.print("database is up to date")


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8000),
    workers: int = typer.Option(1, help="Worker processes."),
    migrate_first: bool = typer.Option(
        None,
        "--migrate/--no-migrate",
        help="Migrate before serving (default: yes on SQLite, no on PostgreSQL).",
    ),
    log_level: str = typer.Option("warning"),
    database_url: str | None = DbOption,
) -> None:
    """Serve the API (production entry point). Runs the scheduled jobs in-process too."""
    import os

    import uvicorn

    url = database_url or get_settings().database_url
    os.environ["PATRON_DATABASE_URL"] = url
    if migrate_first is None:
        migrate_first = url.startswith("sqlite")
    if migrate_first:
        migrations.upgrade(url)
    logging.basicConfig(level=log_level.upper())
    uvicorn.run(
        "patron.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
    )


@jobs_app.command("run")
def jobs_run(
    at: datetime | None = typer.Option(
        None,
        "--now",
        help="Run as of this UTC time instead of the clock (ISO 8601), e.g. to "
        "catch up after an outage or to rehearse a date.",
        formats=["%Y-%m-%dT%H:%M:%S"],
    ),
    database_url: str | None = DbOption,
) -> None:
    """Vest and expire everything due, then exit."""
    from patron.ledger.tasks import tasks
    from patron.programs.service import programs

    when = at.replace(tzinfo=UTC) if at else now()
    report = tasks.run_due(database(database_url), now=when, terms_for=programs.terms_for)
    console.print(
        f"vested {report.vested_points} points in {report.vested_lots} lots; "
        f"expired {report.expired_points} points in {report.expired_lots} lots"
    )


@app.command("verify-ledger")
def verify_ledger(database_url: str | None = DbOption) -> None:
    """Check every ledger invariant; exit 1 naming each violation."""
    from rich.markup import escape

    from patron.checks import verify_all as verify

    with database(database_url).unit_of_work() as session:
        violations = verify(session)
    if violations:
        for v in violations:
            # Escaped: a violation starts with "[check]", which Rich would take for markup.
            err_console.print(f"[red]violation[/red] {escape(str(v))}")
        err_console.print(f"{len(violations)} violation(s)")
        raise typer.Exit(code=1)
    console.print(
        "ledger OK: every posting balances, every cached balance equals its entries, "
        "lots match balances"
    )
