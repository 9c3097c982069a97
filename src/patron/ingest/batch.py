"""What one ingestion holds while it runs: the events, the parts each domain loaded, and
what each event did."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar, cast

from patron.events.schemas import EventBase
from patron.ingest.registry import Part, Slot
from patron.ledger.assets import POINTS
from patron.ledger.engine import PostingDraft, Terms
from patron.ledger.schemas import posting_view
from patron.programs.schemas import Program

P = TypeVar("P", bound=Part)


class Status(StrEnum):
    APPLIED = "applied"
    NOT_MEMBER = "not_member"
    MEMBER_SUSPENDED = "member_suspended"
    NO_EFFECT = "no_effect"


@dataclass(slots=True)
class Outcome:
    """What one handler did with one event."""

    status: Status
    message: str
    member: str | None = None
    enrolled: bool = False
    postings: list[PostingDraft] = field(default_factory=list)


@dataclass(slots=True)
class Item:
    """One event of the ingestion."""

    index: int
    event: EventBase
    payload: dict[str, Any]
    hash: str
    # Prefix of the event's field names in errors: `events.3.` in a batch, `` alone.
    path: str
    row_id: uuid.UUID
    member_id: uuid.UUID | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    # Set when an earlier event of the same batch has the same id and body.
    duplicate_of: int | None = None
    result: dict[str, Any] | None = None

    def render(self) -> dict[str, Any]:
        """The event's result as the API returns it (`EventResult`)."""
        postings = [p for o in self.outcomes for p in o.postings]
        first = self.outcomes[0]
        return {
            "id": self.event.id,
            "type": self.event.type,
            "status": str(first.status),
            "duplicate": False,
            "member": next((o.member for o in self.outcomes if o.member), None),
            "enrolled": any(o.enrolled for o in self.outcomes),
            "points": sum(p.amount for p in postings if p.asset == POINTS),
            "message": "; ".join(o.message for o in self.outcomes),
            "postings": [posting_view(p) for p in postings],
        }


class Batch:
    """One ingestion: a tenant's program, the clock, the fresh events and the loaded parts."""

    def __init__(
        self, *, tenant_id: uuid.UUID, program: Program, now: datetime, items: list[Item]
    ) -> None:
        self.tenant_id = tenant_id
        self.program = program
        self.now = now
        self.terms: Terms = program.terms
        self.items = items
        self.parts: dict[Slot[Any], Part] = {}
        # The event being applied.
        self.current: Item = items[0]

    def part(self, slot: Slot[P]) -> P:
        """The loaded part of `slot`, created on first use (a part no event asked keys of)."""
        part = self.parts.get(slot)
        if part is None:
            part = self.parts[slot] = slot.factory()
        return cast(P, part)
