"""Request dependencies: the clock and the authenticated principal.

A route takes a secret API key unless it says otherwise with `require(scope, storefront=...)`:
`"public"` routes also take a publishable key alone (what every visitor may read), and
`"member"` routes also take a publishable key with a member token, for the token's own member
(the route's `external_id`). See docs/storefront.md.
"""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Literal
from urllib.parse import unquote

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from patron.auth.errors import InvalidMemberToken, NotForStorefront, OtherMember
from patron.auth.service import KEY_HEADER, PUBLISHABLE_PREFIX, Principal, auth
from patron.auth.tokens import looks_like_token
from patron.config import Settings, get_settings
from patron.db.session import SessionDep
from patron.errors import Forbidden, Unauthorized
from patron.kit.clock import Clock

Storefront = Literal["public", "member"]


# Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in the
# thread pool, and each hop there costs more than the work.
async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


ClockDep = Annotated[Clock, Depends(get_clock)]


def app_settings(request: Request) -> Settings:
    settings: Settings | None = getattr(request.app.state, "settings", None)
    return settings or get_settings()


def _bearer(request: Request) -> str | None:
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    credential = credential.strip()
    return credential if scheme.lower() == "bearer" and credential else None


def _refuse_storefront(request: Request, secret: str | None) -> None:
    """On a route that takes only a secret key, say so to a storefront (403) rather than
    call its credentials invalid. Runs only once authentication has failed: nothing is
    added to a request with a valid key."""
    if request.headers.get(KEY_HEADER) is not None or (
        secret is not None and (secret.startswith(PUBLISHABLE_PREFIX) or looks_like_token(secret))
    ):
        raise NotForStorefront(
            "this route takes a secret API key, from the shop's backend: publishable keys and "
            "member tokens reach only the storefront routes (the program; a member's own "
            "balance, history and redemptions)",
            field="Authorization",
        )


def authenticate(request: Request, session: Session, scope: str | None = None) -> Principal:
    """The principal of the request's bearer key, which must carry `scope`. For endpoints
    that run their own units of work; the others depend on `require(scope)`."""
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        _refuse_storefront(request, None)
        raise Unauthorized("send the API key as `Authorization: Bearer <key>`")
    try:
        principal = auth.authenticate(session, secret=secret.strip())
    except Unauthorized:
        _refuse_storefront(request, secret.strip())
        raise
    request.state.tenant_id = principal.tenant_id  # for the access log
    if scope is not None and scope not in principal.scopes:
        raise Forbidden(f"this API key lacks the `{scope}` scope")
    return principal


def _principal(request: Request, session: SessionDep) -> Principal:
    return authenticate(request, session)


def _storefront_principal(request: Request, session: SessionDep) -> Principal:
    """A secret key, as on every route; or, with `X-Patron-Key`, the storefront."""
    publishable = request.headers.get(KEY_HEADER)
    bearer = _bearer(request)
    if publishable is None:
        if bearer is not None and looks_like_token(bearer):
            raise InvalidMemberToken(
                f"send the shop's publishable key as `{KEY_HEADER}` with a member token",
                field=KEY_HEADER,
            )
        if bearer is not None and bearer.startswith(PUBLISHABLE_PREFIX):
            raise Unauthorized(
                f"send the publishable key as `{KEY_HEADER}: <key>`, not as Authorization",
                field="Authorization",
            )
        return authenticate(request, session)
    if bearer is None and request.headers.get("authorization") is not None:
        raise InvalidMemberToken(
            "send the member token as `Authorization: Bearer <token>`", field="Authorization"
        )
    if bearer is not None and not looks_like_token(bearer):
        raise InvalidMemberToken(
            f"with {KEY_HEADER}, Authorization carries a member token (a JWT), never an API "
            f"key: a secret key must not reach a browser (from the shop's backend, send the "
            f"secret key alone, without {KEY_HEADER})",
            field="Authorization",
        )
    settings = app_settings(request)
    clock: Clock = request.app.state.clock
    principal = auth.authenticate_storefront(
        session,
        publishable=publishable.strip(),
        token=bearer,
        now=clock.now(),
        max_age=timedelta(seconds=settings.member_token_max_age),
    )
    request.state.tenant_id = principal.tenant_id  # for the access log
    return principal


def _lacks(principal: Principal, scope: str) -> Forbidden:
    if principal.member is not None:
        detail = f"the key that signed this member token lacks the `{scope}` scope"
    elif principal.storefront:
        detail = f"a publishable key alone cannot do this (it lacks the `{scope}` scope)"
    else:
        detail = f"this API key lacks the `{scope}` scope"
    return Forbidden(detail, field="Authorization")


def require(
    scope: str, *, storefront: Storefront | None = None
) -> Callable[..., Awaitable[Principal]]:
    """A principal with `scope`. Without `storefront`, a secret key's. With it, a storefront
    request too: `"public"`, a publishable key alone; `"member"`, a publishable key with a
    member token whose `sub` is the route's `external_id`."""
    if storefront is None:

        async def dependency(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
            if scope not in principal.scopes:
                raise _lacks(principal, scope)
            return principal

        return dependency

    async def shopper(
        request: Request, principal: Annotated[Principal, Depends(_storefront_principal)]
    ) -> Principal:
        if storefront == "member" and principal.storefront:
            if principal.member is None:
                raise Unauthorized(
                    "a member's data needs the shopper's member token, signed by the shop's "
                    "backend: `Authorization: Bearer <token>`",
                    field="Authorization",
                )
            # As `path_id` decodes it: the router leaves "/" and "%" escaped in a segment.
            if unquote(request.path_params.get("external_id", "")) != principal.member:
                raise OtherMember(
                    f"this member token is for {principal.member!r}: it reaches only that "
                    "member's own routes",
                    field="external_id",
                )
        if scope not in principal.scopes:
            raise _lacks(principal, scope)
        return principal

    return shopper
