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
