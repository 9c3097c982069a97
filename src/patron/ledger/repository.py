"""Reading books under lock, and writing what the engine produced in set-based statements."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from patron.kit.ids import uuid7
from patron.ledger.engine import Book, LotState, PostingDraft
from patron.ledger.models import Entry, Lot, LotUse, Posting
from patron.members.models import Member


@dataclass
class Changes:
    """Everything one unit of work adds to the ledger, written by `write_changes`."""

    postings: list[PostingDraft] = field(default_factory=list)
    books: dict[uuid.UUID, Book] = field(default_factory=dict)

    def add(self, posting: PostingDraft | Iterable[PostingDraft]) -> None:
        if isinstance(posting, PostingDraft):
            self.postings.append(posting)
        else:
            self.postings.extend(posting)


def load_lots(session: Session, tenant_id: uuid.UUID, books: Sequence[Book]) -> None:
    """Fill `book.lots` with each member's open lots (remaining > 0). The members' rows must
    already be locked, so the lots cannot change underneath."""
    wanted = {b.member_id: b for b in books if b.lots is None}
    if not wanted:
        return
    for book in wanted.values():
        book.lots = []
    rows = session.execute(
        select(Lot).where(Lot.tenant_id == tenant_id, Lot.member_id.in_(wanted), Lot.remaining > 0)
    ).scalars()
    for lot in rows:
        lots = wanted[lot.member_id].lots
        assert lots is not None
        lots.append(
            LotState(
                id=lot.id,
                member_id=lot.member_id,
                posting_id=lot.posting_id,
                order_id=lot.order_id,
                state=lot.state,
                points=lot.points,
                remaining=lot.remaining,
                earned_at=lot.earned_at,
                vests_at=lot.vests_at,
                expires_at=lot.expires_at,
            )
        )


def book_of(member: Member) -> Book:
    return Book(
        member_id=member.id,
        available=member.points_available,
        pending=member.points_pending,
        lifetime=member.points_lifetime,
    )


def write_changes(
    session: Session, tenant_id: uuid.UUID, changes: Changes, *, update_members: bool = True
) -> None:
    """Insert postings, lots, lot uses and entries, update touched lots and (unless the
    caller writes the member rows itself) member balances: one executemany per table,
    whatever the number of rows."""
    postings = changes.postings
    if postings:
        for p in postings:
            p.check_balanced()
        session.execute(
            insert(Posting),
            [
                dict(
                    tenant_id=tenant_id,
                    id=p.id,
                    member_id=p.member_id,
                    kind=p.kind,
                    points=p.points,
                    reason=p.reason,
                    event_id=p.event_id,
                    order_id=p.order_id,
                    program_version=p.program_version,
                    detail=p.detail,
                    created_at=p.created_at,
                )
                for p in postings
            ],
        )
    books = changes.books.values()
    new_lots = [lot for book in books for lot in book.created]
    changed_lots = [
        lot for book in books for lot in book.lots or () if lot.changed and not lot.is_new
    ]
    if new_lots:
        session.execute(
            insert(Lot),
            [
                dict(
                    tenant_id=tenant_id,
                    id=lot.id,
                    member_id=lot.member_id,
                    posting_id=lot.posting_id,
                    order_id=lot.order_id,
                    state=lot.state,
                    points=lot.points,
                    remaining=lot.remaining,
                    earned_at=lot.earned_at,
                    vests_at=lot.vests_at,
                    expires_at=lot.expires_at,
                )
                for lot in new_lots
            ],
        )
    if changed_lots:
        session.execute(
            update(Lot),
            [
                dict(tenant_id=tenant_id, id=lot.id, state=lot.state, remaining=lot.remaining)
                for lot in changed_lots
            ],
        )
    uses = [
        dict(tenant_id=tenant_id, posting_id=p.id, lot_id=lot_id, points=points)
        for p in postings
        for lot_id, points in p.uses
    ]
    if uses:
        session.execute(insert(LotUse), uses)
    entries = [
        dict(
            tenant_id=tenant_id,
            id=uuid7(),
            posting_id=p.id,
            member_id=e.member_id,
            account=e.account,
            amount=e.amount,
        )
        for p in postings
        for e in p.entries
    ]
    if entries:
        session.execute(insert(Entry), entries)
    touched = [b for b in changes.books.values() if b.changed]
    if touched and update_members:
        session.execute(
            update(Member),
            [
                dict(
                    tenant_id=tenant_id,
                    id=b.member_id,
                    points_available=b.available,
                    points_pending=b.pending,
                    points_lifetime=b.lifetime,
                )
                for b in touched
            ],
        )
    for book in books:
        book.changed = False
        book.created = []
        if book.lots is not None:
            book.lots = [lot for lot in book.lots if lot.remaining > 0]
            for lot in book.lots:
                lot.is_new = lot.changed = False
    changes.postings = []
