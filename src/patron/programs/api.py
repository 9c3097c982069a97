from typing import Annotated

from fastapi import APIRouter, Depends

from patron.auth.deps import ClockDep, SessionDep, require
from patron.auth.scopes import PROGRAM_READ, PROGRAM_WRITE
from patron.auth.service import Principal
from patron.programs.schemas import Program, ProgramDocument
from patron.programs.service import programs

router = APIRouter(prefix="/program", tags=["program"])


@router.get("", response_model=Program, summary="The published program")
def get_program(
    session: SessionDep, principal: Annotated[Principal, Depends(require(PROGRAM_READ))]
) -> Program:
    return programs.get(session, tenant_id=principal.tenant_id, version=principal.program_version)


@router.put("", response_model=Program, summary="Validate and publish a new version")
def publish_program(
    document: ProgramDocument,
    session: SessionDep,
    clock: ClockDep,
    principal: Annotated[Principal, Depends(require(PROGRAM_WRITE))],
) -> Program:
    return programs.publish(
        session, tenant_id=principal.tenant_id, document=document, now=clock.now()
    )
