from typing import Annotated

from fastapi import APIRouter, Depends

from patron.auth.deps import ClockDep, SessionDep, require
from patron.auth.scopes import PROGRAM_READ, PROGRAM_WRITE
from patron.auth.service import Principal
from patron.errors import InvalidInput
from patron.orders import repository as orders
from patron.programs.schemas import Program, ProgramPut
from patron.programs.service import programs

router = APIRouter(prefix="/program", tags=["program"])


@router.get("", response_model=Program, summary="The published program")
def get_program(
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(PROGRAM_READ, storefront="public"))],
) -> Program:
    return programs.get(session, tenant_id=principal.tenant_id, version=principal.program_version)


@router.put("", response_model=Program, summary="Validate and publish a new version")
def publish_program(
    body: ProgramPut,
    session: SessionDep,
    clock: ClockDep,
    principal: Annotated[Principal, Depends(require(PROGRAM_WRITE))],
) -> Program:
    document = body.document()
    used = orders.other_currency(session, principal.tenant_id, document.currency)
    if used is not None:
        raise InvalidInput(
            f"orders were reported in {used}: the program's currency cannot change once "
            "orders exist, because member spend and order totals are counted in it",
            field="currency",
        )
    return programs.publish(
        session,
        tenant_id=principal.tenant_id,
        document=document,
        now=clock.now(),
        starts_from=body.version,
    )
