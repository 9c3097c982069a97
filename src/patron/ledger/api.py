"""A member's points history and support adjustments. The routes are addressed by member, so
this is the one ledger module that names the members domain: it resolves the member (whose
points wallet has the member's id) and checks it may transact, then calls the ledger."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from patron.auth.deps import ClockDep, require
from patron.auth.scopes import MEMBERS_READ, POINTS_WRITE
from patron.auth.service import Principal
from patron.db.session import SessionDep
from patron.kit.pagination import Page, decode_cursor, encode_cursor
from patron.ledger.assets import Kind
from patron.ledger.schemas import Adjustment, AdjustmentCreate, Transaction, posting_view
from patron.ledger.service import ledger
from patron.members.api import Limit, MemberPath
from patron.members.errors import MemberSuspended
from patron.members.schemas import MemberStatus
from patron.members.service import members
from patron.programs.service import programs

router = APIRouter(prefix="/members", tags=["members"])

KINDS = "^(" + "|".join(k.value for k in Kind) + ")$"


@router.get(
    "/{external_id}/transactions",
    response_model=Page[Transaction],
    summary="The member's points history, newest first",
    description="Every posting on the member's points wallet, newest first: points earned on "
    "orders, vested after the return window, taken back on refunds, written off, adjusted by "
    "hand, redeemed and expired. Each says why, under which program version, how its amount "
    "was computed, and lists its double-entry lines. Filter with `kind`; pass a page's "
    "`next_cursor` as `cursor` for the next page.",
)
def list_transactions(
    external_id: MemberPath,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(MEMBERS_READ, storefront="member"))],
    kind: Annotated[str | None, Query(pattern=KINDS, description="Only this kind.")] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
) -> Any:
    member = members.get_by_external_id(
        session, tenant_id=principal.tenant_id, external_id=external_id
    )
    rows = ledger.history(
        session,
        tenant_id=principal.tenant_id,
        wallet_id=member.id,
        before=decode_cursor(cursor),
        limit=limit + 1,
        kind=kind,
    )
    page = rows[:limit]
    next_cursor = encode_cursor(uuid.UUID(page[-1]["id"])) if len(rows) > limit else None
    return {"items": page, "next_cursor": next_cursor}


@router.post(
    "/{external_id}/adjustments",
    response_model=Adjustment,
    status_code=201,
    summary="Add or remove points by hand, with a reason",
    description="A support agent's correction: a positive `points` adds available points "
    "(they expire as earned points do), a negative one removes them. The `reason` is shown in "
    "the member's history. Under the `forbid` policy, removing more than the member has "
    "available is refused; under `debt`, the balance may go below zero.",
    responses={
        409: {
            "description": "Removing more points than are available under the `forbid` "
            "policy; the member is suspended, merged or erased; or the shop has no published "
            "program yet."
        }
    },
)
def post_adjustment(
    external_id: MemberPath,
    data: AdjustmentCreate,
    session: SessionDep,
    clock: ClockDep,
    principal: Annotated[Principal, Depends(require(POINTS_WRITE))],
) -> Any:
    program = programs.get(
        session, tenant_id=principal.tenant_id, version=principal.program_version
    )
    member = members.get_by_external_id(
        session, tenant_id=principal.tenant_id, external_id=external_id, lock=True
    )
    if member.status != MemberStatus.ACTIVE:
        raise MemberSuspended(member.external_id)
    posting, book = ledger.adjust(
        session,
        tenant_id=principal.tenant_id,
        wallet_id=member.id,
        amount=data.points,
        reason=data.reason,
        terms=program.terms,
        now=clock.now(),
    )
    return {
        "transaction": posting_view(posting),
        "available": max(book.available, 0),
        "debt": max(-book.available, 0),
    }
