"""The errors each operation can answer, documented as RFC 9457 problems.

The common ones follow from the route's shape, so that a new route gets them without saying
anything: a key (401, 403); a path parameter naming a stored thing (404); any parameter or
body to validate (422); a body (400 malformed JSON, 413 too large, 415 not JSON); an
`Idempotency-Key` header (409). Every operation can answer 500. A route adds its own with
`responses={409: {"description": "..."}}`: the document gives each the Problem schema, the
`application/problem+json` content type and an example.
"""

from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from patron.openapi.security import Access, Route

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://patron.dev/problems/"
PROBLEM_REF = "#/components/schemas/Problem"

# Routes whose path names what they create: no 404 for an unknown id.
CREATES_WHAT_THE_PATH_NAMES = frozenset({"put_member", "create_member_token"})


class ProblemError(BaseModel):
    field: str | None = Field(
        description="What the problem is about: a dotted path into the body "
        "(`events.3.data.total`), a parameter or header as the client sent it (`limit`, "
        "`Idempotency-Key`, `Authorization`); null when it is about no one field.",
        examples=["data.total"],
    )
    message: str = Field(
        description="What is wrong with it, in words.",
        examples=['must be a decimal string such as "42.50"'],
    )


class Problem(BaseModel):
    """An RFC 9457 problem: every error the API answers has this shape, with the content type
    `application/problem+json`. Some problems add members of their own (an insufficient
    balance says what is `available`)."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(
        description="A URI naming the kind of problem; stable, so code can branch on it.",
        examples=[TYPE_BASE + "member-not-found"],
    )
    title: str = Field(
        description="A short summary of the kind of problem.", examples=["Member not found"]
    )
    status: int = Field(
        ge=400, le=599, description="The HTTP status code, repeated.", examples=[404]
    )
    detail: str = Field(
        description="What went wrong this time, in words a person can act on.",
        examples=["no member with external id 'cust_9999'"],
    )
    instance: str | None = Field(
        None, description="The path of the request.", examples=["/v1/members/cust_9999"]
    )
    errors: list[ProblemError] = Field(
        min_length=1,
        description="One item per field at fault (at least one), each naming the field.",
    )
    request_id: str | None = Field(
        None,
        description="The request's id, as in the `X-Request-Id` response header: quote it "
        "when reporting a problem; the operator finds the request in the access log by it.",
        examples=["4bf92f3577b34da6a3ce929d0e0e4736"],
    )


def schemas() -> dict[str, Any]:
    """The components: Problem and ProblemError."""
    ref = "#/components/schemas/{model}"
    problem = Problem.model_json_schema(ref_template=ref)
    defs = problem.pop("$defs", {})
    return {**defs, "Problem": problem}


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    instance: str,
    field: str | None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "type": TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "errors": [{"field": field, "message": detail}],
        **extra,
    }


# Description, and the example's (type slug, title, detail, field), per status.
COMMON: dict[int, tuple[str, tuple[str, str, str, str | None]]] = {
    400: (
        "Malformed JSON: the body could not be parsed.",
        (
            "malformed-json",
            "Malformed JSON",
            "the request body is not valid JSON: Invalid JSON: EOF while parsing a value at "
            "line 1 column 18",
            "body",
        ),
    ),
    401: (
        "No credentials, or credentials that are not valid (unknown, revoked or expired).",
        (
            "unauthorized",
            "Unauthorized",
            "the API key is not valid or was revoked",
            "Authorization",
        ),
    ),
    403: (
        "The credentials are valid but may not do this: the key lacks the scope, or a "
        "storefront credential reached a route it does not cover.",
        ("forbidden", "Forbidden", "this API key lacks the `{scope}` scope", "Authorization"),
    ),
    404: (
        "Nothing with this id in this shop.",
        ("not-found", "Not found", "nothing with {name} '{id}' in this shop", "{name}"),
    ),
    409: (
        "The Idempotency-Key was used before for a different request.",
        (
            "idempotency-key-reused",
            "Idempotency key reused",
            "this Idempotency-Key was used for a different redemption",
            "Idempotency-Key",
        ),
    ),
    413: (
        "The body is larger than the server's limit (`PATRON_MAX_BODY_BYTES`).",
        (
            "payload-too-large",
            "Payload too large",
            "the request body is larger than the limit of 4194304 bytes",
            "body",
        ),
    ),
    415: (
        "The body is not JSON: send `Content-Type: application/json`.",
        (
            "unsupported-media-type",
            "Unsupported media type",
            "send the body as JSON with `Content-Type: application/json` (got text/plain)",
            "Content-Type",
        ),
    ),
    422: (
        "Invalid input: `errors` names each field at fault and says why.",
        ("invalid-input", "Invalid input", "{field}: {message}", "{field}"),
    ),
    500: (
        "Something went wrong on the server's side; it was logged and nothing was changed.",
        (
            "internal-error",
            "Internal error",
            "something went wrong on our side; it was logged and nothing was changed",
            None,
        ),
    ),
}


def _parameters(operation: dict[str, Any], where: str) -> list[dict[str, Any]]:
    return [p for p in operation.get("parameters", []) if p.get("in") == where]


def statuses(route: Route, operation: dict[str, Any], access: Access | None) -> set[int]:
    """The error statuses that follow from the route's shape."""
    found = {500}
    if access is not None:
        found |= {401, 403}
    path = _parameters(operation, "path")
    if path and route.name not in CREATES_WHAT_THE_PATH_NAMES:
        found.add(404)
    if operation.get("parameters") or "requestBody" in operation:
        found.add(422)
    if "requestBody" in operation:
        found |= {400, 422}
    if route.methods & {"POST", "PUT", "PATCH", "DELETE"}:
        # Refused before the route runs (patron.kit.limits), whatever the route reads.
        found |= {413, 415}
    if any(p["name"].lower() == "idempotency-key" for p in _parameters(operation, "header")):
        found.add(409)
    return found


def instance(path: str, operation: dict[str, Any]) -> str:
    """The path with each parameter's example in place: the example problems' `instance`."""
    for parameter in _parameters(operation, "path"):
        path = path.replace("{" + parameter["name"] + "}", quote(_example_of(parameter), safe=""))
    return path


def _example_of(parameter: dict[str, Any]) -> str:
    given = parameter.get("example", (parameter.get("schema", {}).get("examples") or [None])[0])
    return str(given if given is not None else parameter["name"])


def example(status: int, path: str, operation: dict[str, Any], access: Access | None) -> Any:
    slug, title, detail, field = COMMON[status][1]
    here = instance(path, operation)
    if status == 404:
        [parameter, *_] = _parameters(operation, "path")
        field = parameter["name"]
        detail = detail.format(name=field, id=_example_of(parameter))
    elif status == 422:
        field, message = _invalid_field(operation)
        detail = detail.format(field=field, message=message)
    elif status == 403:
        detail = detail.format(scope=access.scope if access and access.scope else "members:read")
    return problem(status, slug, title, detail, here, field)


def _invalid_field(operation: dict[str, Any]) -> tuple[str, str]:
    """A field of the operation that a client could get wrong, and the words for it."""
    path = _parameters(operation, "path")
    if path:
        return path[0]["name"], "must not begin or end with whitespace"
    if "requestBody" in operation:
        return "body", "Field required"
    query = operation.get("parameters") or [{"name": "body"}]
    return query[0]["name"], "Input should be a valid value"


def content(samples: list[dict[str, Any]]) -> dict[str, Any]:
    body: dict[str, Any] = {"schema": {"$ref": PROBLEM_REF}}
    if len(samples) == 1:
        body["example"] = samples[0]
    else:
        body["examples"] = {s["title"]: {"summary": s["title"], "value": s} for s in samples}
    return {MEDIA_TYPE: body}


def _fallback(status: int, description: str, here: str) -> dict[str, Any]:
    """An example for a status the route declared without one: its description as detail."""
    title = {409: "Conflict", 404: "Not found", 403: "Forbidden"}.get(status, "Error")
    return problem(status, title.lower().replace(" ", "-"), title, description, here, None)


def document(
    route: Route,
    path: str,
    operation: dict[str, Any],
    access: Access | None,
    specific: dict[str, list[dict[str, Any]]],
) -> None:
    """Every error response of the operation as a problem: the common ones, those the route
    declared (its description wins), and FastAPI's own 422 (replaced). `specific` holds the
    operation's own example problems by status."""
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in statuses(route, operation, access):
        responses.setdefault(str(status), {"description": COMMON[status][0]})
    for code, response in responses.items():
        if not code.isdigit() or int(code) < 400:
            continue
        status = int(code)
        if status == 422 and response.get("description") == "Validation Error":
            response["description"] = COMMON[422][0]
        declared = (response.get("content") or {}).get(MEDIA_TYPE, {})
        if "example" in declared or "examples" in declared:
            response["content"] = {MEDIA_TYPE: {**declared, "schema": {"$ref": PROBLEM_REF}}}
            continue
        samples = specific.get(code)
        if not samples:
            description = response.get("description", "")
            # The common example fits the common cause; a conflict the route describes in its
            # own words is shown in them.
            if status in COMMON and (status != 409 or description == COMMON[409][0]):
                samples = [example(status, path, operation, access)]
            else:
                samples = [_fallback(status, description, instance(path, operation))]
        response["content"] = content(samples)
