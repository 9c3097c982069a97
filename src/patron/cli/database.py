"""The database a command works on: which one (`--database-url`, PATRON_DATABASE_URL, the
default file), and the checks before it is used. Only `migrate`, `serve` and `demo` create or
migrate a database; every other command needs one that exists, answers and is migrated to
this package's head, and otherwise stops with one line saying which of these it is not (see
docs/decisions/0008)."""

from __future__ import annotations

from pathlib import Path

import typer
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from patron.cli.common import EXIT_BAD_INPUT, CliError, reason
from patron.config import get_settings
from patron.db import migrate as migrations
from patron.db.engine import make_engine, normalise_url
from patron.db.session import Database

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
        raise CliError(f"cannot connect to the database at {shown(url)}: {reason(exc)}") from None


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
