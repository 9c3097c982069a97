from typing import Annotated, Any

from fastapi import APIRouter, Depends

from patron.auth.deps import require
from patron.auth.scopes import EVENTS_READ
from patron.auth.service import Principal
from patron.db.session import SessionDep
from patron.events.schemas import EventResult
from patron.events.service import events
from patron.kit.opaque import path_id
from patron.kit.responses import JSONBytes

router = APIRouter(prefix="/events", tags=["events"])


@router.get(
    "/{event_id}",
    response_model=EventResult,
    summary="What an event did",
    description="The stored result of an event, by the id the shop sent: the same body the "
    "first POST returned.",
)
def get_event(
    event_id: Annotated[str, *path_id("The event's id, as the shop sent it.", "evt_1001")],
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(EVENTS_READ))],
) -> Any:
    return JSONBytes(events.get_result(session, tenant_id=principal.tenant_id, event_id=event_id))
