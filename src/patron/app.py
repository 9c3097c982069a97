"""create_app(): the API process. Stateless: any number of them can share one database."""

import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from patron import __version__
from patron.api import router
from patron.auth.service import KEY_HEADER
from patron.config import Settings, get_settings
from patron.db.session import Database
from patron.engagement.tasks import birthdays
from patron.errors import PatronError
from patron.ingest.registry import registry
from patron.kit.clock import Clock, SystemClock
from patron.kit.cors import Cors
from patron.kit.limits import BodyLimits
from patron.kit.opaque import KeepEncodedSlashes
from patron.kit.responses import REQUEST_ID, ProblemResponse, problem_body
from patron.kit.yaml_bodies import YamlBodies
from patron.ledger.tasks import run_periodically
from patron.openapi import install_openapi
from patron.ops.api import pool_reader
from patron.ops.api import router as ops_router
from patron.ops.metrics import Metrics
from patron.ops.observe import Observe, configure_access_log, route_of
from patron.programs.service import programs

log = logging.getLogger("patron")


def problem(
    status: int, title: str, detail: str, request: Request, **extra: Any
) -> ProblemResponse:
    body = {**problem_body(status, title, detail, request.url.path), **extra}
    return ProblemResponse(body, status_code=status)


def _field(error: dict[str, Any]) -> str:
    """A pydantic location as a dotted field name: no `body` prefix, no union tags, and no
    `query`/`header`/`path` prefix either, so a parameter is named as the client sends it
    (`limit`, `Idempotency-Key`), the same way PatronErrors name it. A model's own check on
    one of its fields says which in its context (`at`)."""
    loc = tuple(error.get("loc", ()))
    if loc and loc[0] in ("body", "query", "header", "path", "cookie"):
        loc = loc[1:]
    tags = registry.event_types()
    # A union's tag (the event type) follows the body's root or a batch's index, and fields
    # of that type follow it; elsewhere a name equal to an event type (`birthday`) is a field.
    parts = [
        str(p)
        for i, p in enumerate(loc)
        if not (
            p in tags
            and i < len(loc) - 1
            and (i == 0 or (i >= 2 and loc[i - 2] == "events" and isinstance(loc[i - 1], int)))
        )
    ]
    if error.get("type") in ("union_tag_invalid", "union_tag_not_found"):
        parts.append("type")
    at = (error.get("ctx") or {}).get("at")
    if at:
        parts.extend(str(at).split("."))
    return ".".join(parts) or "body"


def _allowed(request: Request) -> str:
    """Every method some route serves on this path (Starlette names only the first route's)."""
    allowed = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(r.matches(scope)[0] == Match.FULL for r in request.app.routes):
            allowed.append(method)
    return ", ".join(allowed)


def _about(field: str | None, message: str) -> list[dict[str, Any]]:
    return [{"field": field, "message": message}]


def _message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PatronError)
    async def _patron(request: Request, exc: PatronError) -> ProblemResponse:
        return ProblemResponse(exc.to_problem(request.url.path), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> ProblemResponse:
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            message = _message(errors[0])
            if "recursion limit" in message:
                message = "nested too deeply"
            return problem(
                400,
                "Malformed JSON",
                f"the request body is not valid JSON: {message}",
                request,
                errors=[{"field": "body", "message": message}],
            )
        fields = [{"field": _field(e), "message": _message(e)} for e in errors]
        detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
        return problem(422, "Invalid input", detail, request, errors=fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> ProblemResponse:
        status = exc.status_code
        if status == 404:
            detail = f"no route {request.url.path}: see /docs for the API's routes"
            response = problem(404, "Not found", detail, request, errors=_about("path", detail))
        elif status == 405:
            allowed = _allowed(request)
            exc.headers = {**(exc.headers or {}), "Allow": allowed}
            detail = f"{request.method} is not allowed on {request.url.path}; allowed: {allowed}"
            response = problem(
                405, "Method not allowed", detail, request, errors=_about("method", detail)
            )
        else:
            detail = str(exc.detail)
            title = {413: "Payload too large"}.get(status, "Error")
            field = "body" if status == 413 else None
            response = problem(status, title, detail, request, errors=_about(field, detail))
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> ProblemResponse:
        # The route's template, not the path: paths hold customer ids. The request id ties
        # this to the access-log line and to the answer the client got.
        log.exception(
            "unhandled error on %s %s (request %s)",
            request.method,
            route_of(request.scope),
            REQUEST_ID.get(),
        )
        detail = "something went wrong on our side; it was logged and nothing was changed"
        return problem(500, "Internal error", detail, request, errors=_about(None, detail))


# Allocations between collections of the youngest generation (CPython's default: 700).
GC_THRESHOLD = 100_000


def tune_garbage_collector() -> None:
    """Collect cyclic garbage less often. Ingesting a batch allocates a few hundred thousand
    short-lived objects; with the default threshold the collector ran often enough to cost
    about a fifth of a batch's time (measured in-process: 481 against 386 ms per batch of
    1,000). What was loaded at start-up (modules, the app) is frozen out of every
    collection. Nothing in Patron relies on cycles being freed promptly: its request objects
    are freed by reference counting."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 50, 100)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    database: Database | None = None,
    run_jobs: bool | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    db = database or Database(settings.database_url, pool_size=settings.pool_size)
    interval = settings.jobs_interval if run_jobs is not False else 0

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tune_garbage_collector()
        stop = threading.Event()
        scheduler = None
        if interval > 0:
            scheduler = threading.Thread(
                target=run_periodically,
                args=(db, app.state.clock, interval, stop, programs.terms_for, metrics.settled),
                kwargs={"also": lambda db, now: birthdays(db, now=now)},
                name="patron-jobs",
                daemon=True,
            )
            scheduler.start()
        yield
        stop.set()
        if scheduler is not None:
            scheduler.join(timeout=10)
        if database is None:
            db.dispose()

    app = FastAPI(
        title="Patron",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc: patron.openapi, from files in the package
        redoc_url=None,
        # Operation ids are the endpoint functions' names (`get_member`), which generated
        # clients use as method names; they are unique across the API.
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.db = db
    app.state.clock = clock or SystemClock()
    metrics = app.state.metrics = Metrics(pool_reader(db))
    install_error_handlers(app)
    app.add_middleware(BodyLimits, max_bytes=settings.max_body_bytes)
    # Outside BodyLimits: a YAML program reaches it (and the route) as JSON.
    app.add_middleware(
        YamlBodies, paths=("/v1/program", "/v1/program/"), max_bytes=settings.max_body_bytes
    )
    app.add_middleware(KeepEncodedSlashes)
    if origins := settings.cors_origin_list():  # the storefront's pages (docs/storefront.md)
        app.add_middleware(
            Cors,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", KEY_HEADER, "Idempotency-Key"],
        )
    if settings.access_log:
        configure_access_log()
    # Outermost: it times and logs every request, refusals by the middleware above included.
    app.add_middleware(Observe, metrics=metrics, log=settings.access_log)
    app.state.settings = settings
    app.include_router(router)
    app.include_router(ops_router)

    @app.get("/", include_in_schema=False)
    def _root() -> RedirectResponse:
        return RedirectResponse("/docs")

    install_openapi(app)
    return app
