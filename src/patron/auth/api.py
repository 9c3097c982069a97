"""`POST /v1/members/{external_id}/tokens`: a member token signed by Patron for the shop's
backend, the same token the backend could sign itself (see patron.auth.tokens)."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request

from patron.auth.deps import ClockDep, app_settings, require
from patron.auth.schemas import MemberToken, MemberTokenCreate
from patron.auth.scopes import MEMBERS_READ
from patron.auth.service import Principal, auth
from patron.auth.tokens import key_prefix
from patron.db.session import SessionDep
from patron.members.api import MemberPath

router = APIRouter(prefix="/members", tags=["storefront"])


@router.post(
    "/{external_id}/tokens",
    response_model=MemberToken,
    status_code=201,
    summary="Sign a member token for the storefront",
    description="For the shop's backend, with a secret key: a short-lived token that lets "
    "the storefront read this customer's balance and history and redeem their points, "
    "without the secret key reaching the browser. The member need not exist yet. The token "
    "can do no more than the key that signed it (`members:read`, `points:write`), and stops "
    "working when that key is revoked. A backend with a JWT library can sign the same token "
    "itself; see docs/storefront.md.",
)
def create_member_token(
    external_id: MemberPath,
    session: SessionDep,
    clock: ClockDep,
    request: Request,
    principal: Annotated[Principal, Depends(require(MEMBERS_READ))],
    data: Annotated[MemberTokenCreate | None, Body()] = None,
) -> MemberToken:
    data = data or MemberTokenCreate()
    token, expires_at = auth.sign_member_token(
        session,
        principal=principal,
        external_id=external_id,
        now=clock.now(),
        expires_in=timedelta(seconds=data.expires_in),
        max_age=timedelta(seconds=app_settings(request).member_token_max_age),
    )
    return MemberToken(
        token=token, external_id=external_id, expires_at=expires_at, key=key_prefix(token)
    )
