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


@router.get(
    "",
    response_model=Program,
    summary="The published program",
    description="The program version in force: what customers earn per unit of currency, how "
    "long points stay pending, when they expire, what a refund does to points already spent. "
    "The body can be edited and sent back with PUT: its `version` makes that PUT fail if "
    "another version was published in between. A storefront credential (publishable key, "
    "member token) reads it without `rules` and `custom_events`: conditions, budgets and "
    "campaigns are the merchant's business.",
    responses={409: {"description": "The shop has no published program yet."}},
)
def get_program(
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(PROGRAM_READ, storefront="public"))],
) -> Program:
    program = programs.get(
        session, tenant_id=principal.tenant_id, version=principal.program_version
    )
    return program.for_storefront() if principal.storefront else program


@router.put(
    "",
    response_model=Program,
    summary="Validate and publish a new version",
    description="Validate the document and publish it as the next version. Events from now on "
    "are applied under it; every posting records the version it was made under, and earlier "
    "postings keep theirs. Fields left out take their defaults. Send the `version` a GET "
    "returned to publish only if no one published another version since (else 409). The "
    "currency cannot change once orders were reported (422).",
    responses={
        409: {
            "description": "Another version was published since the `version` this edit "
            "starts from: read the program again and apply the edit to it."
        }
    },
)
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
