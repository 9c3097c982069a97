"""Erasing a member's personal data, exporting everything held about them, and merging a
duplicate member into another (docs/privacy.md).

The members domain sits below orders and redemptions, which hold data about members too.
They take part through a `Holder` each, which the caller passes in (the routes pass
`HOLDERS`, assembled in `members/api.py`), the way `verify-ledger` is given the domains'
checks: this module names no domain above it.

Lock order (docs/decisions/0004): what a holder locks before members (the orders ingestion
also locks first), then every member row involved in one statement, in external-id order,
then the wallets (the ledger, in wallet-id order).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from patron.errors import InvalidInput
from patron.events.models import Event
from patron.events.service import events as event_service
from patron.kit.ids import uuid7
from patron.kit.redact import REDACTED, Redactor
from patron.ledger.assets import Kind
from patron.ledger.engine import Terms
from patron.ledger.models import Balance
from patron.ledger.service import ledger
from patron.members import repository, schemas
from patron.members.errors import (
    MemberBusy,
    MemberNotFound,
    MergeKeyReused,
)
from patron.members.models import Member, MemberMerge
from patron.members.schemas import MemberStatus
from patron.members.service import members as member_service

ANONYMOUS_PREFIX = "erased:"
MERGE_REASON = "Merged with a duplicate account"
EXPORT_FORMAT = "patron.member-export.v1"
# What an erased `member.enrolled` event keeps of its data: how the customer joined.
KEPT: dict[str, frozenset[str]] = {"member.enrolled": frozenset({"source"})}


@dataclass
class Subject:
    """Whom an erasure or an export is about: member records (the member and the duplicates
    merged into it; none for a customer who never was a member) and the customer ids they
    are known by."""

    tenant_id: uuid.UUID
    members: list[Member]
    names: list[str]

    @property
    def member_ids(self) -> list[uuid.UUID]:
        return [m.id for m in self.members]


@dataclass
class Erasing:
    """What a holder needs to erase: each customer id's anonymous replacement, and the
    redactor that removes ids, emails and names from free text."""

    anonymous: dict[str, str]
    redact: Redactor
    counts: dict[str, int] = field(default_factory=dict)


class Holder(Protocol):
    """A domain above members holding data about them (orders, redemptions)."""

    @property
    def section(self) -> str:
        """Its section in the export document."""

    @property
    def kept(self) -> Mapping[str, frozenset[str]]:
        """For the event types it owns: the `data` fields an erased event keeps (free of
        personal data). A type nobody declares keeps no data."""

    def lock(self, session: Session, subject: Subject) -> None:
        """Lock, before the members, the rows ingestion locks before members."""

    def export(self, session: Session, subject: Subject) -> list[dict[str, Any]]: ...

    def erase(self, session: Session, subject: Subject, erasing: Erasing) -> None:
        """Erase; add what was changed to `erasing.counts` (`orders`, `texts`)."""

    def merge(self, session: Session, tenant_id: uuid.UUID, source: Member, target: Member) -> int:
        """Give the duplicate's rows to the survivor; return how many."""


class PrivacyService:
    # -- erasure -----------------------------------------------------------------------------

    def erase(
        self,
        session: Session,
        *,
        tenant_id: uuid.UUID,
        external_id: str,
        holders: Sequence[Holder],
        now: datetime,
    ) -> schemas.Erasure:
        """Erase what is held under a customer id: the member's personal details, those of the
        duplicates merged into it (a merged duplicate named itself: only its own), the personal
        data in their stored events, and the id itself wherever it is stored. The ledger's
        amounts stay exact, tied to the anonymous records. A customer who never was a member
        but whose events or orders are stored is erased too. Nothing held: 404."""
        subject = self._subject(session, tenant_id, external_id)
        stored = event_service.of_customers(session, tenant_id=tenant_id, names=subject.names)
        if not subject.members and not stored:
            raise MemberNotFound(external_id)
        for holder in holders:
            holder.lock(session, subject)
        subject.members = self._lock(session, subject)

        anonymous = {name: f"{ANONYMOUS_PREFIX}{uuid7()}" for name in subject.names}
        personal = event_service.personal_strings(stored)
        for m in subject.members:
            personal.update(v for v in (m.email, m.name) if v)
        erasing = Erasing(
            anonymous=anonymous,
            redact=Redactor({**{p: REDACTED for p in personal}, **anonymous}),
            counts={"orders": 0, "texts": 0},
        )
        kept = {**KEPT, **{t: f for h in holders for t, f in h.kept.items()}}
        erasing.counts["texts"] += ledger.redact(
            session, tenant_id=tenant_id, wallet_ids=subject.member_ids, redact=erasing.redact
        )
        for holder in holders:
            holder.erase(session, subject, erasing)
        # Last: the holders find rows through the events (orders placed before enrolment).
        erased_events = event_service.erase(
            stored, anonymous=anonymous, kept=kept, redact=erasing.redact
        )
        for merge in repository.merges_of(session, tenant_id, subject.member_ids):
            key = erasing.redact(merge.idempotency_key)
            if key != merge.idempotency_key:
                merge.idempotency_key = key[:255]
                erasing.counts["texts"] += 1
        for m in subject.members:
            m.external_id = anonymous[m.external_id]
            m.email = m.email_key = m.name = None
            m.birthday = None
            m.accepts_marketing = False
            m.status = MemberStatus.ERASED
            m.updated_at = now
        session.flush()
        return schemas.Erasure(
            external_id=external_id,
            erased_at=now,
            members=len(subject.members),
            events=erased_events,
            orders=erasing.counts["orders"],
            texts=erasing.counts["texts"],
        )

    def _subject(self, session: Session, tenant_id: uuid.UUID, external_id: str) -> Subject:
        member = repository.get_by_external_id(session, tenant_id, external_id)
        if member is None:
            return Subject(tenant_id, [], [external_id])
        if member.status == MemberStatus.ERASED:
            raise MemberNotFound(external_id)  # an anonymous id: nothing personal is held
        group = [member]
        if member.status != MemberStatus.MERGED:
            group += repository.merged_into(session, tenant_id, member.id)
        return Subject(tenant_id, group, [m.external_id for m in group])

    def _lock(self, session: Session, subject: Subject) -> list[Member]:
        """Lock the subject's member rows, all in one statement. A merge that committed since
        they were read changed who they are: refused, to be sent again."""
        if not subject.members:
            return []
        locked = repository.lock_members(session, subject.tenant_id, subject.member_ids)
        head = subject.members[0]
        again = [head]
        if head.status == MemberStatus.ERASED:
            raise MemberNotFound(subject.names[0])
        if head.status != MemberStatus.MERGED:
            again += repository.merged_into(session, subject.tenant_id, head.id)
        if {m.id for m in again} != {m.id for m in locked} or any(
            m.external_id not in subject.names for m in locked
        ):
            raise MemberBusy(
                f"member {subject.names[0]!r} was merged or erased meanwhile: send the "
                "request again",
                field="external_id",
            )
        return locked

    # -- export ------------------------------------------------------------------------------

    def export(
        self,
        session: Session,
        *,
        tenant_id: uuid.UUID,
        external_id: str,
        holders: Sequence[Holder],
        currency: str | None,
        now: datetime,
    ) -> dict[str, Any]:
        """Everything held about a member (and the duplicates merged into it) as one
        document. A member's data is bounded (orders, events and postings in the thousands at
        most), so it is built whole."""
        member = member_service.get_by_external_id(
            session, tenant_id=tenant_id, external_id=external_id
        )
        group = [member]
        if member.status != MemberStatus.MERGED:
            group += repository.merged_into(session, tenant_id, member.id)
        subject = Subject(tenant_id, group, [m.external_id for m in group])
        held = ledger.export(session, tenant_id=tenant_id, wallet_ids=subject.member_ids)
        names = {m.id: m.external_id for m in group}
        described = [
            member_service.describe(m, member_service.balance(session, m), currency=currency)
            for m in group
        ]
        document: dict[str, Any] = {
            "format": EXPORT_FORMAT,
            "exported_at": now,
            "member": described[0],
            "merged_members": described[1:],
            **held,
            "adjustments": [
                {
                    "transaction_id": p["id"],
                    "points": p["points"],
                    "reason": p["reason"],
                    "created_at": p["created_at"],
                }
                for p in held["postings"]
                if p["kind"] == Kind.ADJUST
            ],
            "events": [
                _event(e)
                for e in event_service.of_customers(
                    session, tenant_id=tenant_id, names=subject.names
                )
            ],
            "merges": [
                {
                    "id": str(m.id),
                    "merged": names.get(m.source_id)
                    or repository.external_id_of(session, tenant_id, m.source_id),
                    "into": names.get(m.target_id)
                    or repository.external_id_of(session, tenant_id, m.target_id),
                    "created_at": m.created_at,
                    "moved": m.result["moved"],
                }
                for m in repository.merges_into(session, tenant_id, subject.member_ids)
            ],
        }
        for holder in holders:
            document[holder.section] = holder.export(session, subject)
        return document

    # -- merges ------------------------------------------------------------------------------

    def merge(
        self,
        session: Session,
        *,
        tenant_id: uuid.UUID,
        target: str,
        data: schemas.MergeCreate,
        idempotency_key: str,
        holders: Sequence[Holder],
        terms: Terms,
        currency: str | None,
        now: datetime,
    ) -> schemas.Merge:
        """Fold the duplicate `data.source` into `target`: its points (available, pending and
        debt, lot by lot) move by a ledger transfer, its orders and order statistics become
        the target's, and it is marked merged, so that its later events reach the target.
        Once per Idempotency-Key: the same key returns the first merge."""
        if data.source == target:
            raise InvalidInput("a member cannot be merged into itself", field="from")
        request_hash = hashlib.sha256(
            orjson.dumps({"from": data.source, "into": target}, option=orjson.OPT_SORT_KEYS)
        ).hexdigest()
        earlier = self._replay(session, tenant_id, idempotency_key, request_hash, currency)
        if earlier is not None:
            return earlier
        into = member_service.get_by_external_id(session, tenant_id=tenant_id, external_id=target)
        source = repository.get_by_external_id(session, tenant_id, data.source)
        if source is None:
            raise MemberNotFound(data.source, field="from")
        self._mergeable(session, into, source)
        duplicates = repository.merged_into(session, tenant_id, source.id)
        subject = Subject(tenant_id, [source], [source.external_id])
        for holder in holders:
            holder.lock(session, subject)
        ids = {into.id, source.id, *(d.id for d in duplicates)}
        locked = {m.id: m for m in repository.lock_members(session, tenant_id, ids)}
        # Under the locks: a concurrent request with the same key has committed by now.
        earlier = self._replay(session, tenant_id, idempotency_key, request_hash, currency)
        if earlier is not None:
            return earlier
        into, source = locked[into.id], locked[source.id]
        self._mergeable(session, into, source)
        if {d.id for d in repository.merged_into(session, tenant_id, source.id)} != {
            d.id for d in duplicates
        }:
            raise MemberBusy(
                f"a merge into {source.external_id!r} was made meanwhile: send the request again",
                field="from",
            )

        postings, _, book = ledger.transfer(
            session,
            tenant_id=tenant_id,
            source=source.id,
            target=into.id,
            reason=MERGE_REASON,
            terms=terms,
            now=now,
        )
        moved = {"available": 0, "pending": 0, "debt": 0, "lifetime": 0}
        if postings:
            detail = postings[0].detail
            moved = {
                "available": max(detail["available"], 0),
                "pending": detail["pending"],
                "debt": max(-detail["available"], 0),
                "lifetime": detail["lifetime"],
            }
        _combine_stats(into, source)
        source.status = MemberStatus.MERGED
        source.merged_into = into.id
        into.updated_at = source.updated_at = now
        repository.repoint_merged(session, tenant_id, source.id, into.id)
        orders = sum(h.merge(session, tenant_id, source, into) for h in holders)
        merge = MemberMerge(
            tenant_id=tenant_id,
            id=uuid7(),
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            target_id=into.id,
            source_id=source.id,
            result={
                "moved": moved,
                "orders": orders,
                "transactions": [str(p.id) for p in postings],
            },
            created_at=now,
        )
        try:
            with session.begin_nested():
                session.add(merge)
                session.flush()
        except IntegrityError:  # the key, taken meanwhile by a merge of other members
            raise MergeKeyReused(
                "this Idempotency-Key was used for a different merge", field="Idempotency-Key"
            ) from None
        balance = Balance(
            tenant_id=tenant_id,
            wallet_id=book.wallet_id,
            asset=book.asset,
            available=book.available,
            pending=book.pending,
            lifetime=book.lifetime,
        )
        return self._out(merge, into, source, balance, currency=currency, replayed=False)

    def _mergeable(self, session: Session, into: Member, source: Member) -> None:
        if into.id == source.id:
            raise InvalidInput("a member cannot be merged into itself", field="from")
        member_service.check_changeable(session, into)
        member_service.check_changeable(session, source, field="from")

    def _replay(
        self,
        session: Session,
        tenant_id: uuid.UUID,
        key: str,
        request_hash: str,
        currency: str | None,
    ) -> schemas.Merge | None:
        earlier = repository.merge_by_key(session, tenant_id, key)
        if earlier is None:
            return None
        if earlier.request_hash != request_hash:
            raise MergeKeyReused(
                "this Idempotency-Key was used for a different merge", field="Idempotency-Key"
            )
        into = session.get(Member, (tenant_id, earlier.target_id))
        source = session.get(Member, (tenant_id, earlier.source_id))
        assert into is not None and source is not None
        balance = member_service.balance(session, into)
        return self._out(earlier, into, source, balance, currency=currency, replayed=True)

    def _out(
        self,
        merge: MemberMerge,
        into: Member,
        source: Member,
        balance: Balance,
        *,
        currency: str | None,
        replayed: bool,
    ) -> schemas.Merge:
        return schemas.Merge(
            id=str(merge.id),
            target=into.external_id,
            merged=source.external_id,
            moved=schemas.MergeMoved(**merge.result["moved"]),
            orders=merge.result["orders"],
            transactions=merge.result["transactions"],
            merged_at=merge.created_at,
            replayed=replayed,
            member=member_service.describe(into, balance, currency=currency),
        )


def _combine_stats(into: Member, source: Member) -> None:
    """The duplicate's orders are the survivor's now, and so are their statistics."""
    into.orders_count += source.orders_count
    into.total_spent += source.total_spent
    firsts = [t for t in (into.first_order_at, source.first_order_at) if t]
    lasts = [t for t in (into.last_order_at, source.last_order_at) if t]
    into.first_order_at = min(firsts) if firsts else None
    into.last_order_at = max(lasts) if lasts else None
    source.orders_count = 0
    source.total_spent = 0
    source.first_order_at = source.last_order_at = None


def _event(e: Event) -> dict[str, Any]:
    return {
        "id": e.external_id,
        "type": e.type,
        "occurred_at": e.occurred_at,
        "received_at": e.received_at,
        "customer": e.customer_external_id,
        "status": e.status,
        "payload": e.payload,
        "result": e.result,
    }


privacy = PrivacyService()
