"""Reading books under lock, and writing what the engine produced in set-based statements."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from patron.db import bulk
from patron.db.bulk import Op
from patron.kit.ids import uuid7
from patron.ledger.engine import Book, LotState, PostingDraft
from patron.ledger.models import Balance, Entry, Lot, LotUse, Posting


@dataclass
class Changes:
    """Everything one unit of work adds to the ledger, written by `ledger_ops`."""

    postings: list[PostingDraft] = field(default_factory=list)
    books: dict[uuid.UUID, Book] = field(default_factory=dict)

    def add(self, book: Book, posting: PostingDraft | Iterable[PostingDraft]) -> None:
        self.books[book.wallet_id] = book
        if isinstance(posting, PostingDraft):
            self.postings.append(posting)
        else:
            self.postings.extend(posting)


def book_of(row: Any) -> Book:
    """A book from a balances row (or any row with its columns)."""
    return Book(
        wallet_id=row.wallet_id,
        asset=row.asset,
        available=row.available,
        pending=row.pending,
        lifetime=row.lifetime,
    )


def lock_books(
    session: Session,
    tenant_id: uuid.UUID,
    wallet_ids: Iterable[uuid.UUID],
    *,
    skip_locked: bool = False,
) -> dict[uuid.UUID, Book]:
    """Lock wallets (in wallet-id order, the same for every caller) and read their balances.
    With `skip_locked`, wallets another transaction holds are left out."""
    wanted = sorted(set(wallet_ids))
    if not wanted:
        return {}
    stmt = (
        select(
            Balance.wallet_id, Balance.asset, Balance.available, Balance.pending, Balance.lifetime
        )
        .where(Balance.tenant_id == tenant_id, bulk.one_of(session, Balance.wallet_id, wanted))
        .order_by(Balance.wallet_id)
        .with_for_update(skip_locked=skip_locked)
    )
    return {row.wallet_id: book_of(row) for row in session.execute(stmt)}


def load_lots(session: Session, tenant_id: uuid.UUID, books: Sequence[Book]) -> None:
    """Fill `book.lots` with each wallet's open lots (remaining > 0). The wallets must
    already be locked, so the lots cannot change underneath."""
    wanted = {b.wallet_id: b for b in books if b.lots is None}
    if not wanted:
        return
    for book in wanted.values():
        book.lots = []
    # In creation order (ids are UUIDv7): debits break ties between lots with the same expiry
    # by list order, which must not depend on where the database happens to keep the rows.
    rows = session.execute(
        select(
            Lot.id,
            Lot.wallet_id,
            Lot.posting_id,
            Lot.order_id,
            Lot.state,
            Lot.amount,
            Lot.remaining,
            Lot.earned_at,
            Lot.vests_at,
            Lot.expires_at,
        )
        .where(
            Lot.tenant_id == tenant_id,
            bulk.one_of(session, Lot.wallet_id, wanted),
            Lot.remaining > 0,
        )
        .order_by(Lot.id)
    )
    for row in rows:
        lots = wanted[row.wallet_id].lots
        assert lots is not None
        lots.append(LotState(**row._asdict()))


def open_wallets_op(tenant_id: uuid.UUID, wallets: Iterable[tuple[uuid.UUID, str]]) -> Op:
    """Create empty wallets (wallet id, asset); existing ones are left as they are."""
    return Op(
        "insert_ignore",
        Balance.__table__,
        [
            dict(tenant_id=tenant_id, wallet_id=w, asset=a, available=0, pending=0, lifetime=0)
            for w, a in wallets
        ],
        conflict=("tenant_id", "wallet_id"),
    )


def ledger_ops(tenant_id: uuid.UUID, changes: Changes) -> list[Op]:
    """The writes that persist `changes`: postings, lots (new and touched), lot uses,
    entries and balances. Resets the books' change tracking, as the writes will have
    happened."""
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
                    wallet_id=p.wallet_id,
                    asset=p.asset,
                    kind=p.kind,
                    amount=p.amount,
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
                    wallet_id=lot.wallet_id,
                    asset=book.asset,
                    posting_id=lot.posting_id,
                    order_id=lot.order_id,
                    state=lot.state,
                    amount=lot.amount,
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
                dict(tenant_id=tenant_id, posting_id=p.id, lot_id=lot_id, amount=amount)
                for p in postings
                for lot_id, amount in p.uses
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
                    wallet_id=e.wallet_id,
                    account=e.account,
                    asset=p.asset,
                    amount=e.amount,
                )
                for p in postings
                for e in p.entries
            ],
        ),
        Op(
            "update",
            Balance.__table__,
            [
                dict(
                    tenant_id=tenant_id,
                    wallet_id=b.wallet_id,
                    available=b.available,
                    pending=b.pending,
                    lifetime=b.lifetime,
                )
                for b in books
                if b.changed
            ],
            key=("tenant_id", "wallet_id"),
        ),
    ]
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
    """Persist `changes` in one round trip on PostgreSQL."""
    bulk.execute(session, ledger_ops(tenant_id, changes))


def history(
    session: Session,
    tenant_id: uuid.UUID,
    wallet_id: uuid.UUID,
    *,
    before: uuid.UUID | None,
    limit: int,
    kind: str | None,
) -> list[tuple[Posting, list[Entry]]]:
    """A wallet's postings, newest first, each with its entries."""
    stmt = select(Posting).where(Posting.tenant_id == tenant_id, Posting.wallet_id == wallet_id)
    if before is not None:
        stmt = stmt.where(Posting.id < before)
    if kind:
        stmt = stmt.where(Posting.kind == kind)
    postings = list(session.execute(stmt.order_by(Posting.id.desc()).limit(limit)).scalars())
    return list(zip(postings, _entries_of(session, tenant_id, postings), strict=True))


def postings_of_events(
    session: Session, tenant_id: uuid.UUID, event_row_ids: Sequence[uuid.UUID]
) -> list[tuple[Posting, list[Entry]]]:
    """The postings these events made, in the order they were made, each with its entries."""
    if not event_row_ids:
        return []
    postings = list(
        session.execute(
            select(Posting)
            .where(
                Posting.tenant_id == tenant_id,
                bulk.one_of(session, Posting.event_id, event_row_ids),
            )
            .order_by(Posting.id)
        ).scalars()
    )
    return list(zip(postings, _entries_of(session, tenant_id, postings), strict=True))


def _entries_of(
    session: Session, tenant_id: uuid.UUID, postings: list[Posting]
) -> list[list[Entry]]:
    entries: dict[uuid.UUID, list[Entry]] = {p.id: [] for p in postings}
    if postings:
        for entry in session.execute(
            select(Entry)
            .where(Entry.tenant_id == tenant_id, bulk.one_of(session, Entry.posting_id, entries))
            .order_by(Entry.id)
        ).scalars():
            entries[entry.posting_id].append(entry)
    return [entries[p.id] for p in postings]


def balances_of(
    session: Session, tenant_id: uuid.UUID, wallet_ids: Sequence[uuid.UUID]
) -> list[Balance]:
    if not wallet_ids:
        return []
    return list(
        session.execute(
            select(Balance)
            .where(
                Balance.tenant_id == tenant_id, bulk.one_of(session, Balance.wallet_id, wallet_ids)
            )
            .order_by(Balance.wallet_id)
        ).scalars()
    )


def postings_of_wallets(
    session: Session, tenant_id: uuid.UUID, wallet_ids: Sequence[uuid.UUID]
) -> list[tuple[Posting, list[Entry]]]:
    """Every posting of these wallets, oldest first, each with its entries."""
    if not wallet_ids:
        return []
    postings = list(
        session.execute(
            select(Posting)
            .where(
                Posting.tenant_id == tenant_id, bulk.one_of(session, Posting.wallet_id, wallet_ids)
            )
            .order_by(Posting.id)
        ).scalars()
    )
    return list(zip(postings, _entries_of(session, tenant_id, postings), strict=True))


def lots_of_wallets(
    session: Session, tenant_id: uuid.UUID, wallet_ids: Sequence[uuid.UUID]
) -> list[Lot]:
    """Every lot of these wallets, spent or not, oldest first."""
    if not wallet_ids:
        return []
    return list(
        session.execute(
            select(Lot)
            .where(Lot.tenant_id == tenant_id, bulk.one_of(session, Lot.wallet_id, wallet_ids))
            .order_by(Lot.id)
        ).scalars()
    )


def redact_reasons(
    session: Session,
    tenant_id: uuid.UUID,
    wallet_ids: Sequence[uuid.UUID],
    redact: Callable[[str], str],
) -> int:
    """Rewrite the reasons of these wallets' postings through `redact`; amounts, entries and
    every other column stay as they are. Returns how many reasons changed."""
    if not wallet_ids:
        return 0
    rows = session.execute(
        select(Posting.id, Posting.reason).where(
            Posting.tenant_id == tenant_id, bulk.one_of(session, Posting.wallet_id, wallet_ids)
        )
    ).all()
    changed = {}
    for row in rows:
        reason = redact(row.reason)
        if reason != row.reason:
            changed[row.id] = reason
    for posting_id, reason in changed.items():
        session.execute(
            update(Posting)
            .where(Posting.tenant_id == tenant_id, Posting.id == posting_id)
            .values(reason=reason)
        )
    return len(changed)
