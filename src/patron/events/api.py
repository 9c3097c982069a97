from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path

from patron.auth.deps import ClockDep, SessionDep, require
from patron.auth.scopes import EVENTS_READ, EVENTS_WRITE
from patron.auth.service import Principal
from patron.events.schemas import BatchResult, EventBatch, EventIn, EventResult
from patron.events.service import events
from patron.kit.responses import JSONBytes
from patron.programs.service import programs

router = APIRouter(prefix="/events", tags=["events"])


@router.post(
    "",
    response_model=EventResult,
    status_code=201,
    summary="Send one event",
    responses={
        200: {"description": "A replay: the event was received before.", "model": EventResult}
    },
)
def post_event(
    event: Annotated[EventIn, Body()],
    session: SessionDep,
    clock: ClockDep,
    principal: Annotated[Principal, Depends(require(EVENTS_WRITE))],
) -> Any:
    program = programs.get(
        session, tenant_id=principal.tenant_id, version=principal.program_version
    )
    [result] = events.ingest(
        session,
        tenant_id=principal.tenant_id,
        program=program,
        events=[event],
        now=clock.now(),
        field_prefix="",
    )
    # Returned as is: it was built to the schema, validating it again would cost the hot path.
    return JSONBytes(result, status_code=200 if result["duplicate"] else 201)


@router.post(
    "/batch",
    response_model=BatchResult,
    summary="Send up to 1,000 events",
    description="All or nothing: if any event is invalid, none is stored and the "
    "error names it (`events.3.data.total`). Results come in the order sent.",
)
def post_batch(
    batch: EventBatch,
    session: SessionDep,
    clock: ClockDep,
    principal: Annotated[Principal, Depends(require(EVENTS_WRITE))],
) -> Any:
    program = programs.get(
        session, tenant_id=principal.tenant_id, version=principal.program_version
    )
    results = events.ingest(
        session,
        tenant_id=principal.tenant_id,
        program=program,
        events=batch.events,
        now=clock.now(),
    )
    return JSONBytes({"results": results})


@router.get(
    "/{event_id}",
    response_model=EventResult,
    summary="What an event did",
    description="The stored result of an event, by the id the shop sent: the same body the "
    "first POST returned.",
)
def get_event(
    event_id: Annotated[str, Path(min_length=1, max_length=255)],
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(EVENTS_READ))],
) -> Any:
    return JSONBytes(events.get_result(session, tenant_id=principal.tenant_id, event_id=event_id))
