"""Who may call an operation, read from the route itself, and how the document says it.

A route's credentials are its dependencies: `require(scope)` (a secret key with `scope`) or
`require(scope, storefront="public" | "member")` (that, or the storefront's credentials).
Routes that authenticate inside their own unit of work (the event routes read the raw body)
declare the scope with `openapi_extra=key_required(scope)`. Routes outside `/v1` (health,
metrics, the docs) are public.

Each credential is a security scheme; an operation lists the combinations it accepts, with
the scope a secret key needs as the requirement's role (OpenAPI 3.1 allows roles on any
scheme). A new kind of credential is a new scheme in SCHEMES and a new case in
`requirements`.
"""

import inspect
from dataclasses import dataclass
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from patron.auth import deps
from patron.auth.service import KEY_HEADER

SECRET_KEY = "SecretKey"
PUBLISHABLE_KEY = "PublishableKey"
MEMBER_TOKEN = "MemberToken"

SCHEMES: dict[str, dict[str, Any]] = {
    SECRET_KEY: {
        "type": "http",
        "scheme": "bearer",
        "description": "A secret API key (`pk_…`), from `patron keys create`, sent by the "
        "shop's backend as `Authorization: Bearer <key>`. Each key belongs to one shop and "
        "carries scopes; an operation names the scope it needs. Never put a secret key in a "
        "web page.",
    },
    PUBLISHABLE_KEY: {
        "type": "apiKey",
        "in": "header",
        "name": KEY_HEADER,
        "description": "The shop's publishable key (`pub_…`), from `patron keys create "
        "--publishable`, sent by the storefront's pages. Alone it reads only what every "
        "visitor may see (the program).",
    },
    MEMBER_TOKEN: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A short-lived member token, signed by the shop's backend (or by "
        "`POST /v1/members/{external_id}/tokens`), sent with the publishable key as "
        "`Authorization: Bearer <token>`. It reaches one member's own balance, history and "
        "redemptions.",
    },
}

# The marker `key_required` leaves in a route's `openapi_extra`; the document drops it.
SCOPE_MARK = "x-patron-scope"


@dataclass(frozen=True)
class Route:
    """What the document needs of a route (FastAPI keeps included routers' routes behind
    contexts)."""

    path: str
    methods: frozenset[str]
    name: str
    dependant: Dependant
    openapi_extra: dict[str, Any]


def routes_of(routes: list[BaseRoute]) -> list[Route]:
    found = []
    for context in iter_route_contexts(routes):
        if isinstance(context.original_route, APIRoute):
            found.append(
                Route(
                    path=context.path_format or "",
                    methods=frozenset(context.methods or ()),
                    name=context.name or "",
                    dependant=context.dependant,
                    openapi_extra=context.openapi_extra or {},
                )
            )
    return found


@dataclass(frozen=True)
class Access:
    """What an operation takes: a secret key with `scope`; with `storefront`, also the
    storefront's publishable key alone (`"public"`) or with the member's token (`"member"`)."""

    scope: str | None
    storefront: str | None = None


def key_required(scope: str) -> dict[str, Any]:
    """`openapi_extra` for a route that authenticates by itself, with a secret key."""
    return {SCOPE_MARK: scope}


def _principals() -> set[Any]:
    names = ("_principal", "_storefront_principal")
    return {getattr(deps, name) for name in names if hasattr(deps, name)}


def _from_dependencies(dependant: Dependant) -> Access | None:
    """The first `require(...)` among the route's dependencies: the dependency whose own
    dependency is one of the principal resolvers. Its scope and storefront kind are the
    arguments `require` closed over."""
    principals = _principals()
    for dependency in dependant.dependencies:
        if any(sub.call in principals for sub in dependency.dependencies):
            assert dependency.call is not None
            bound = inspect.getclosurevars(dependency.call).nonlocals
            return Access(scope=bound.get("scope"), storefront=bound.get("storefront"))
        found = _from_dependencies(dependency)
        if found is not None:
            return found
    return None


def access_of(route: Route) -> Access | None:
    """None for a public route."""
    found = _from_dependencies(route.dependant)
    if found is not None:
        return found
    declared = route.openapi_extra.get(SCOPE_MARK)
    if declared is not None or route.path.startswith("/v1/"):
        return Access(scope=declared)
    return None


def requirements(access: Access) -> list[dict[str, list[str]]]:
    """The operation's `security`: alternatives, each a set of schemes sent together."""
    roles = [access.scope] if access.scope else []
    found: list[dict[str, list[str]]] = [{SECRET_KEY: roles}]
    if access.storefront == "public":
        found.append({PUBLISHABLE_KEY: roles})
    elif access.storefront == "member":
        found.append({PUBLISHABLE_KEY: [], MEMBER_TOKEN: roles})
    return found


def explain(access: Access) -> str:
    """A sentence for the operation's description."""
    scope = f" with the `{access.scope}` scope" if access.scope else ""
    text = f"**Authentication:** a secret API key{scope}"
    if access.storefront == "public":
        text += f"; or, from the storefront, the publishable key (`{KEY_HEADER}`) alone"
    elif access.storefront == "member":
        text += (
            f"; or, from the storefront, the publishable key (`{KEY_HEADER}`) with a member "
            "token for this `external_id`"
        )
    return text + "."


def schemes_used(operations: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    used = {name for op in operations for alt in op.get("security", []) for name in alt}
    return {name: scheme for name, scheme in SCHEMES.items() if name in used}
