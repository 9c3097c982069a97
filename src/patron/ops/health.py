"""Is the database reachable, and is its schema the one this package was built for."""

import asyncio
from dataclasses import dataclass

from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool

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


class Probe:
    """Runs `readiness` in the thread pool, one check at a time per process: a probe that
    arrives while one is running waits for the same answer. A database that does not answer
    holds one thread until the driver gives up (its connect timeout), however often the load
    balancer asks, and each caller stops waiting after its own timeout."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._running: asyncio.Future[Readiness] | None = None

    async def check(self, timeout: float) -> Readiness:
        """Raises TimeoutError after `timeout` seconds, or what `readiness` raises."""
        running = self._running
        if running is None or running.done():
            running = self._running = asyncio.ensure_future(
                run_in_threadpool(readiness, self.engine)
            )
            # Retrieved here in case every caller stopped waiting before it ended.
            running.add_done_callback(lambda f: f.cancelled() or f.exception())
        return await asyncio.wait_for(asyncio.shield(running), timeout)
