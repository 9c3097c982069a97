import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from sqlalchemy.orm import Session

from patron.auth.deps import ClockDep, SessionDep, require
from patron.auth.scopes import MEMBERS_READ, MEMBERS_WRITE, POINTS_WRITE
from patron.auth.service import Principal
from patron.kit.pagination import Page, decode_cursor, encode_cursor
from patron.ledger.schemas import Adjustment, AdjustmentCreate, Transaction
from patron.ledger.service import ledger, posting_out
from patron.members import schemas
from patron.members.service import members
from patron.programs.schemas import Program
from patron.programs.service import programs
from patron.redemptions.schemas import Redemption, RedemptionCreate
from patron.redemptions.service import redemptions

router = APIRouter(prefix="/members", tags=["members"])

ExternalId = Annotated[
    str, Path(min_length=1, max_length=255, description="The shop's customer id.")
]
Limit = Annotated[int, Query(ge=1, le=200, description="Items per page.")]


def _program(session: Session, principal: Principal) -> Program:
    return programs.get(session, tenant_id=principal.tenant_id, version=principal.program_version)


def _currency(session: Session, principal: Principal) -> str | None:
    """Member stats are shown in the program's currency, if the shop has published one."""
    if principal.program_version is None:
        return None
    return _program(session, principal).currency


@router.put(
    "/{external_id}",
    response_model=schemas.Member,
    summary="Create or update a member",
    responses={201: {"description": "Created.", "model": schemas.Member}},
)
def put_member(
    external_id: ExternalId,
    data: schemas.MemberUpsert,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
    principal: Annotated[Principal, Depends(require(MEMBERS_WRITE))],
) -> schemas.Member:
    member, created = members.upsert(
        session, tenant_id=principal.tenant_id, external_id=external_id, data=data, now=clock.now()
    )
    response.status_code = 201 if created else 200
    session.flush()
    return members.describe(member, currency=_currency(session, principal))


@router.get("/{external_id}", response_model=schemas.Member, summary="A member and balances")
def get_member(
    external_id: ExternalId,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(MEMBERS_READ))],
) -> schemas.Member:
    member = members.get_by_external_id(
        session, tenant_id=principal.tenant_id, external_id=external_id
    )
    return members.describe(member, currency=_currency(session, principal))


@router.get("", response_model=Page[schemas.Member], summary="List and search members")
def list_members(
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(MEMBERS_READ))],
    email: Annotated[
        str | None, Query(max_length=320, description="Exact email, any case.")
    ] = None,
    q: Annotated[
        str | None, Query(max_length=255, description="Prefix of the external id or the email.")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
) -> Page[schemas.Member]:
    found = members.search(
        session,
        tenant_id=principal.tenant_id,
        email=email,
        q=q,
        after=decode_cursor(cursor),
        limit=limit + 1,
    )
    currency = _currency(session, principal)
    page = found[:limit]
    return Page(
        items=[members.describe(m, currency=currency) for m in page],
        next_cursor=encode_cursor(page[-1].id) if len(found) > limit else None,
    )


@router.get(
    "/{external_id}/transactions",
    response_model=Page[Transaction],
    summary="The member's points history, newest first",
)
def list_transactions(
    external_id: ExternalId,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(MEMBERS_READ))],
    kind: Annotated[
        str | None, Query(pattern="^(earn|vest|claw_back|write_off|adjust|redeem|expire)$")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
) -> Any:
    member = members.get_by_external_id(
        session, tenant_id=principal.tenant_id, external_id=external_id
    )
    rows = ledger.history(
        session,
        tenant_id=principal.tenant_id,
        member_id=member.id,
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
)
def post_adjustment(
    external_id: ExternalId,
    data: AdjustmentCreate,
    session: SessionDep,
    clock: ClockDep,
    principal: Annotated[Principal, Depends(require(POINTS_WRITE))],
) -> Any:
    program = _program(session, principal)
    member = members.get_by_external_id(
        session, tenant_id=principal.tenant_id, external_id=external_id, lock=True
    )
    posting, book = ledger.adjust(
        session,
        tenant_id=principal.tenant_id,
        member=member,
        program=program,
        points=data.points,
        reason=data.reason,
        now=clock.now(),
    )
    return {
        "transaction": posting_out(posting),
        "available": max(book.available, 0),
        "debt": max(-book.available, 0),
    }


@router.post(
    "/{external_id}/redemptions",
    response_model=Redemption,
    status_code=201,
    summary="Spend points (idempotent on the Idempotency-Key header)",
    responses={
        200: {"description": "A replay of an earlier Idempotency-Key.", "model": Redemption}
    },
)
def post_redemption(
    external_id: ExternalId,
    data: RedemptionCreate,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
    principal: Annotated[Principal, Depends(require(POINTS_WRITE))],
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=255)],
) -> Redemption:
    program = _program(session, principal)
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
