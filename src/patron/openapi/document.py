"""The OpenAPI document: FastAPI's, completed so that it describes what the API really does
and generates working clients.

FastAPI writes the paths, parameters, bodies and success responses from the routes. This
adds what it cannot know: the event bodies read as raw bytes (from the registry), who may
call each operation (`security`), every error each can answer as a problem (`problems`), and
examples (`examples`). It drops the schemas nothing refers to any more (FastAPI's
HTTPValidationError, replaced by Problem).
"""

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from patron.openapi import examples, problems, security

SUMMARY = "Loyalty engine for online shops"

DESCRIPTION = """\
Send what your customers do (orders placed, refunded, cancelled; sign-ups); Patron turns it
into points on a double-entry ledger, following the program you publish, and explains every
point. Read balances and histories back, and spend points at checkout.

**Authentication.** The shop's backend sends a secret API key (`patron keys create`) as
`Authorization: Bearer <key>`; each operation names the scope it needs. The storefront's
pages send the publishable key as `X-Patron-Key`, with a member token for a signed-in
shopper; they reach only the operations that say so. Use *Authorize* to try the operations
here.

**Errors** are RFC 9457 `application/problem+json`: `type`, `title`, `status`, `detail`,
`instance`, and `errors`, a list naming each field at fault. Each operation lists the
statuses it can answer.

**Ids** are the shop's own (customer ids, event ids, order ids), any printable text. In a
path, an id is one percent-encoded segment: `gid://shopify/Customer/7001` is
`gid%3A%2F%2Fshopify%2FCustomer%2F7001`.

**Amounts** are decimal strings (`"84.50"`), never JSON numbers; points are integers.

**Lists** come a page at a time: pass a page's `next_cursor` as `cursor` to get the next
one; it is null on the last page.

**Retries are safe.** An event sent again with the same `id` returns its first result and
changes nothing; a redemption retried with the same `Idempotency-Key` header likewise.
"""

TAGS = [
    {
        "name": "events",
        "description": "What the shop reports: orders placed, refunded, cancelled; customers "
        "enrolled. Each event is applied once, by its `id`, and its result says what it did.",
    },
    {
        "name": "members",
        "description": "Customers in the program, by the shop's customer id: balances, order "
        "statistics, points history, support adjustments and redemptions.",
    },
    {
        "name": "program",
        "description": "The shop's loyalty terms. Each publication is a new immutable version.",
    },
    {
        "name": "storefront",
        "description": "For the shop's pages in a shopper's browser: member tokens signed for "
        "the storefront.",
    },
    {"name": "meta", "description": "The service itself: health and version."},
]

LICENSE = {"name": "Apache-2.0", "identifier": "Apache-2.0"}

JSON = "application/json"
SCHEMA_REF = "#/components/schemas/"


def _routes(app: FastAPI) -> dict[tuple[str, str], security.Route]:
    return {
        (route.path, method.lower()): route
        for route in security.routes_of(app.routes)
        for method in route.methods
    }


def _parameters(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        name = parameter["name"]
        if not parameter.get("description") and name in examples.PARAMETER_DESCRIPTIONS:
            parameter["description"] = examples.PARAMETER_DESCRIPTIONS[name]
        if "example" in parameter or "examples" in parameter:
            continue
        given = parameter.get("schema", {}).get("examples")
        if given:
            parameter["example"] = given[0]
        elif name in examples.PARAMETERS:
            parameter["example"] = examples.PARAMETERS[name]


def _request(operation: dict[str, Any], given: dict[str, Any]) -> None:
    media = operation.get("requestBody", {}).get("content", {}).get(JSON)
    if media is None or "example" in media or "examples" in media:
        return
    if "request" in given:
        media["example"] = given["request"]
    elif "requests" in given:
        media["examples"] = {
            name: {"summary": name, "value": value} for name, value in given["requests"].items()
        }


def _responses(operation: dict[str, Any], given: dict[str, Any]) -> None:
    for code, response in operation.get("responses", {}).items():
        media = (response.get("content") or {}).get(JSON)
        if media is None or "example" in media or "examples" in media:
            continue
        if code in given.get("responses", {}):
            media["example"] = given["responses"][code]


def _describe(operation: dict[str, Any], access: security.Access | None) -> None:
    if access is None:
        return
    operation["security"] = security.requirements(access)
    own = operation.get("description", "").strip()
    operation["description"] = f"{own}\n\n{security.explain(access)}".strip()


def _prune(document: dict[str, Any]) -> None:
    """Drop the component schemas nothing refers to, directly or through another schema."""
    schemas: dict[str, Any] = document["components"]["schemas"]
    outside = json.dumps({k: v for k, v in document.items() if k != "components"})
    reached: set[str] = set()
    todo = [outside]
    while todo:
        text = todo.pop()
        for name in schemas:
            if name not in reached and f'"{SCHEMA_REF}{name}"' in text:
                reached.add(name)
                todo.append(json.dumps(schemas[name]))
    for name in set(schemas) - reached:
        del schemas[name]


def build(app: FastAPI) -> dict[str, Any]:
    # Imported here: the event routes import this package (`security.key_required`).
    from patron.ingest.api import body_schemas

    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=SUMMARY,
        description=DESCRIPTION,
        routes=app.routes,
        tags=TAGS,
        license_info=LICENSE,
    )
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name, body in body_schemas().items():
        schemas.update(body.pop("$defs", {}))
        schemas[name] = body
    schemas.update(problems.schemas())

    routes = _routes(app)
    operations = []
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            route = routes[(path, method)]
            operation.pop(security.SCOPE_MARK, None)
            access = security.access_of(route)
            given = examples.OPERATIONS.get(operation.get("operationId", ""), {})
            _describe(operation, access)
            _parameters(operation)
            _request(operation, given)
            _responses(operation, given)
            problems.document(route, path, operation, access, given.get("problems", {}))
            operations.append(operation)
    components["securitySchemes"] = security.schemes_used(operations)
    _prune(document)
    return document
