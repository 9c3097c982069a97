"""YAML request bodies, for the routes that take documents people write by hand.

An ASGI middleware reads a YAML body (on the paths it is given), parses it with PyYAML's
safe loader, and hands the application the same document as JSON, so the route validates it
like any JSON body. A YAML syntax error is a 422 problem that names the line and column.
"""

from typing import Any

import orjson
import yaml
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from patron.kit.responses import ProblemResponse, problem_body

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")


def is_yaml(content_type: str) -> bool:
    return content_type.partition(";")[0].strip().lower() in YAML_TYPES


def wants_yaml(accept: str) -> bool:
    """The `Accept` header prefers YAML to JSON (the first listed wins on equal weights)."""
    best: tuple[float, int, str] | None = None
    for i, part in enumerate(accept.split(",")):
        media, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.strip().lower()
        if media in YAML_TYPES or media == "application/json":
            key = (q, -i, media)
            if best is None or key > best:
                best = key
    return best is not None and best[2] in YAML_TYPES and best[0] > 0


class YamlBodies:
    def __init__(self, app: ASGIApp, *, paths: tuple[str, ...], max_bytes: int) -> None:
        self.app = app
        self.paths = paths
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not any(scope["path"] == p for p in self.paths):
            await self.app(scope, receive, send)
            return
        content_type = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"content-type"), ""
        )
        if not is_yaml(content_type):
            await self.app(scope, receive, send)
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if len(raw) > self.max_bytes:
                await self._refuse(
                    scope, receive, send, f"the body is larger than {self.max_bytes} bytes", 413
                )
                return
            if not message.get("more_body"):
                break
        try:
            document: Any = yaml.safe_load(raw.decode("utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            await self._refuse(scope, receive, send, _where(exc))
            return
        body = orjson.dumps(document, default=str)
        headers = [
            (k, v) for k, v in scope["headers"] if k not in (b"content-type", b"content-length")
        ]
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app({**scope, "headers": headers}, replay, send)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, detail: str, status: int = 422
    ) -> None:
        title = "Invalid YAML" if status == 422 else "Payload too large"
        body = problem_body(status, title, detail, scope["path"], field="body")
        await ProblemResponse(body, status_code=status)(scope, receive, send)


def _where(exc: Exception) -> str:
    mark = getattr(exc, "problem_mark", None)
    what = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return (
            f"the body is not valid YAML: {what} at line {mark.line + 1}, column {mark.column + 1}"
        )
    return f"the body is not valid YAML: {what}"
