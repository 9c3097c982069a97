"""The error base class and its rendering as RFC 9457 problem+json.

Every error a client can cause is a PatronError with an HTTP status; handlers render them as
`application/problem+json`. `errors` carries field-level detail: each item names the field
with a dotted path (`events.3.data.total`), a header (`Authorization`, `Idempotency-Key`) or a
parameter as the client sent it. Every problem has at least one item; its `field` is null
only when the problem is about no one field (a program not published yet).
"""

from typing import Any


class PatronError(Exception):
    status_code = 400
    title = "Bad request"
    type_slug = "bad-request"
    # What the problem is about when the raiser names no field.
    default_field: str | None = None

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or [{"field": field or self.default_field, "message": detail}]
        self.extra = extra

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://patron.dev/problems/{self.type_slug}",
            "title": self.title,
            "status": self.status_code,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body["errors"] = self.errors
        body.update(self.extra)
        return body


class InvalidInput(PatronError):
    """Well-formed JSON whose content breaks a rule that needs the database to see."""

    status_code = 422
    title = "Invalid input"
    type_slug = "invalid-input"


class NotFound(PatronError):
    status_code = 404
    title = "Not found"
    type_slug = "not-found"


class Conflict(PatronError):
    status_code = 409
    title = "Conflict"
    type_slug = "conflict"


class Unauthorized(PatronError):
    status_code = 401
    title = "Unauthorized"
    type_slug = "unauthorized"
    default_field = "Authorization"


class Forbidden(PatronError):
    status_code = 403
    title = "Forbidden"
    type_slug = "forbidden"
    default_field = "Authorization"
