"""What every command shares: the database it opens (checked before it is used), errors
printed as one line instead of a traceback, the `--now` time option, and the exit statuses.

Exit statuses: 0 done; 1 the database is missing, unreachable or not migrated, or a check
found violations; 2 bad input (an option's value, or a tenant or key that is not there).
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from alembic.script import ScriptDirectory
from rich.console import Console
from rich.text import Text
from sqlalchemy import Engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from typer.core import TyperGroup

from patron.config import get_settings
from patron.db import migrate as migrations
from patron.db.engine import make_engine, normalise_url
from patron.db.session import Database
from patron.errors import PatronError
from patron.kit.clock import SystemClock

console = Console()
err_console = Console(stderr=True)

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_STATUSES = (
    "Exit status: 0 done; 1 the database is missing, unreachable or not migrated (or "
    "verify-ledger found violations); 2 bad input (an option's value, or a tenant or key "
    "that is not there)."
)


class CliError(Exception):
    """A failure the person at the terminal can act on: printed as one line, no traceback."""

    def __init__(self, message: str, *, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def error_line(message: str) -> None:
    """`error: message` on stderr, on one line however wide the terminal (no wrapping), and
    printed literally (no Rich markup)."""
    line = Text("error: ", style="red")
    line.append(message)
    err_console.print(line, soft_wrap=True, highlight=False)


def _reason(exc: DBAPIError) -> str:
    """The driver's message on one line, without SQLAlchemy's statement and link."""
    return " ".join(str(exc.orig).split()) or type(exc.orig).__name__


# Click's usage error (a bad or missing option, an unknown command), found through
# typer.BadParameter: recent typers carry a copy of click of their own.
UsageError: type[Any] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


class PatronGroup(TyperGroup):
    """The `patron` command group. Every subcommand's arguments are parsed and its body runs
    inside this group's `invoke`, so this is the one place where the errors a person can
    cause become one line and an exit status. (Typer would draw a usage error in a box
    wrapped to 80 columns.)"""

    # `ctx` is a click Context: typer's own copy of click in recent typers, click's in older.
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # `patron keys`: typer shows help
                raise
            where = getattr(exc, "ctx", None)
            hint = f"; see `{where.command_path} --help`" if where is not None else ""
            error_line(f"{exc.format_message().rstrip('.')}{hint}")
            raise typer.Exit(exc.exit_code) from None
        except CliError as exc:
            error_line(exc.message)
            raise typer.Exit(exc.code) from None
        except PatronError as exc:
            error_line(exc.detail)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except OperationalError as exc:
            # The connection dropped or SQLite's file went away after the checks passed.
            error_line(f"the database failed: {_reason(exc)}")
            raise typer.Exit(EXIT_FAILED) from None


def now() -> datetime:
    return SystemClock().now()


# --- the database -------------------------------------------------------------------------

DbOption = typer.Option(
    None,
    "--database-url",
    envvar="PATRON_DATABASE_URL",
    metavar="URL",
    help="The database: sqlite:///FILE or postgresql://USER:PASSWORD@HOST:PORT/DB "
    "(default: sqlite:///./patron.db).",
    show_envvar=True,
)


def resolve_url(given: str | None) -> str:
    """The URL given, else PATRON_DATABASE_URL (or .env), else the default SQLite file."""
    return given or get_settings().database_url


def parse_url(url: str) -> URL:
    """The URL, if it names a database Patron runs on; else a CliError (bad input)."""
    try:
        parsed = make_url(normalise_url(url))
    except ArgumentError:
        # Not echoed: a malformed URL may hold a password that cannot be told apart.
        raise CliError(
            "the database URL is not a URL: use sqlite:///path/to/file.db or "
            "postgresql://user:password@host:5432/db",
            code=EXIT_BAD_INPUT,
        ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise CliError(
            f"Patron runs on SQLite or PostgreSQL, not {parsed.get_backend_name()} ({shown(url)})",
            code=EXIT_BAD_INPUT,
        )
    return parsed


def shown(url: str) -> str:
    """The URL as it can be printed: with its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(a malformed URL)"


def sqlite_file(parsed: URL) -> Path | None:
    """The file a SQLite URL names; None for other databases and in-memory SQLite."""
    if parsed.get_backend_name() != "sqlite" or parsed.query.get("uri"):
        return None
    if parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def revision(engine: Engine, url: str) -> str | None:
    """The migration the database is at; a CliError if it cannot be reached."""
    try:
        return migrations.revision_of(engine)
    except OperationalError as exc:
        raise CliError(f"cannot connect to the database at {shown(url)}: {_reason(exc)}") from None


def known(rev: str) -> bool:
    """Whether this package ships migration `rev` (a database at an unknown revision was
    migrated by a newer Patron)."""
    scripts = ScriptDirectory.from_config(migrations.alembic_config("sqlite://"))
    return any(script.revision == rev for script in scripts.walk_revisions())


def unknown_revision(url: str, rev: str) -> CliError:
    return CliError(
        f"the database at {shown(url)} is at revision {rev}, which this package does not "
        f"know (its newest is {migrations.head()}): it was migrated by a newer Patron; "
        "upgrade this one"
    )


def ensure_current(engine: Engine, url: str) -> None:
    """A CliError unless the database is reachable and migrated to this package's head."""
    at = revision(engine, url)
    needed = migrations.head()
    if at == needed:
        return
    if at is not None and not known(at):
        raise unknown_revision(url, at)
    raise CliError(
        f"the database at {shown(url)} is not migrated (at {at or 'none'}, this package "
        f"needs {needed}): run `patron migrate`"
    )


def database(given: str | None = None) -> Database:
    """The database to work on, once it is known to exist, to be reachable and to be
    migrated to this package's head. Nothing is created: only `migrate`, `serve` and `demo`
    create a SQLite file."""
    url = resolve_url(given)
    path = sqlite_file(parse_url(url))
    if path is not None and not path.is_file():
        raise CliError(
            f"no database at {path.resolve()}; run `patron migrate` first "
            "(or point --database-url at an existing one)"
        )
    db = Database(url)
    try:
        ensure_current(db.engine, url)
    except BaseException:
        db.dispose()
        raise
    return db


def migrate_to_head(url: str) -> tuple[str | None, str]:
    """Bring the database to this package's head (creating a SQLite file if there is none);
    the revisions it was at and is at now."""
    path = sqlite_file(parse_url(url))
    if path is not None and not path.parent.is_dir():
        raise CliError(f"no folder {path.parent.resolve()} to create the database file in")
    engine = make_engine(url, pool_size=1)
    try:
        was = revision(engine, url)
    finally:
        engine.dispose()
    if was is not None and not known(was):
        raise unknown_revision(url, was)
    migrations.upgrade(url)
    return was, migrations.head()


# --- serving ---------------------------------------------------------------------------


# Hosts that mean every interface: a browser cannot go there, so URLs name 127.0.0.1.
WILDCARDS = ("0.0.0.0", "::", "")


def browsable_url(host: str, port: int) -> str:
    """Where a browser on this machine reaches a server bound to `host`."""
    host = "127.0.0.1" if host in WILDCARDS else host
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def check_can_listen(host: str, port: int) -> None:
    """Fail now, in one line, if the address is taken or unknown, rather than after a
    banner or a demo's build, in uvicorn's log."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


# --- time -----------------------------------------------------------------------------------


def instant(value: str | datetime) -> datetime:
    """`--now`'s value: an ISO 8601 date (midnight UTC), or date and time with an offset or
    `Z`; a time without one is taken as UTC. Returned as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except OverflowError:
        raise typer.BadParameter(f"{value!r} is out of range once in UTC") from None
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 date or time "
            "(e.g. 2027-12-01, 2027-12-01T09:30:00Z or 2027-12-01T09:30:00+02:00)"
        ) from None
