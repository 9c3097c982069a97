"""`patron`: demo, serve, migrate, tenants, keys, jobs, verify-ledger."""

import logging
import os
import sys
from datetime import datetime
from enum import StrEnum

import orjson
import typer
from rich.markup import escape

from patron import __version__
from patron.cli import demo, keys, program, tenants
from patron.cli.common import (
    EXIT_FAILED,
    EXIT_STATUSES,
    WILDCARDS,
    PatronGroup,
    browsable_url,
    check_can_listen,
    console,
    err_console,
    instant,
    now,
)
from patron.cli.database import DbOption, database, migrate_to_head, parse_url, resolve_url, shown
from patron.cli.output import JsonOption
from patron.config import get_settings
from patron.db import migrate as migrations

app = typer.Typer(
    cls=PatronGroup,
    help="Patron, the open-source loyalty engine.",
    epilog=EXIT_STATUSES,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(asked: bool) -> None:
    if asked:
        print(f"patron {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Patron, the open-source loyalty engine."""


app.add_typer(tenants.app, name="tenants")
app.add_typer(keys.app, name="keys")
app.add_typer(program.app, name="program")
jobs_app = typer.Typer(help="Scheduled work.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
app.command("demo")(demo.demo)


@app.command("migrate", short_help="Create the schema or bring it up to date.")
def migrate(database_url: str | None = DbOption) -> None:
    """Create the schema or bring it up to date. Creates the SQLite file if there is none (a
    PostgreSQL database is created with `createdb`). Safe to run again: an up-to-date database
    is left as it is. Every other command except `serve` and `demo` needs a database migrated to
    this package's version."""
    url = resolve_url(database_url)
    was, head = migrate_to_head(url)
    change = "" if was == head else f" (migrated from {was or 'an empty database'})"
    console.print(
        f"the database at {shown(url)} is up to date, at revision {head}{change}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


class LogLevel(StrEnum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    DEBUG = "debug"
    TRACE = "trace"


@app.command("serve", short_help="Serve the API; runs the scheduled jobs too.")
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind (0.0.0.0: all of them)."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, help="Worker processes."),
    migrate_first: bool = typer.Option(
        None,
        "--migrate/--no-migrate",
        help="Migrate before serving (default: yes on SQLite, no on PostgreSQL, which must "
        "be migrated by `patron migrate`).",
        show_default=False,
    ),
    log_level: LogLevel = typer.Option(
        LogLevel.WARNING,
        case_sensitive=False,
        metavar="LEVEL",
        help="Least severe log messages shown: critical, error, warning, info, debug, trace.",
    ),
    database_url: str | None = DbOption,
) -> None:
    """Serve the API (production entry point); runs the scheduled jobs too. Prints where it
    listens, which database it serves and how many workers. Each worker runs the scheduled jobs
    (vesting, expiry) every PATRON_JOBS_INTERVAL seconds, unless that is 0. Refuses a database
    that is not migrated to this package's version."""
    import uvicorn

    url = resolve_url(database_url)
    parse_url(url)
    if migrate_first is None:
        migrate_first = url.startswith("sqlite")
    if migrate_first:
        migrate_to_head(url)
    database(url).dispose()  # exists, reachable and migrated, or one line saying which not
    check_can_listen(host, port)
    # Workers build the app from the environment: this URL, not one read earlier.
    os.environ["PATRON_DATABASE_URL"] = url
    get_settings.cache_clear()
    interval = get_settings().jobs_interval
    base = browsable_url(host, port)
    where = "all interfaces" if host in WILDCARDS else host
    jobs = (
        f"scheduled jobs every {interval:g} s in each"
        if interval > 0
        else "scheduled jobs off (PATRON_JOBS_INTERVAL=0: run `patron jobs run` from cron)"
    )
    for line in (
        f"Patron {__version__} listening on {where}, port {port}: {base} (OpenAPI docs at "
        f"{base}/docs)",
        f"database: {shown(url)} (revision {migrations.head()})",
        f"workers: {workers}; {jobs}",
        "Ctrl-C stops it.",
    ):
        err_console.print(line, markup=False, highlight=False, soft_wrap=True)
    logging.basicConfig(level=log_level.value.upper())
    uvicorn.run(
        "patron.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level.value,
        access_log=False,
    )


@jobs_app.command("run")
def jobs_run(
    at: datetime | None = typer.Option(
        None,
        "--now",
        parser=instant,
        metavar="DATE|DATETIME",
        help="Run as of this time instead of the clock, e.g. to catch up after an outage or "
        "to rehearse a date. ISO 8601: 2027-12-01 (midnight UTC), 2027-12-01T09:30:00Z, "
        "2027-12-01T09:30:00+02:00; a time without an offset is UTC.",
    ),
    database_url: str | None = DbOption,
) -> None:
    """Vest and expire everything due, send today's birthday events, then exit."""
    from patron.engagement.tasks import birthdays
    from patron.ledger.tasks import tasks
    from patron.programs.service import programs

    db = database(database_url)
    try:
        when = at or now()
        report = tasks.run_due(db, now=when, terms_for=programs.terms_for)
        celebrated = birthdays(db, now=when)
    finally:
        db.dispose()
    console.print(
        f"vested {report.vested_points} points in {report.vested_lots} lots; "
        f"expired {report.expired_points} points in {report.expired_lots} lots; "
        f"{celebrated} birthdays"
    )


@app.command(
    "verify-ledger", short_help="Check every ledger invariant; exit 1 naming each violation."
)
def verify_ledger(as_json: bool = JsonOption, database_url: str | None = DbOption) -> None:
    """Check every ledger invariant; exit 1 naming each violation. With --json: {"ok": true
    or false, "violations": [{"check", "tenant_id", "subject", "detail"}, ...]} on stdout."""
    from patron.checks import verify_all as verify

    db = database(database_url)
    try:
        with db.unit_of_work() as session:
            violations = verify(session)
    finally:
        db.dispose()
    if as_json:
        body = {
            "ok": not violations,
            "violations": [
                {
                    "check": v.check,
                    "tenant_id": v.tenant_id,
                    "subject": v.subject,
                    "detail": v.detail,
                }
                for v in violations
            ],
        }
        sys.stdout.write(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for v in violations:
            # Escaped: a violation starts with "[check]", which Rich would take for markup.
            err_console.print(f"[red]violation[/red] {escape(str(v))}", soft_wrap=True)
        if violations:
            err_console.print(f"{len(violations)} violation(s)")
        else:
            console.print(
                "ledger OK: every posting balances, every cached balance equals its entries, "
                "lots match balances"
            )
    if violations:
        raise typer.Exit(code=EXIT_FAILED)
