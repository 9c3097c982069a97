"""Reading books under lock, and writing what the engine produced in set-based statements."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.db import bulk
from patron.db.bulk import Op
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
    # In creation order (ids are UUIDv7): debits break ties between lots with the same expiry
    # by list order, which must not depend on where the database happens to keep the rows.
    rows = session.execute(
        select(Lot)
        .where(
            Lot.tenant_id == tenant_id,
            bulk.one_of(session, Lot.member_id, wanted),
            Lot.remaining > 0,
        )
        .order_by(Lot.id)
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


def balance_columns(book: Book) -> dict[str, int]:
    """The member-row columns that cache the book's balances."""
    return {
        "points_available": book.available,
        "points_pending": book.pending,
        "points_lifetime": book.lifetime,
    }


def ledger_ops(tenant_id: uuid.UUID, changes: Changes, *, update_members: bool = True) -> list[Op]:
    """The writes that persist `changes`: postings, lots (new and touched), lot uses,
    entries and, unless the caller writes the member rows itself, member balances. Resets
    the books' change tracking, as the writes will have happened."""
    postings = changes.postings
    for p in postings:
        p.check_balanced()
    books = list(changes.books.values())
    ops = [
        Op(
            "insert",
            Posting.__table__,
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
        ),
        Op(
            "insert",
            Lot.__table__,
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
                for book in books
                for lot in book.created
            ],
        ),
        Op(
            "update",
            Lot.__table__,
            [
                dict(tenant_id=tenant_id, id=lot.id, state=lot.state, remaining=lot.remaining)
                for book in books
                for lot in book.lots or ()
                if lot.changed and not lot.is_new
            ],
        ),
        Op(
            "insert",
            LotUse.__table__,
            [
                dict(tenant_id=tenant_id, posting_id=p.id, lot_id=lot_id, points=points)
                for p in postings
                for lot_id, points in p.uses
            ],
        ),
        Op(
            "insert",
            Entry.__table__,
            [
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
            ],
        ),
    ]
    if update_members:
        ops.append(
            Op(
                "update",
                Member.__table__,
                [
                    dict(tenant_id=tenant_id, id=b.member_id, **balance_columns(b))
                    for b in books
                    if b.changed
                ],
            )
        )
    for book in books:
        book.changed = False
        book.created = []
        if book.lots is not None:
            book.lots = [lot for lot in book.lots if lot.remaining > 0]
            for lot in book.lots:
                lot.is_new = lot.changed = False
    changes.postings = []
    return ops


def write_changes(session: Session, tenant_id: uuid.UUID, changes: Changes) -> None:
    """Persist `changes` (member balances included) in one round trip on PostgreSQL."""
    bulk.execute(session, ledger_ops(tenant_id, changes))
