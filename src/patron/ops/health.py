"""Is the database reachable, and is its schema the one this package was built for."""

from dataclasses import dataclass

from sqlalchemy import Engine, text

from patron.db import migrate


@dataclass(frozen=True)
class Readiness:
    ready: bool
    detail: str
    revision: str | None
    head: str


def readiness(engine: Engine) -> Readiness:
    """Raises what the driver raises when the database cannot be reached."""
    head = migrate.head()
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    revision = migrate.revision_of(engine)
    if revision != head:
        at = f"revision {revision}" if revision else "no revision (never migrated)"
        return Readiness(
            False,
            f"the database schema is at {at}; this version of Patron needs {head}: "
            "run `patron migrate`",
            revision,
            head,
        )
    return Readiness(True, "the database answers and its schema is current", revision, head)
