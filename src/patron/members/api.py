from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from patron.auth.deps import ClockDep, require
from patron.auth.scopes import MEMBERS_READ, MEMBERS_WRITE
from patron.auth.service import Principal
from patron.db.session import SessionDep
from patron.kit.opaque import path_id
from patron.kit.pagination import Page, decode_cursor, encode_cursor
from patron.members import schemas
from patron.members.service import members
from patron.programs.schemas import Program
from patron.programs.service import programs

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
    responses={201: {"description": "Created.", "model": schemas.Member}},
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
        items=[members.describe(m, b, currency=currency) for m, b in page],
        next_cursor=encode_cursor(page[-1][0].id) if len(found) > limit else None,
    )
