from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response
from sqlalchemy.orm import Session

from patron.auth.deps import ClockDep, require
from patron.auth.scopes import MEMBERS_READ, MEMBERS_WRITE
from patron.auth.service import Principal
from patron.db.session import SessionDep
from patron.kit.json_types import NoControl
from patron.kit.opaque import path_id
from patron.kit.pagination import Page, decode_cursor, encode_cursor
from patron.ledger.engine import Terms
from patron.members import schemas
from patron.members.privacy import Holder, privacy
from patron.members.service import members
from patron.orders import privacy as orders_privacy
from patron.programs.schemas import Program
from patron.programs.service import programs
from patron.redemptions import privacy as redemptions_privacy

router = APIRouter(prefix="/members", tags=["members"])

MemberPath = Annotated[str, *path_id("The shop's customer id.", "cust_1042")]
Limit = Annotated[int, Query(ge=1, le=200, description="Items per page.")]


def program_of(session: Session, principal: Principal) -> Program:
    return programs.get(session, tenant_id=principal.tenant_id, version=principal.program_version)


def _currency(session: Session, principal: Principal) -> str | None:
    """Member stats are shown in the program's currency, if the shop has published one."""
    if principal.program_version is None:
        return None
    return program_of(session, principal).currency


@router.put(
    "/{external_id}",
    response_model=schemas.Member,
    summary="Create or update a member",
    description="Enrol a customer under the shop's customer id, or update their details. On "
    "update, fields left out keep their value and null clears them; `enrolled_via` keeps the "
    "first enrolment's. Answers 201 when the member was created, 200 when updated. Customers "
    "also join on their first order (the program's `auto_enroll`) or by a `member.enrolled` "
    "event.",
    responses={
        201: {"description": "Created.", "model": schemas.Member},
        409: {"description": "The member was merged into another, or erased: it changes no more."},
    },
)
def put_member(
    external_id: MemberPath,
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
    return members.describe(
        member, members.balance(session, member), currency=_currency(session, principal)
    )


@router.get(
    "/{external_id}",
    response_model=schemas.Member,
    summary="A member and balances",
    description="The member's details, points (available to spend, pending in the return "
    "window, earned over their lifetime, owed after claw-backs) and order statistics in the "
    "program's currency.",
)
def get_member(
    external_id: MemberPath,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(MEMBERS_READ, storefront="member"))],
) -> schemas.Member:
    member = members.get_by_external_id(
        session, tenant_id=principal.tenant_id, external_id=external_id
    )
    return members.describe(
        member, members.balance(session, member), currency=_currency(session, principal)
    )


@router.get(
    "",
    response_model=Page[schemas.Member],
    summary="List and search members",
    description="The shop's members in the order they joined, a page at a time, each with "
    "balances and statistics. `email` finds members by exact email (any case); `q` by the "
    "start of their customer id or email. Pass a page's `next_cursor` as `cursor` for the "
    "next page.",
)
def list_members(
    session: SessionDep,
    principal: Annotated[Principal, Depends(require(MEMBERS_READ))],
    email: Annotated[
        str | None, Query(max_length=320, description="Exact email, any case."), NoControl
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=255, description="Prefix of the external id or the email."),
        NoControl,
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
        items=[members.describe(m, b, currency=currency) for m, b in page],
        next_cursor=encode_cursor(page[-1][0].id) if len(found) > limit else None,
    )


# -- erasure, export and merges (docs/privacy.md) -------------------------------------------

# The domains above members that hold data about them, in the order they take part.
HOLDERS: tuple[Holder, ...] = (orders_privacy.HOLDER, redemptions_privacy.HOLDER)

_MEMBER_EXAMPLE = {
    "external_id": "cust_1042",
    "email": "ada@example.com",
    "name": "Ada Lovelace",
    "birthday": "1990-12-10",
    "enrolled_via": "checkout",
    "status": "active",
    "merged_into": None,
    "accepts_marketing": False,
    "enrolled_at": "2026-11-22T10:15:00Z",
    "updated_at": "2026-11-22T10:20:00Z",
    "points": {"available": 204, "pending": 0, "lifetime_earned": 84, "debt": 0},
    "stats": {
        "orders_count": 2,
        "total_spent": "112.00",
        "currency": "USD",
        "first_order_at": "2026-11-22T10:15:00Z",
        "last_order_at": "2026-11-22T10:20:00Z",
    },
}


_MERGE_EXAMPLE = {
    "id": "0193a4c2-8b10-7d2e-a1f4-5c6d7e8f9a0c",
    "target": "cust_1042",
    "merged": "cust_2001",
    "moved": {"available": 120, "pending": 40, "debt": 0, "lifetime": 160},
    "orders": 2,
    "transactions": [
        "0193a4c2-8b10-7d2e-a1f4-5c6d7e8f9a0d",
        "0193a4c2-8b10-7d2e-a1f4-5c6d7e8f9a0e",
    ],
    "merged_at": "2026-11-22T10:15:00Z",
    "replayed": False,
    "member": _MEMBER_EXAMPLE,
}


def _json(example: Any) -> dict[str, Any]:
    return {"content": {"application/json": {"example": example}}}


@router.delete(
    "/{external_id}",
    response_model=schemas.Erasure,
    summary="Erase a customer's personal data",
    description="For a customer's request to be forgotten. Removes the member's email, name, "
    "birthday and consent, those of the duplicates merged into it, and the personal data in "
    "their stored events, and replaces the customer id wherever it is stored by an anonymous "
    "one. Points, orders and the ledger's postings stay, exact, tied to the anonymous record; "
    "the member's status becomes `erased`. The customer id is free again: a later event "
    "naming it enrols a new member. Erasing a merged duplicate erases only what is held under "
    "its own id. A customer who never was a member but whose orders or events are stored is "
    "erased too. Patron keeps nothing linking the id to the anonymous record, so erasing "
    "again answers 404: nothing is held under that id. See docs/privacy.md.",
    responses={
        200: _json(
            {
                "external_id": "cust_1042",
                "erased_at": "2026-11-22T10:15:00Z",
                "members": 1,
                "events": 3,
                "orders": 2,
                "texts": 0,
            }
        ),
        404: {"description": "Nothing is held under this customer id (or it was erased)."},
        409: {"description": "The member was merged or erased meanwhile: send it again."},
    },
)
def erase_member(
    external_id: MemberPath,
    session: SessionDep,
    clock: ClockDep,
    principal: Annotated[Principal, Depends(require(MEMBERS_WRITE))],
) -> schemas.Erasure:
    return privacy.erase(
        session,
        tenant_id=principal.tenant_id,
        external_id=external_id,
        holders=HOLDERS,
        now=clock.now(),
    )


@router.get(
    "/{external_id}/export",
    response_model=schemas.MemberExport,
    summary="Everything held about a member, in one document",
    description="For a customer's request to see their data: the member's details and status, "
    "every wallet's balances, order statistics, every order (with what was refunded), every "
    "posting with its entries, every lot, redemption and adjustment, every stored event that "
    "named them (as received), and the merges that folded duplicates into them, whose details "
    "come too. One response: a member's data is bounded (see docs/privacy.md).",
    responses={
        200: _json(
            {
                "format": "patron.member-export.v1",
                "exported_at": "2026-11-22T10:15:00Z",
                "member": _MEMBER_EXAMPLE,
                "merged_members": [],
                "wallets": [
                    {
                        "wallet_id": "0193a4c2-7e1f-7c3a-9f0e-2b8d1c4e5f61",
                        "asset": "points",
                        "available": 204,
                        "pending": 0,
                        "lifetime": 84,
                        "debt": 0,
                    }
                ],
                "orders": [],
                "postings": [],
                "lots": [],
                "redemptions": [],
                "adjustments": [],
                "events": [],
                "merges": [],
            }
        )
    },
)
def export_member(
    external_id: MemberPath,
    session: SessionDep,
    clock: ClockDep,
    principal: Annotated[Principal, Depends(require(MEMBERS_READ))],
) -> Any:
    return privacy.export(
        session,
        tenant_id=principal.tenant_id,
        external_id=external_id,
        holders=HOLDERS,
        currency=_currency(session, principal),
        now=clock.now(),
    )


@router.post(
    "/{external_id}/merge",
    response_model=schemas.Merge,
    status_code=201,
    summary="Fold a duplicate member into this one (idempotent on the Idempotency-Key header)",
    description="When one customer has two accounts: the duplicate named by `from` is folded "
    "into the member of the path. Its points move by a ledger transfer, lot by lot, keeping "
    "each lot's expiry and pending state (debt moves too); its orders and order statistics "
    "become the member's; it is marked `merged`, and its later events (a refund of one of its "
    "orders included) reach the member. Send an `Idempotency-Key` header unique to this merge: "
    "a retry with the same key returns the first merge (200, `replayed: true`).",
    responses={
        201: _json(_MERGE_EXAMPLE),
        200: {
            "description": "A replay of an earlier Idempotency-Key.",
            "model": schemas.Merge,
            **_json({**_MERGE_EXAMPLE, "replayed": True}),
        },
        409: {
            "description": "The duplicate (or the member) was merged already, or erased; the "
            "Idempotency-Key was used for a different merge; or an order of the duplicate is "
            "being refunded right now."
        },
        422: {"description": "A member merged into itself, or a malformed body."},
    },
    openapi_extra={
        "requestBody": {"content": {"application/json": {"example": {"from": "cust_2001"}}}}
    },
)
def merge_member(
    external_id: MemberPath,
    data: schemas.MergeCreate,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
    principal: Annotated[Principal, Depends(require(MEMBERS_WRITE))],
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=255)],
) -> schemas.Merge:
    terms = (
        program_of(session, principal).terms
        if principal.program_version is not None
        else Terms(None, "forbid", None)
    )
    result = privacy.merge(
        session,
        tenant_id=principal.tenant_id,
        target=external_id,
        data=data,
        idempotency_key=idempotency_key,
        holders=HOLDERS,
        terms=terms,
        currency=_currency(session, principal),
        now=clock.now(),
    )
    if result.replayed:
        response.status_code = 200
    return result
