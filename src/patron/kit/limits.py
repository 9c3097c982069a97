"""What a request body may be: JSON, and not larger than the configured limit.

Checked before the application reads the body, so a client sending 20 MB learns it at once and
nothing is parsed: a declared `Content-Length` over the limit is answered 413 without reading;
a body sent without a length (chunked) is counted as it arrives and cut off at the limit. A
body that is not JSON (`Content-Type` other than `application/json` or `application/*+json`)
is answered 415.
"""

from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from patron.kit.responses import ProblemResponse, problem_body

WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_json(content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class BodyLimits:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WITH_BODY:
            await self.app(scope, receive, send)
            return
        length: int | None = None
        content_type = ""
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = int(value) if value.isdigit() else None
            elif name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"transfer-encoding":
                chunked = True
        if length is not None and length > self.max_bytes:
            await self._refuse(scope, receive, send, 413, self._too_large())
            return
        if (length or chunked) and not is_json(content_type):
            shown = content_type.partition(";")[0].strip() or "none"
            detail = f"send the body as JSON with `Content-Type: application/json` (got {shown})"
            await self._refuse(scope, receive, send, 415, (detail, "Content-Type"))
            return
        if length is not None:
            await self.app(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _too_large(self) -> tuple[str, str]:
        return (f"the request body is larger than the limit of {self.max_bytes} bytes", "body")

    def _counting(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise HTTPException(413, self._too_large()[0])
            return message

        return counted

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, status: int, why: tuple[str, str]
    ) -> None:
        detail, field = why
        title = {413: "Payload too large", 415: "Unsupported media type"}[status]
        body: dict[str, Any] = problem_body(status, title, detail, scope["path"], field=field)
        # Closing the connection: the unread body must not be taken for the next request.
        response = ProblemResponse(body, status_code=status, headers={"Connection": "close"})
        await response(scope, receive, send)
