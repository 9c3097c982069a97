"""Request dependencies: the clock and the authenticated principal."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from patron.auth.service import Principal, auth
from patron.db.session import SessionDep
from patron.errors import Forbidden, Unauthorized
from patron.kit.clock import Clock


# Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in the
# thread pool, and each hop there costs more than the work.
async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


ClockDep = Annotated[Clock, Depends(get_clock)]


def authenticate(request: Request, session: Session, scope: str | None = None) -> Principal:
    """The principal of the request's bearer key, which must carry `scope`. For endpoints
    that run their own units of work; the others depend on `require(scope)`."""
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("send the API key as `Authorization: Bearer <key>`")
    principal = auth.authenticate(session, secret=secret.strip())
    if scope is not None and scope not in principal.scopes:
        raise Forbidden(f"this API key lacks the `{scope}` scope")
    return principal


def _principal(request: Request, session: SessionDep) -> Principal:
    return authenticate(request, session)


def require(scope: str) -> Callable[..., Awaitable[Principal]]:
    async def dependency(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
        if scope not in principal.scopes:
            raise Forbidden(f"this API key lacks the `{scope}` scope")
        return principal

    return dependency
