"""One ASGI middleware that times every request once, for the access log and the metrics.

The access log is one JSON object per line on the `patron.access` logger: time, request id,
tenant (when a key or token was accepted), method, route template, status, duration and the
response's size. It never holds what could identify a shopper or open the API: no raw path
(ids of customers are in it), no query string, no header, no body, no key or token. The
route template (`/v1/members/{external_id}`) is also what the metrics are labelled with, so
their number of series stays bounded.

The request id is the client's `X-Request-Id` when it is a sensible one (1 to 128 letters,
digits and `-_.:`), else a new one; it is sent back in the `X-Request-Id` response header and
in every problem body (`request_id`, see patron.kit.responses), so a shop's developer can
quote it to the operator who reads the log.

The middleware is plain ASGI (no BaseHTTPMiddleware, which would run each request in a task
of its own) and the outermost one Patron adds; docs/operations.md gives its cost.
"""

import logging
import os
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from patron.kit.responses import REQUEST_ID
from patron.ops.metrics import Metrics

access = logging.getLogger("patron.access")

_GOOD_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
# Requests no API route served: unknown paths, and the docs pages' static files.
UNMATCHED = "(other)"


def request_id(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            return value if _GOOD_ID.fullmatch(value) else _new_id()
    return _new_id()


def _new_id() -> bytes:
    """128 random bits in hex, as a UUID4's hex would be, at a fifth of its cost."""
    return os.urandom(16).hex().encode()


def route_of(scope: Scope) -> str:
    """The template of the route that served the request. FastAPI keeps a route of an
    included router with its own path (`/members/{external_id}`) and records the full one,
    prefixes included, in its routing context; older versions copied routes with the full
    path, which `route.path` then is."""
    context = (scope.get("fastapi") or {}).get("effective_route_context")
    path = getattr(context, "path", None) or getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else UNMATCHED


class Observe:
    def __init__(self, app: ASGIApp, *, metrics: Metrics, log: bool) -> None:
        self.app = app
        self.metrics = metrics
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id(scope)
        status = 500
        size = 0

        async def sending(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.setdefault("headers", [])
                # A problem response carries the header already (patron.kit.responses).
                if not any(name.lower() == b"x-request-id" for name, _ in headers):
                    message["headers"] = [*headers, (b"x-request-id", rid)]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        # Not reset if the app raises: the 500 is rendered outside this middleware.
        token = REQUEST_ID.set(rid.decode())
        try:
            await self.app(scope, receive, sending)
            REQUEST_ID.reset(token)
        finally:
            seconds = time.perf_counter() - started
            route = route_of(scope)
            self.metrics.request(route, scope["method"], status, seconds)
            if self.log and access.isEnabledFor(logging.INFO):
                line = self._line(scope, rid, route, status, seconds, size)
                # As `access.info(line)` does, less the search of the caller's source line.
                access.handle(access.makeRecord(access.name, logging.INFO, "", 0, line, (), None))

    @staticmethod
    def _line(scope: Scope, rid: bytes, route: str, status: int, seconds: float, size: int) -> str:
        state: dict[str, Any] = scope.get("state") or {}
        tenant = state.get("tenant_id")
        record = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "request_id": rid.decode(),
            "tenant": str(tenant) if tenant is not None else None,
            "method": scope["method"],
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "bytes": size,
        }
        return orjson.dumps(record).decode()


class _Stdout(logging.StreamHandler):
    """Standard output as it is when a record is written (a test runner swaps it)."""

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


class JsonLines(logging.Formatter):
    """The access log's records are JSON already: write the message alone."""

    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage()


def configure_access_log() -> None:
    """Send `patron.access` to standard output, once per process, unless the host
    application configured it already (a handler of its own on the logger)."""
    if access.handlers:
        return
    handler = _Stdout()
    handler.setFormatter(JsonLines())
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False
