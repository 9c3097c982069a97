"""Ledger arithmetic: pure functions over a member's book, no database.

A `Book` is one member's balances and open lots, loaded under the member's lock. Every
operation changes the book in place and returns the postings it made; the repository then
writes the changed book and the postings in a few set-based statements.

Signs: member accounts (`available`, `pending`) are positive when points are owed to the
member. Every posting's program entries mirror its member entries, so each sums to zero.

Invariants the operations keep (and `verify-ledger` checks on the stored rows):
- pending == sum(remaining of pending lots)
- max(available, 0) == sum(remaining of available lots); a member in debt has no open lots
- available < 0 only when the program's policy is `debt`
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from patron.kit.ids import uuid7
from patron.ledger.errors import InsufficientPoints

NegativePolicy = Literal["forbid", "debt"]

# Program accounts.
ISSUED, REDEEMED, EXPIRED, ADJUSTED, WRITTEN_OFF = (
    "issued",
    "redeemed",
    "expired",
    "adjusted",
    "written_off",
)
# Member accounts.
AVAILABLE, PENDING = "available", "pending"
MEMBER_ACCOUNTS = (AVAILABLE, PENDING)
PROGRAM_ACCOUNTS = (ISSUED, REDEEMED, EXPIRED, ADJUSTED, WRITTEN_OFF)


@dataclass
class LotState:
    id: uuid.UUID
    member_id: uuid.UUID
    posting_id: uuid.UUID
    order_id: str | None
    state: str  # pending | available
    points: int
    remaining: int
    earned_at: datetime
    vests_at: datetime | None
    expires_at: datetime | None
    is_new: bool = False
    changed: bool = False

    def expiry_key(self) -> tuple[int, datetime, datetime]:
        # Soonest-expiring first; lots that never expire last; then oldest first.
        far = self.expires_at or self.earned_at
        return (0 if self.expires_at else 1, far, self.earned_at)


@dataclass
class EntryLine:
    account: str
    amount: int
    member_id: uuid.UUID | None


@dataclass
class PostingDraft:
    id: uuid.UUID
    member_id: uuid.UUID
    kind: str
    points: int
    reason: str
    created_at: datetime
    entries: list[EntryLine] = field(default_factory=list)
    uses: list[tuple[uuid.UUID, int]] = field(default_factory=list)
    event_id: uuid.UUID | None = None
    order_id: str | None = None
    program_version: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def check_balanced(self) -> None:
        total = sum(e.amount for e in self.entries)
        if total != 0:  # a programming error, never a client's
            raise AssertionError(f"posting {self.kind} does not balance: {total}")


@dataclass
class Book:
    member_id: uuid.UUID
    available: int
    pending: int
    lifetime: int
    # Open lots (remaining > 0) plus any created or touched in this unit of work. None when
    # not loaded: operations that consume lots need them.
    lots: list[LotState] | None = None
    # Lots created in this unit of work, whether or not the open lots were loaded.
    created: list[LotState] = field(default_factory=list)
    changed: bool = False

    def open_lots(self) -> list[LotState]:
        if self.lots is None:
            raise RuntimeError("lots of this book were not loaded")
        return self.lots


@dataclass
class Terms:
    """What the program says about a posting: its version, expiry and debt policy."""

    program_version: int | None
    policy: NegativePolicy
    expiry_days: int | None


def _posting(
    book: Book, kind: str, points: int, reason: str, now: datetime, **meta: Any
) -> PostingDraft:
    return PostingDraft(
        id=uuid7(),
        member_id=book.member_id,
        kind=kind,
        points=points,
        reason=reason,
        created_at=now,
        **meta,
    )


def _new_lot(
    book: Book,
    posting: PostingDraft,
    points: int,
    *,
    state: str,
    earned_at: datetime,
    vests_at: datetime | None,
    expires_at: datetime | None,
) -> LotState:
    lot = LotState(
        id=uuid7(),
        member_id=book.member_id,
        posting_id=posting.id,
        order_id=posting.order_id,
        state=state,
        points=points,
        remaining=points,
        earned_at=earned_at,
        vests_at=vests_at,
        expires_at=expires_at,
        is_new=True,
        changed=True,
    )
    book.created.append(lot)
    if book.lots is not None:
        book.lots.append(lot)
    return lot


def _credit_available(book: Book, posting: PostingDraft, lot: LotState, points: int) -> None:
    """Add points to available; a member in debt pays the debt first out of the new lot."""
    if book.available < 0:
        paid = min(points, -book.available)
        lot.remaining -= paid
        posting.uses.append((lot.id, paid))
        posting.detail["debt_paid"] = paid
    book.available += points
    book.changed = True


def _consume(
    book: Book, posting: PostingDraft, points: int, *, prefer_order: str | None = None
) -> int:
    """Take up to `points` from available lots, soonest-expiring first (the given order's own
    lots before any other). Returns how many were taken."""
    lots = [lot for lot in book.open_lots() if lot.state == AVAILABLE and lot.remaining > 0]
    lots.sort(
        key=lambda lot: (lot.order_id != prefer_order or prefer_order is None, *lot.expiry_key())
    )
    taken = 0
    for lot in lots:
        if taken == points:
            break
        use = min(lot.remaining, points - taken)
        lot.remaining -= use
        lot.changed = True
        posting.uses.append((lot.id, use))
        taken += use
    return taken


def earn(
    book: Book,
    points: int,
    *,
    now: datetime,
    earned_at: datetime,
    vests_at: datetime | None,
    expires_at: datetime | None,
    reason: str,
    terms: Terms,
    event_id: uuid.UUID | None = None,
    order_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> PostingDraft:
    """Credit points earned: into pending while the return window is open, else available."""
    if points <= 0:
        raise ValueError("earn needs a positive amount")
    posting = _posting(
        book,
        "earn",
        points,
        reason,
        now,
        event_id=event_id,
        order_id=order_id,
        program_version=terms.program_version,
        detail=dict(detail or {}),
    )
    pending = vests_at is not None and vests_at > now
    account = PENDING if pending else AVAILABLE
    posting.entries = [EntryLine(account, points, book.member_id), EntryLine(ISSUED, -points, None)]
    lot = _new_lot(
        book,
        posting,
        points,
        state=account,
        earned_at=earned_at,
        vests_at=vests_at if pending else None,
        expires_at=expires_at,
    )
    if pending:
        book.pending += points
        book.changed = True
    else:
        _credit_available(book, posting, lot, points)
    book.lifetime += points
    posting.detail["account"] = account
    return posting


def vest(book: Book, lot: LotState, *, now: datetime, terms: Terms) -> PostingDraft:
    """Move a pending lot's remaining points to available once its return window closed."""
    points = lot.remaining
    posting = _posting(
        book,
        "vest",
        0,
        "Return window closed",
        now,
        order_id=lot.order_id,
        program_version=terms.program_version,
        detail={"lot_id": str(lot.id), "points": points},
    )
    posting.entries = [
        EntryLine(PENDING, -points, book.member_id),
        EntryLine(AVAILABLE, points, book.member_id),
    ]
    lot.state = AVAILABLE
    lot.changed = True
    book.pending -= points
    _credit_available(book, posting, lot, points)
    return posting


def claw_back(
    book: Book,
    points: int,
    *,
    now: datetime,
    reason: str,
    terms: Terms,
    order_id: str,
    event_id: uuid.UUID | None = None,
    detail: dict[str, Any] | None = None,
) -> list[PostingDraft]:
    """Take back points an order earned: from the order's pending lots first, then from
    available. What cannot be recovered becomes debt or, under `forbid`, a write-off."""
    if points <= 0:
        return []
    meta = dict(event_id=event_id, order_id=order_id, program_version=terms.program_version)
    posting = _posting(book, "claw_back", 0, reason, now, detail=dict(detail or {}), **meta)
    from_pending = 0
    for lot in book.open_lots():
        if lot.state == PENDING and lot.order_id == order_id and lot.remaining > 0:
            use = min(lot.remaining, points - from_pending)
            lot.remaining -= use
            lot.changed = True
            posting.uses.append((lot.id, use))
            from_pending += use
            if from_pending == points:
                break
    rest = points - from_pending
    from_available = _consume(
        book, posting, min(rest, max(book.available, 0)), prefer_order=order_id
    )
    shortfall = rest - from_available
    into_debt = shortfall if terms.policy == "debt" else 0
    written_off = shortfall - into_debt

    recovered = from_pending + from_available + into_debt
    postings = []
    if recovered:
        if from_pending:
            posting.entries.append(EntryLine(PENDING, -from_pending, book.member_id))
        if from_available + into_debt:
            posting.entries.append(
                EntryLine(AVAILABLE, -(from_available + into_debt), book.member_id)
            )
        posting.entries.append(EntryLine(ISSUED, recovered, None))
        posting.points = -recovered
        posting.detail.update(
            from_pending=from_pending, from_available=from_available, into_debt=into_debt
        )
        postings.append(posting)
    if written_off:
        write_off = _posting(
            book,
            "write_off",
            0,
            f"{written_off} points could not be recovered",
            now,
            detail={"points": written_off, "policy": "forbid"},
            **meta,
        )
        write_off.entries = [
            EntryLine(ISSUED, written_off, None),
            EntryLine(WRITTEN_OFF, -written_off, None),
        ]
        postings.append(write_off)
    book.pending -= from_pending
    book.available -= from_available + into_debt
    book.lifetime -= points
    book.changed = True
    return postings


def adjust(
    book: Book,
    points: int,
    *,
    now: datetime,
    reason: str,
    terms: Terms,
    expires_at: datetime | None,
) -> PostingDraft:
    """A support agent's correction, positive or negative, with a reason."""
    if points == 0:
        raise ValueError("an adjustment needs a non-zero amount")
    posting = _posting(
        book, "adjust", points, reason, now, program_version=terms.program_version, detail={}
    )
    posting.entries = [
        EntryLine(AVAILABLE, points, book.member_id),
        EntryLine(ADJUSTED, -points, None),
    ]
    if points > 0:
        lot = _new_lot(
            book,
            posting,
            points,
            state=AVAILABLE,
            earned_at=now,
            vests_at=None,
            expires_at=expires_at,
        )
        _credit_available(book, posting, lot, points)
        return posting
    wanted = -points
    if terms.policy == "forbid" and wanted > book.available:
        raise InsufficientPoints(
            f"the member has {max(book.available, 0)} points available; cannot remove "
            f"{wanted} under the program's forbid policy",
            field="points",
            available=max(book.available, 0),
        )
    _consume(book, posting, min(wanted, max(book.available, 0)))
    book.available -= wanted
    book.changed = True
    return posting


def redeem(book: Book, points: int, *, now: datetime, reason: str, terms: Terms) -> PostingDraft:
    """Spend available points. Never overdraws, whatever the debt policy."""
    if points <= 0:
        raise ValueError("redeem needs a positive amount")
    if points > book.available:
        raise InsufficientPoints(
            f"the member has {max(book.available, 0)} points available; {points} needed",
            field="points",
            available=max(book.available, 0),
        )
    posting = _posting(
        book, "redeem", -points, reason, now, program_version=terms.program_version, detail={}
    )
    posting.entries = [
        EntryLine(AVAILABLE, -points, book.member_id),
        EntryLine(REDEEMED, points, None),
    ]
    _consume(book, posting, points)
    book.available -= points
    book.changed = True
    return posting


def expire(book: Book, lot: LotState, *, now: datetime, terms: Terms) -> PostingDraft:
    """Remove what is left of an available lot past its expiry date."""
    points = lot.remaining
    posting = _posting(
        book,
        "expire",
        -points,
        "Points expired",
        now,
        order_id=lot.order_id,
        program_version=terms.program_version,
        detail={
            "lot_id": str(lot.id),
            "expires_at": lot.expires_at.isoformat() if lot.expires_at else None,
        },
    )
    posting.entries = [
        EntryLine(AVAILABLE, -points, book.member_id),
        EntryLine(EXPIRED, points, None),
    ]
    posting.uses.append((lot.id, points))
    lot.remaining = 0
    lot.changed = True
    book.available -= points
    book.changed = True
    return posting


def settle(book: Book, *, now: datetime, terms: Terms) -> list[PostingDraft]:
    """Bring the book to `now`: vest pending lots whose return window has closed, then expire
    available lots past their date. The scheduled jobs do this for everyone; every debit does
    it first for its member, so expired points are never spent and vested ones never refused,
    however late the jobs run."""
    postings = []
    for lot in sorted(book.open_lots(), key=lambda lot: lot.earned_at):
        if lot.state == PENDING and lot.vests_at and lot.vests_at <= now and lot.remaining > 0:
            postings.append(vest(book, lot, now=now, terms=terms))
    for lot in sorted(book.open_lots(), key=lambda lot: lot.earned_at):
        if (
            lot.state == AVAILABLE
            and lot.expires_at
            and lot.expires_at <= now
            and lot.remaining > 0
        ):
            postings.append(expire(book, lot, now=now, terms=terms))
    return postings
