"""Request dependencies: one unit of work per request, and the authenticated principal.

The session dependency uses `scope="function"`, so the transaction commits before the
response is sent: a client never sees success for a commit that failed.
"""

from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from patron.auth.service import Principal, auth
from patron.db.session import Database
from patron.errors import Forbidden, Unauthorized
from patron.kit.clock import Clock


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


# Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in the
# thread pool, and each hop there costs more than the work.
async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def _session(request: Request) -> Iterator[Session]:
    with get_database(request).unit_of_work() as session:
        yield session


SessionDep = Annotated[Session, Depends(_session, scope="function")]
ClockDep = Annotated[Clock, Depends(get_clock)]


def _principal(request: Request, session: SessionDep) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("send the API key as `Authorization: Bearer <key>`")
    return auth.authenticate(session, secret=secret.strip())


def require(scope: str) -> Callable[..., Awaitable[Principal]]:
    async def dependency(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
        if scope not in principal.scopes:
            raise Forbidden(f"this API key lacks the `{scope}` scope")
        return principal

    return dependency
