"""JSON responses rendered with orjson, for bodies built as plain dicts on hot paths (no
second validation pass) and for problem+json."""

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

import orjson
from starlette.background import BackgroundTask
from starlette.responses import Response

# The id of the request being answered, set by the access-log middleware (patron.ops.observe).
# Every problem carries it, in its body and its `X-Request-Id` header, so that whoever reads
# the error can quote it to whoever reads the log. It stays set after an unhandled error
# escapes the middleware: the 500 is rendered outside it, and needs it most.
REQUEST_ID: ContextVar[str | None] = ContextVar("patron_request_id", default=None)


class JSONBytes(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_UTC_Z)


class ProblemResponse(JSONBytes):
    media_type = "application/problem+json"

    def __init__(
        self,
        content: dict[str, Any],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        if (rid := REQUEST_ID.get()) is not None:
            content = {**content, "request_id": rid}
            headers = {**(headers or {}), "X-Request-Id": rid}
        super().__init__(content, status_code, headers, media_type, background)


def problem_body(
    status: int,
    title: str,
    detail: str,
    instance: str,
    *,
    field: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An RFC 9457 problem, shaped like every PatronError's (see patron.errors)."""
    return {
        "type": "https://patron.dev/problems/" + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "errors": [{"field": field, "message": detail}],
        **extra,
    }
