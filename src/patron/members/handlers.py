"""The members domain in ingestion: the part that locks (and enrols) the customers the events
name, and the `member.enrolled` handler."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from patron.db.bulk import Op
from patron.ingest.batch import Batch, Item, Outcome, Status
from patron.ingest.books import BOOKS
from patron.ingest.registry import Slot, handler
from patron.ledger.assets import POINTS
from patron.ledger.engine import Book
from patron.members import repository
from patron.members.schemas import MemberEnrolled, MemberStatus
from patron.members.service import members as member_service
from patron.members.state import MemberState, Profile


@dataclass(frozen=True, slots=True)
class MemberKey:
    """A customer an event names; `enrol` holds the new member's fields when the event
    enrols a customer who is not a member yet."""

    external_id: str
    enrol: tuple[tuple[str, Any], ...] | None = None


class MembersPart:
    def __init__(self) -> None:
        self.states: dict[str, MemberState] = {}
        self._by_id: dict[uuid.UUID, MemberState] = {}

    def load(self, session: Session, batch: Batch, wants: list[tuple[Item, Any]]) -> None:
        keys: list[tuple[Item, MemberKey]] = wants
        self.states = repository.lock_states(
            session, batch.tenant_id, {k.external_id for _, k in keys}
        )
        # Enrol the customers these events enrol before applying anything, so that every
        # posting has its member; events before the enrolling one still see a non-member.
        joiners: dict[str, tuple[int, dict[str, Any]]] = {}
        for item, key in sorted(keys, key=lambda w: w[0].index):
            if key.enrol is None or key.external_id in self.states or key.external_id in joiners:
                continue
            joiners[key.external_id] = (item.index, dict(key.enrol, external_id=key.external_id))
        if joiners:
            created = member_service.enrol_many(
                session,
                tenant_id=batch.tenant_id,
                now=batch.now,
                members=[fields for _, fields in joiners.values()],
            )
            # The rows this transaction inserted are its own until it commits: no lock to take.
            joined = {
                external_id: MemberState(
                    id=member_id,
                    external_id=external_id,
                    status=str(joiners[external_id][1].get("status", MemberStatus.ACTIVE)),
                    book=Book(member_id, POINTS, 0, 0, 0),
                    orders_count=0,
                    total_spent=0,
                    first_order_at=None,
                    last_order_at=None,
                    profile=_profile(joiners[external_id][1], batch.now),
                )
                for external_id, member_id in created.items()
            }
            # Customers another transaction enrolled meanwhile: lock them as they are now.
            others = set(joiners) - set(created)
            joined.update(repository.lock_states(session, batch.tenant_id, others))
            for external_id, state in joined.items():
                state.joined_by = joiners[external_id][0]
            self.states.update(joined)
        books = batch.part(BOOKS)
        for state in self.states.values():
            books.adopt(state.book)
        self._by_id = {m.id: m for m in self.states.values()}

    def visible(self, batch: Batch, external_id: str) -> MemberState | None:
        """The member as the current event sees it (not yet, if a later event enrols it)."""
        state = self.states.get(external_id)
        if state is None or (state.joined_by is not None and state.joined_by > batch.current.index):
            return None
        batch.current.member_id = state.id
        return state

    def by_id(self, batch: Batch, member_id: uuid.UUID) -> MemberState:
        state = self._by_id[member_id]
        batch.current.member_id = state.id
        return state

    def ops(self, batch: Batch) -> list[Op]:
        return [repository.states_op(batch.tenant_id, self.states.values())]

    def written(self, batch: Batch, ops: list[Op]) -> None:
        pass


def _profile(fields: dict[str, Any], now: datetime) -> Profile:
    return Profile(
        email=fields.get("email"),
        name=fields.get("name"),
        birthday=fields.get("birthday"),
        enrolled_via=str(fields.get("enrolled_via") or ""),
        enrolled_at=now,
        accepts_marketing=bool(fields.get("accepts_marketing")),
    )


MEMBERS: Slot[MembersPart] = Slot("members", rank=20, factory=MembersPart)


def customer(batch: Batch, item: Item) -> Iterable[MemberKey]:
    """The event's customer, to read (not to enrol)."""
    return [MemberKey(item.event.customer.external_id)]


def enrolment(item: Item, via: str, **extra: Any) -> MemberKey:
    """The event's customer, enrolled by this event if not a member yet."""
    c = item.event.customer
    return MemberKey(
        c.external_id,
        enrol=(("email", c.email), ("name", c.name), ("enrolled_via", via), *extra.items()),
    )


def enrolling(batch: Batch, item: Item) -> Iterable[MemberKey]:
    """The customer of an event that enrols it with its `data`: `source`, `birthday`,
    `accepts_marketing` (`member.enrolled`, `account.created`)."""
    data = getattr(item.event, "data")  # noqa: B009  (each such event type has its own data)
    return [
        enrolment(
            item, data.source, birthday=data.birthday, accepts_marketing=data.accepts_marketing
        )
    ]


@handler("member.enrolled", schema=MemberEnrolled, needs={MEMBERS: enrolling})
def member_enrolled(batch: Batch, item: Item) -> Outcome:
    assert isinstance(item.event, MemberEnrolled)
    external_id = item.event.customer.external_id
    state = batch.part(MEMBERS).visible(batch, external_id)
    if state is not None and state.joined_by == item.index:
        return Outcome(
            Status.APPLIED,
            f"{external_id} joined the program (via {item.event.data.source})",
            member=external_id,
            enrolled=True,
        )
    member = state.external_id if state is not None else external_id  # a merge's survivor
    return Outcome(Status.NO_EFFECT, f"{external_id} is a member already", member=member)
