"""What every command shares: errors printed as one line instead of a traceback, the exit
statuses, the `--now` time option, and the checks before serving. The database a command
opens is in patron.cli.database.

Exit statuses: 0 done; 1 the database is missing, unreachable or not migrated, or a check
found violations; 2 bad input (an option's value, or a tenant or key that is not there).
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

import typer
from rich.console import Console
from rich.text import Text
from sqlalchemy.exc import DBAPIError, OperationalError
from typer.core import TyperGroup

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


def reason(exc: DBAPIError) -> str:
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
            error_line(f"the database failed: {reason(exc)}")
            raise typer.Exit(EXIT_FAILED) from None


def now() -> datetime:
    return SystemClock().now()


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
