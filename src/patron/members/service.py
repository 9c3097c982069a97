"""Creating, updating, finding and describing members."""

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, object_session

from patron.kit.ids import uuid7
from patron.kit.money import format_amount
from patron.ledger.models import Balance
from patron.members import repository, schemas
from patron.members.errors import MemberErased, MemberMerged, MemberNotFound
from patron.members.models import Member
from patron.members.schemas import MemberStatus


def _email_key(email: str | None) -> str | None:
    return email.lower() if email else None


class MemberService:
    def get_by_external_id(
        self, session: Session, *, tenant_id: uuid.UUID, external_id: str, lock: bool = False
    ) -> Member:
        """`lock` is for changing the member: a merged or erased member changes no more, and
        is refused (409) then."""
        member = repository.get_by_external_id(session, tenant_id, external_id, lock=lock)
        if member is None:
            raise MemberNotFound(external_id)
        if lock:
            self.check_changeable(session, member)
        return member

    def check_changeable(
        self, session: Session, member: Member, *, field: str = "external_id"
    ) -> None:
        if member.status == MemberStatus.MERGED and member.merged_into is not None:
            into = repository.external_id_of(session, member.tenant_id, member.merged_into)
            raise MemberMerged(member.external_id, into, field=field)
        if member.status == MemberStatus.ERASED:
            raise MemberErased(member.external_id, field=field)

    def upsert(
        self,
        session: Session,
        *,
        tenant_id: uuid.UUID,
        external_id: str,
        data: schemas.MemberUpsert,
        now: datetime,
    ) -> tuple[Member, bool]:
        """Create the member, or update the fields the request names. Returns (member,
        created)."""
        member = repository.get_by_external_id(session, tenant_id, external_id, lock=True)
        fields = data.model_dump(exclude_unset=True)
        if member is None:
            inserted = self.enrol_many(
                session,
                tenant_id=tenant_id,
                now=now,
                members=[dict(external_id=external_id, **data.model_dump())],
            )
            member = self.get_by_external_id(
                session, tenant_id=tenant_id, external_id=external_id, lock=True
            )
            if external_id in inserted:
                return member, True
            # A concurrent request created it first: this one is an update.
        self.check_changeable(session, member)
        return self._update(member, fields, now), False

    def _update(self, member: Member, fields: dict[str, Any], now: datetime) -> Member:
        fields.pop("enrolled_via", None)  # how the member joined does not change
        for name, value in fields.items():
            setattr(member, name, value)
        if "email" in fields:
            member.email_key = _email_key(member.email)
        member.updated_at = now
        return member

    def enrol_many(
        self,
        session: Session,
        *,
        tenant_id: uuid.UUID,
        now: datetime,
        members: Iterable[dict[str, Any]],
    ) -> dict[str, uuid.UUID]:
        """Insert members that do not exist yet, each with its points wallet (one statement on
        PostgreSQL); existing ones are left as they are. Safe against concurrent enrolment of
        the same customer. Returns the external ids it created, with their ids."""
        rows: list[dict[str, Any]] = [
            dict(
                tenant_id=tenant_id,
                id=uuid7(),
                external_id=m["external_id"],
                email=m.get("email"),
                email_key=_email_key(m.get("email")),
                name=m.get("name"),
                birthday=m.get("birthday"),
                enrolled_via=m.get("enrolled_via", "api"),
                status=m.get("status", MemberStatus.ACTIVE),
                accepts_marketing=m.get("accepts_marketing", False),
                enrolled_at=now,
                updated_at=now,
                orders_count=0,
                total_spent=0,
            )
            for m in members
        ]
        # Sorted: concurrent enrolments insert (and so wait on) rows in one order.
        rows.sort(key=lambda r: str(r["external_id"]))
        return repository.enrol(session, rows)

    def search(
        self,
        session: Session,
        *,
        tenant_id: uuid.UUID,
        email: str | None,
        q: str | None,
        after: uuid.UUID | None,
        limit: int,
    ) -> list[tuple[Member, Balance]]:
        return repository.search(session, tenant_id, email=email, q=q, after=after, limit=limit)

    def balance(self, session: Session, member: Member) -> Balance:
        return repository.balance_of(session, member)

    def describe(self, member: Member, balance: Balance, *, currency: str | None) -> schemas.Member:
        merged_into = None
        if member.merged_into is not None:
            # Read here, from the row's own session, so that every route describing a member
            # names the survivor of a merge without asking for it (merged members are few).
            session = object_session(member)
            assert session is not None
            merged_into = repository.external_id_of(session, member.tenant_id, member.merged_into)
        return schemas.Member(
            merged_into=merged_into,
            external_id=member.external_id,
            email=member.email,
            name=member.name,
            birthday=member.birthday,
            enrolled_via=member.enrolled_via,
            status=member.status,
            accepts_marketing=member.accepts_marketing,
            enrolled_at=member.enrolled_at,
            updated_at=member.updated_at,
            points=schemas.Points(
                available=max(balance.available, 0),
                pending=balance.pending,
                lifetime_earned=balance.lifetime,
                debt=max(-balance.available, 0),
            ),
            stats=schemas.OrderStats(
                orders_count=member.orders_count,
                total_spent=format_amount(member.total_spent, currency or "XXX"),
                currency=currency,
                first_order_at=member.first_order_at,
                last_order_at=member.last_order_at,
            ),
        )


members = MemberService()
