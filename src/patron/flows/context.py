import uuid
from dataclasses import dataclass, field
from datetime import datetime

from patron.ledger.engine import PostingDraft, Terms
from patron.ledger.repository import Changes
from patron.members.state import MemberState
from patron.orders.state import OrderState
from patron.programs.schemas import Program


@dataclass
class Applied:
    """What one event did."""

    status: str
    message: str
    member: str | None = None
    enrolled: bool = False
    postings: list[PostingDraft] = field(default_factory=list)


@dataclass
class Ingestion:
    """Everything one ingestion reads and changes, locked and loaded before the first event."""

    tenant_id: uuid.UUID
    program: Program
    now: datetime
    terms: Terms
    members: dict[str, MemberState]
    orders: dict[str, OrderState]
    changes: Changes
    # The event being applied: its index in the batch and the prefix of its field names.
    index: int = 0
    path: str = ""
    member_ids: dict[int, uuid.UUID] = field(default_factory=dict)

    def member(self, external_id: str) -> MemberState | None:
        """The member as the current event sees it (not yet, if a later event enrols it)."""
        state = self.members.get(external_id)
        if state is None or (state.joined_by is not None and state.joined_by > self.index):
            return None
        self.member_ids[self.index] = state.id
        return state

    def __post_init__(self) -> None:
        # Refunds name the order's member by id: index once, not a scan per event.
        self._by_id = {m.id: m for m in self.members.values()}

    def member_by_id(self, member_id: uuid.UUID) -> MemberState:
        state = self._by_id[member_id]
        self.member_ids[self.index] = state.id
        return state

    def post(self, member: MemberState, postings: PostingDraft | list[PostingDraft]) -> None:
        self.changes.books[member.id] = member.book
        self.changes.add(postings)
