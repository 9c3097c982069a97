"""`POST /v1/events` and `/v1/events/batch`: every event type the registry knows.

The body is read as bytes and validated (`validate_json`, one pass from bytes to models)
inside the unit of work, after the key was checked: a client with a bad key learns nothing
about its payload, and the request costs one hop to the thread pool and no separate
connection for authentication. Validation errors are raised as FastAPI's own, so they render
like every other 422.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

import patron.handlers  # noqa: F401  (registers the built-in handlers)
from patron.auth.deps import ClockDep, authenticate
from patron.auth.scopes import EVENTS_WRITE
from patron.db.session import Database, Retry, get_database
from patron.errors import PatronError
from patron.events.errors import EventInFlight
from patron.events.schemas import BatchResult, EventBase, EventPreview, EventResult
from patron.ingest.pipeline import pipeline
from patron.ingest.registry import registry
from patron.kit.responses import JSONBytes
from patron.openapi.security import key_required
from patron.programs.service import programs

router = APIRouter(prefix="/events", tags=["events"])

# The event types registered when the API is built: a discriminated union, so a bad event is
# reported under the fields of its own type.
EventIn = registry.union()


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(  # type: ignore[valid-type]
        min_length=1,
        max_length=1000,
        description="1 to 1,000 events, of any types, applied in order, all or nothing.",
    )


_ONE: TypeAdapter[Any] = registry.adapter()


def body_schemas() -> dict[str, Any]:
    """JSON schemas of the request bodies, for the OpenAPI document."""
    ref = "#/components/schemas/{model}"
    return {
        "EventIn": _ONE.json_schema(ref_template=ref),
        "EventBatch": EventBatch.model_json_schema(ref_template=ref),
    }


def _body(name: str) -> dict[str, Any]:
    """The OpenAPI of a route that reads its body itself: the body's schema and the key's
    scope (it authenticates inside its unit of work, not through a dependency)."""
    return {
        **key_required(EVENTS_WRITE),
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
        },
    }


def _parse(raw: bytes, batch: bool) -> list[EventBase]:
    try:
        if batch:
            return list(EventBatch.model_validate_json(raw).events)
        return [_ONE.validate_json(raw)]
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None


def _ingest(
    db: Database, request: Request, raw: bytes, now: datetime, batch: bool
) -> list[dict[str, Any]]:
    """Authenticate, validate and ingest in one unit of work. The first attempt is optimistic
    (it does not look for stored events first); it is run again, reading them first, if it
    met a replay, an error, or a concurrent request storing the same event (see the
    pipeline)."""
    attempts = 0

    def work(session: Session) -> list[dict[str, Any]]:
        nonlocal attempts
        attempts += 1
        principal = authenticate(request, session, EVENTS_WRITE)
        events = _parse(raw, batch)
        program = programs.get(
            session, tenant_id=principal.tenant_id, version=principal.program_version
        )
        return pipeline.ingest(
            session,
            tenant_id=principal.tenant_id,
            program=program,
            events=events,
            now=now,
            field_prefix="events.{i}." if batch else "",
            claim=attempts > 1,
        )

    try:
        return db.run(work)
    except Retry:
        raise EventInFlight(
            "another request kept storing events of this batch while it was applied; "
            "send it again: events already stored will be replayed, not applied twice"
        ) from None


async def _counted(request: Request, raw: bytes, now: datetime, batch: bool) -> list[Any]:
    """`_ingest` in the thread pool, its events counted in the metrics (patron.ops) from the
    results it built, or, if an authenticated request was refused, from its body."""
    metrics = request.app.state.metrics
    try:
        results = await run_in_threadpool(_ingest, get_database(request), request, raw, now, batch)
    except (PatronError, RequestValidationError):
        if getattr(request.state, "tenant_id", None) is not None:
            metrics.rejected(raw, batch=batch, known=registry.event_types())
        raise
    metrics.ingested(results)
    return results


@router.post(
    "",
    response_model=EventResult,
    status_code=201,
    summary="Send one event",
    description="Report one thing a customer did: `order.placed`, `order.refunded`, "
    "`order.cancelled` or `member.enrolled` (`type` decides the shape of `data`). It is "
    "applied at once, and the result says what it did and why: the points, the postings on "
    "the ledger, whether the customer was enrolled. An `order.placed` enrols an unknown "
    "customer if the program's `auto_enroll` is on. The event's `id` makes sending it again "
    "safe: the same event returns its first result (200, `duplicate: true`) and changes "
    "nothing; the same id with other content is refused (409).",
    responses={
        200: {"description": "A replay: the event was received before.", "model": EventResult},
        409: {
            "description": "The event's id was sent before with other content; its order was "
            "already reported by another event; or the shop has no published program yet."
        },
    },
    openapi_extra=_body("EventIn"),
)
async def post_event(request: Request, clock: ClockDep) -> Any:
    raw = await request.body()
    [result] = await _counted(request, raw, clock.now(), False)
    # Returned as is: it was built to the schema, validating it again would cost the hot path.
    return JSONBytes(result, status_code=200 if result["duplicate"] else 201)


@router.post(
    "/batch",
    response_model=BatchResult,
    summary="Send up to 1,000 events",
    description="All or nothing: if any event is invalid, none is stored and the "
    "error names it (`events.3.data.total`). Results come in the order sent, one per event, "
    "as `POST /v1/events` would give them; events sent before are replayed "
    "(`duplicate: true`), not applied twice.",
    responses={
        409: {
            "description": "An event's id was sent before (or appears twice in the batch) with "
            "other content; an order was already reported by another event; or the shop has "
            "no published program yet."
        },
    },
    openapi_extra=_body("EventBatch"),
)
async def post_batch(request: Request, clock: ClockDep) -> Any:
    raw = await request.body()
    results = await _counted(request, raw, clock.now(), True)
    return JSONBytes({"results": results})


class _Preview(Exception):
    """Raised out of a preview's unit of work so that everything it did is rolled back."""

    def __init__(self, result: dict[str, Any], version: int) -> None:
        self.result = result
        self.version = version


def _preview(
    db: Database, request: Request, raw: bytes, now: datetime, against: str
) -> dict[str, Any]:
    """The event through the real pipeline, under the live program or the draft, in a unit of
    work that is always rolled back."""

    def work(session: Session) -> None:
        principal = authenticate(request, session, EVENTS_WRITE)
        [event] = _parse(raw, False)
        if against == "draft":
            program = programs.draft_program(session, tenant_id=principal.tenant_id, now=now)
        else:
            program = programs.get(
                session, tenant_id=principal.tenant_id, version=principal.program_version
            )
        [result] = pipeline.ingest(
            session,
            tenant_id=principal.tenant_id,
            program=program,
            events=[event],
            now=now,
            field_prefix="",
        )
        raise _Preview(result, program.version)

    try:
        db.run(work)
    except _Preview as done:
        return {**done.result, "preview": True, "program_version": done.version}
    raise AssertionError("a preview always rolls back")


@router.post(
    "/preview",
    response_model=EventPreview,
    summary="Preview one event",
    description="What one event would do, under the published program or the draft: the "
    "points, the postings and the explanation `POST /v1/events` would return, computed by "
    "the same code against the shop's real members and orders, and then rolled back. Nothing "
    "is stored: the event can be sent for real afterwards. An invalid event gets the same "
    "422 as sending it.",
    responses={
        404: {"description": "`program=draft` and the shop has no draft."},
        409: {
            "description": "The shop has no published program yet, or the event's id was "
            "sent before with other content."
        },
    },
    openapi_extra=_body("EventIn"),
)
async def preview_event(
    request: Request,
    clock: ClockDep,
    program: Annotated[
        Literal["live", "draft"],
        Query(
            description="Run it under the published program (`live`) or the draft.",
            examples=["draft"],
        ),
    ] = "live",
) -> Any:
    raw = await request.body()
    result = await run_in_threadpool(
        _preview, get_database(request), request, raw, clock.now(), program
    )
    return JSONBytes(result)
