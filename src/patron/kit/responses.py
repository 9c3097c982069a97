"""JSON responses rendered with orjson, for bodies built as plain dicts on hot paths (no
second validation pass) and for problem+json."""

from typing import Any

import orjson
from starlette.responses import Response


class JSONBytes(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_UTC_Z)


class ProblemResponse(JSONBytes):
    media_type = "application/problem+json"


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
