from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response

from patron.auth.deps import ClockDep, require
from patron.auth.scopes import POINTS_WRITE
from patron.auth.service import Principal
from patron.db.session import SessionDep
from patron.members.api import MemberPath
from patron.members.service import members
from patron.programs.service import programs
from patron.redemptions.schemas import Redemption, RedemptionCreate
from patron.redemptions.service import redemptions

router = APIRouter(prefix="/members", tags=["members"])


@router.post(
    "/{external_id}/redemptions",
    response_model=Redemption,
    status_code=201,
    summary="Spend points (idempotent on the Idempotency-Key header)",
    description="Spend a member's available points, at checkout: the points leave the wallet "
    "at once, from the lots that expire soonest, and the answer says what is left. Send an "
    "`Idempotency-Key` header unique to this redemption: a retry with the same key and body "
    "returns the first redemption (200, `replayed: true`) and spends nothing again.",
    responses={
        200: {"description": "A replay of an earlier Idempotency-Key.", "model": Redemption},
        409: {
            "description": "Not enough available points; the Idempotency-Key was used for a "
            "different redemption; the member is suspended, merged or erased; or the shop has "
            "no published program yet."
        },
    },
)
def post_redemption(
    external_id: MemberPath,
    data: RedemptionCreate,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
    principal: Annotated[Principal, Depends(require(POINTS_WRITE, storefront="member"))],
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=255)],
) -> Redemption:
    program = programs.get(
        session, tenant_id=principal.tenant_id, version=principal.program_version
    )
    member = members.get_by_external_id(
        session, tenant_id=principal.tenant_id, external_id=external_id, lock=True
    )
    result = redemptions.redeem(
        session,
        member=member,
        program=program,
        data=data,
        idempotency_key=idempotency_key,
        now=clock.now(),
    )
    if result.replayed:
        response.status_code = 200
    return result
