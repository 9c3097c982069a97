"""Ledger arithmetic: pure functions over one wallet's book, no database.

A `Book` is one wallet's balances in one asset (a member's points; a store-credit or gift-card
balance in a currency) and its open lots, loaded under the wallet's lock. Every operation
changes the book in place and returns the postings it made; the repository then writes the
changed book and the postings in a few set-based statements. The engine treats every asset
alike: amounts are integers in the asset's unit, and the caller's `Terms` give the debt policy.

Signs: wallet accounts (`available`, `pending`) are positive when the program owes the holder.
Every posting's program entries mirror its wallet entries, so each sums to zero.

Invariants the operations keep (and `verify-ledger` checks on the stored rows):
- pending == sum(remaining of pending lots)
- max(available, 0) == sum(remaining of available lots); a book in debt has no open lots
- available < 0 only when the terms' policy is `debt`
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from patron.kit.ids import uuid7
from patron.ledger.assets import POINTS, Account, Kind, LotStatus
from patron.ledger.errors import InsufficientBalance, InsufficientPoints

NegativePolicy = Literal["forbid", "debt"]
AVAILABLE, PENDING = Account.AVAILABLE, Account.PENDING


@dataclass(slots=True)
class LotState:
    id: uuid.UUID
    wallet_id: uuid.UUID
    posting_id: uuid.UUID
    order_id: str | None
    state: str  # LotStatus
    amount: int
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


@dataclass(slots=True)
class EntryLine:
    account: str  # Account
    amount: int
    wallet_id: uuid.UUID | None  # None for the program's accounts


@dataclass(slots=True)
class PostingDraft:
    id: uuid.UUID
    wallet_id: uuid.UUID
    asset: str
    kind: str  # Kind
    amount: int
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
    wallet_id: uuid.UUID
    asset: str
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

    def insufficient(self, wanted: int, *, removing: bool = False) -> InsufficientBalance:
        have = max(self.available, 0)
        if self.asset == POINTS:
            return InsufficientPoints(
                f"the member has {have} points available; cannot remove {wanted} under the "
                "program's forbid policy"
                if removing
                else f"the member has {have} points available; {wanted} needed",
                field="points",
                available=have,
            )
        return InsufficientBalance(
            f"the wallet holds {have} (minor units of {self.asset}); {wanted} needed",
            field="amount",
            available=have,
        )


@dataclass(frozen=True, slots=True)
class Terms:
    """What the program says about a posting: its version, expiry and debt policy."""

    program_version: int | None
    policy: NegativePolicy
    expiry_days: int | None


def _posting(
    book: Book, kind: Kind, amount: int, reason: str, now: datetime, **meta: Any
) -> PostingDraft:
    return PostingDraft(
        id=uuid7(),
        wallet_id=book.wallet_id,
        asset=book.asset,
        kind=kind,
        amount=amount,
        reason=reason,
        created_at=now,
        **meta,
    )


def _new_lot(
    book: Book,
    posting: PostingDraft,
    amount: int,
    *,
    state: str,
    earned_at: datetime,
    vests_at: datetime | None,
    expires_at: datetime | None,
) -> LotState:
    lot = LotState(
        id=uuid7(),
        wallet_id=book.wallet_id,
        posting_id=posting.id,
        order_id=posting.order_id,
        state=state,
        amount=amount,
        remaining=amount,
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


def _credit_available(book: Book, posting: PostingDraft, lot: LotState, amount: int) -> None:
    """Add to available; a book in debt pays the debt first out of the new lot."""
    if book.available < 0:
        paid = min(amount, -book.available)
        lot.remaining -= paid
        posting.uses.append((lot.id, paid))
        posting.detail["debt_paid"] = paid
    book.available += amount
    book.changed = True


def _consume(
    book: Book, posting: PostingDraft, amount: int, *, prefer_order: str | None = None
) -> int:
    """Take up to `amount` from available lots, soonest-expiring first (the given order's own
    lots before any other). Returns how much was taken."""
    lots = [lot for lot in book.open_lots() if lot.state == AVAILABLE and lot.remaining > 0]
    lots.sort(
        key=lambda lot: (lot.order_id != prefer_order or prefer_order is None, *lot.expiry_key())
    )
    taken = 0
    for lot in lots:
        if taken == amount:
            break
        use = min(lot.remaining, amount - taken)
        lot.remaining -= use
        lot.changed = True
        posting.uses.append((lot.id, use))
        taken += use
    return taken


def earn(
    book: Book,
    amount: int,
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
    """Credit what was earned: into pending while the return window is open, else available."""
    if amount <= 0:
        raise ValueError("earn needs a positive amount")
    posting = _posting(
        book,
        Kind.EARN,
        amount,
        reason,
        now,
        event_id=event_id,
        order_id=order_id,
        program_version=terms.program_version,
        detail=dict(detail or {}),
    )
    pending = vests_at is not None and vests_at > now
    account = PENDING if pending else AVAILABLE
    posting.entries = [
        EntryLine(account, amount, book.wallet_id),
        EntryLine(Account.ISSUED, -amount, None),
    ]
    lot = _new_lot(
        book,
        posting,
        amount,
        state=LotStatus(account),
        earned_at=earned_at,
        vests_at=vests_at if pending else None,
        expires_at=expires_at,
    )
    if pending:
        book.pending += amount
        book.changed = True
    else:
        _credit_available(book, posting, lot, amount)
    book.lifetime += amount
    posting.detail["account"] = str(account)
    return posting


def vest(book: Book, lot: LotState, *, now: datetime, terms: Terms) -> PostingDraft:
    """Move a pending lot's remaining amount to available once its return window closed."""
    amount = lot.remaining
    posting = _posting(
        book,
        Kind.VEST,
        0,
        "Return window closed",
        now,
        order_id=lot.order_id,
        program_version=terms.program_version,
        detail={"lot_id": str(lot.id), "points": amount},
    )
    posting.entries = [
        EntryLine(PENDING, -amount, book.wallet_id),
        EntryLine(AVAILABLE, amount, book.wallet_id),
    ]
    lot.state = LotStatus.AVAILABLE
    lot.changed = True
    book.pending -= amount
    _credit_available(book, posting, lot, amount)
    return posting


def claw_back(
    book: Book,
    amount: int,
    *,
    now: datetime,
    reason: str,
    terms: Terms,
    order_id: str,
    event_id: uuid.UUID | None = None,
    detail: dict[str, Any] | None = None,
) -> list[PostingDraft]:
    """Take back what an order earned: from the order's pending lots first, then from
    available. What cannot be recovered becomes debt or, under `forbid`, a write-off."""
    if amount <= 0:
        return []
    meta = dict(event_id=event_id, order_id=order_id, program_version=terms.program_version)
    posting = _posting(book, Kind.CLAW_BACK, 0, reason, now, detail=dict(detail or {}), **meta)
    from_pending = 0
    for lot in book.open_lots():
        if lot.state == PENDING and lot.order_id == order_id and lot.remaining > 0:
            use = min(lot.remaining, amount - from_pending)
            lot.remaining -= use
            lot.changed = True
            posting.uses.append((lot.id, use))
            from_pending += use
            if from_pending == amount:
                break
    rest = amount - from_pending
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
            posting.entries.append(EntryLine(PENDING, -from_pending, book.wallet_id))
        if from_available + into_debt:
            posting.entries.append(
                EntryLine(AVAILABLE, -(from_available + into_debt), book.wallet_id)
            )
        posting.entries.append(EntryLine(Account.ISSUED, recovered, None))
        posting.amount = -recovered
        posting.detail.update(
            from_pending=from_pending, from_available=from_available, into_debt=into_debt
        )
        postings.append(posting)
    if written_off:
        write_off = _posting(
            book,
            Kind.WRITE_OFF,
            0,
            f"{written_off} points could not be recovered"
            if book.asset == POINTS
            else f"{written_off} (minor units of {book.asset}) could not be recovered",
            now,
            detail={"points": written_off, "policy": "forbid"},
            **meta,
        )
        write_off.entries = [
            EntryLine(Account.ISSUED, written_off, None),
            EntryLine(Account.WRITTEN_OFF, -written_off, None),
        ]
        postings.append(write_off)
    book.pending -= from_pending
    book.available -= from_available + into_debt
    book.lifetime -= amount
    book.changed = True
    return postings


def adjust(
    book: Book,
    amount: int,
    *,
    now: datetime,
    reason: str,
    terms: Terms,
    expires_at: datetime | None,
) -> PostingDraft:
    """A support agent's correction, positive or negative, with a reason."""
    if amount == 0:
        raise ValueError("an adjustment needs a non-zero amount")
    posting = _posting(
        book, Kind.ADJUST, amount, reason, now, program_version=terms.program_version, detail={}
    )
    posting.entries = [
        EntryLine(AVAILABLE, amount, book.wallet_id),
        EntryLine(Account.ADJUSTED, -amount, None),
    ]
    if amount > 0:
        lot = _new_lot(
            book,
            posting,
            amount,
            state=LotStatus.AVAILABLE,
            earned_at=now,
            vests_at=None,
            expires_at=expires_at,
        )
        _credit_available(book, posting, lot, amount)
        return posting
    wanted = -amount
    if terms.policy == "forbid" and wanted > book.available:
        raise book.insufficient(wanted, removing=True)
    taken = _consume(book, posting, min(wanted, max(book.available, 0)))
    if wanted > taken:
        posting.detail["into_debt"] = wanted - taken
    book.available -= wanted
    book.changed = True
    return posting


def redeem(book: Book, amount: int, *, now: datetime, reason: str, terms: Terms) -> PostingDraft:
    """Spend what is available. Never overdraws, whatever the debt policy."""
    if amount <= 0:
        raise ValueError("redeem needs a positive amount")
    if amount > book.available:
        raise book.insufficient(amount)
    posting = _posting(
        book, Kind.REDEEM, -amount, reason, now, program_version=terms.program_version, detail={}
    )
    posting.entries = [
        EntryLine(AVAILABLE, -amount, book.wallet_id),
        EntryLine(Account.REDEEMED, amount, None),
    ]
    _consume(book, posting, amount)
    book.available -= amount
    book.changed = True
    return posting


def expire(book: Book, lot: LotState, *, now: datetime, terms: Terms) -> PostingDraft:
    """Remove what is left of an available lot past its expiry date."""
    amount = lot.remaining
    posting = _posting(
        book,
        Kind.EXPIRE,
        -amount,
        "Points expired" if book.asset == POINTS else "Balance expired",
        now,
        order_id=lot.order_id,
        program_version=terms.program_version,
        detail={
            "lot_id": str(lot.id),
            "expires_at": lot.expires_at.isoformat() if lot.expires_at else None,
        },
    )
    posting.entries = [
        EntryLine(AVAILABLE, -amount, book.wallet_id),
        EntryLine(Account.EXPIRED, amount, None),
    ]
    posting.uses.append((lot.id, amount))
    lot.remaining = 0
    lot.changed = True
    book.available -= amount
    book.changed = True
    return posting


def settle(book: Book, *, now: datetime, terms: Terms) -> list[PostingDraft]:
    """Bring the book to `now`: vest pending lots whose return window has closed, then expire
    available lots past their date. The scheduled jobs do this for everyone; every debit does
    it first for its wallet, so expired amounts are never spent and vested ones never refused,
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


def transfer(
    source: Book, target: Book, *, now: datetime, reason: str, terms: Terms
) -> list[PostingDraft]:
    """Move everything `source` holds into `target` (same asset): two postings, one out of
    each wallet's accounts and one into the other's, through the `transferred` clearing
    account. Both books must be settled to `now` and have their lots loaded.

    Each open lot moves whole, as a new lot of the target with the same state, order, earning,
    vesting and expiry dates: pending points stay pending until they would have vested, and a
    later claw-back of the order finds them. A debt moves too: the target pays it from its
    available lots, and owes the rest (whatever the policy: the debt existed; moving it must
    neither forgive nor write it off). The lifetime moves with the points, so a later
    claw-back of one of the source's orders takes back from a lifetime that counts it.
    Returns [] when the source holds nothing and never earned anything."""
    if source.asset != target.asset:
        raise ValueError(f"cannot transfer {source.asset} into a {target.asset} wallet")
    if source.wallet_id == target.wallet_id:
        raise ValueError("cannot transfer a wallet into itself")
    available, pending, lifetime = source.available, source.pending, source.lifetime
    lots = [lot for lot in source.open_lots() if lot.remaining > 0]
    target.open_lots()  # a debt is paid from the target's lots: they must be loaded
    if not (available or pending or lifetime or lots):
        return []
    meta = dict(program_version=terms.program_version)
    out = _posting(source, Kind.TRANSFER, -(available + pending), reason, now, **meta)
    into = _posting(target, Kind.TRANSFER, available + pending, reason, now, **meta)
    out.detail = {"direction": "out", "counterpart": str(into.id), "to": str(target.wallet_id)}
    into.detail = {"direction": "in", "counterpart": str(out.id), "from": str(source.wallet_id)}
    clearing = available + pending - lifetime
    for posting, sign in ((out, -1), (into, 1)):
        lines = [
            (Account.AVAILABLE, available, posting.wallet_id),
            (Account.PENDING, pending, posting.wallet_id),
            (Account.ISSUED, -lifetime, None),
            (Account.TRANSFERRED, -clearing, None),
        ]
        posting.entries = [
            EntryLine(account, sign * amount, wallet) for account, amount, wallet in lines if amount
        ]
        posting.detail.update(available=available, pending=pending, lifetime=lifetime)

    debt_paid = 0
    for lot in lots:
        moved = lot.remaining
        lot.remaining = 0
        lot.changed = True
        out.uses.append((lot.id, moved))
        copy = _new_lot(
            target,
            into,
            moved,
            state=lot.state,
            earned_at=lot.earned_at,
            vests_at=lot.vests_at,
            expires_at=lot.expires_at,
        )
        copy.order_id = lot.order_id
        if lot.state == PENDING:
            target.pending += moved
            target.changed = True
        else:
            owed = max(-target.available, 0)
            _credit_available(target, into, copy, moved)
            debt_paid += min(moved, owed)
    if debt_paid:
        into.detail["debt_paid"] = debt_paid
    if available < 0:  # a book in debt holds no available lots: only the debt moves
        debt = -available
        taken = _consume(target, into, min(debt, max(target.available, 0)))
        target.available -= debt
        target.changed = True
        if debt > taken:
            into.detail["into_debt"] = debt - taken
    target.lifetime += lifetime
    source.available = source.pending = source.lifetime = 0
    source.changed = True
    return [out, into]
