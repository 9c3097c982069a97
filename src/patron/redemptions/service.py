"""Spending points, once per Idempotency-Key, never beyond the available balance.

The member's row is locked first (FOR UPDATE on PostgreSQL, the write lock on SQLite), so
concurrent redemptions of one balance run one after another and none can overdraw it.
"""

import hashlib
from datetime import datetime

import orjson
from sqlalchemy.orm import Session

from patron.errors import InvalidInput
from patron.kit.ids import uuid7
from patron.ledger import engine
from patron.ledger.service import ledger
from patron.members.errors import MemberSuspended
from patron.members.models import Member
from patron.members.schemas import MemberStatus
from patron.members.service import members
from patron.programs.schemas import Program
from patron.redemptions import repository, schemas
from patron.redemptions.errors import IdempotencyKeyReused
from patron.redemptions.models import Redemption


class RedemptionService:
    def redeem(
        self,
        session: Session,
        *,
        member: Member,
        program: Program,
        data: schemas.RedemptionCreate,
        idempotency_key: str,
        now: datetime,
    ) -> schemas.Redemption:
        """`member` must be locked by the caller."""
        if not idempotency_key or len(idempotency_key) > 255:
            raise InvalidInput(
                "send an Idempotency-Key header of 1 to 255 characters", field="Idempotency-Key"
            )
        request_hash = hashlib.sha256(
            orjson.dumps(data.model_dump(), option=orjson.OPT_SORT_KEYS)
        ).hexdigest()
        earlier = repository.by_idempotency_key(
            session, member.tenant_id, member.id, idempotency_key
        )
        if earlier is not None:
            if earlier.request_hash != request_hash:
                raise IdempotencyKeyReused(
                    "this Idempotency-Key was used for a different redemption",
                    field="Idempotency-Key",
                )
            balance = members.balance(session, member)
            return self._out(earlier, available=max(balance.available, 0), replayed=True)
        if member.status != MemberStatus.ACTIVE:
            raise MemberSuspended(member.external_id)
        terms = program.terms
        description = data.description or "Points redeemed"
        [posting], book = ledger.transact(
            session,
            tenant_id=member.tenant_id,
            wallet_id=member.id,
            terms=terms,
            now=now,
            operation=lambda book: engine.redeem(
                book, data.points, now=now, reason=description, terms=terms
            ),
        )
        redemption = Redemption(
            tenant_id=member.tenant_id,
            id=uuid7(),
            member_id=member.id,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            points=data.points,
            description=description,
            posting_id=posting.id,
            created_at=now,
        )
        session.add(redemption)
        session.flush()
        return self._out(redemption, available=book.available, replayed=False)

    def _out(self, r: Redemption, *, available: int, replayed: bool) -> schemas.Redemption:
        """`available` is the balance this call left; a replay reports the balance now."""
        return schemas.Redemption(
            id=str(r.id),
            points=r.points,
            description=r.description,
            transaction_id=str(r.posting_id),
            available=available,
            created_at=r.created_at,
            replayed=replayed,
        )


redemptions = RedemptionService()
