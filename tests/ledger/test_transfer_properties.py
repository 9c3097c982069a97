"""Property tests of the ledger engine's `transfer` (a duplicate member merged into another),
no database.

`TwoBooksMachine` drives two members' books under either debt policy with random earns
(pending or not), claw-backs of any order, adjustments, redemptions, vesting and expiry, and
transfers either way at any moment. An order belongs to the book that earned it until a
transfer moves that book's points: then the order belongs to the target, and a later refund
takes back from it. After every step, each book keeps the engine's invariants (its lots hold
its balances; entries and the postings' issued entries sum to its balances and lifetime), the
`transferred` clearing account nets to zero, and every transfer came as a pair of mirrored
postings. A transfer itself moves each open lot whole, with its state, order and dates, and
conserves what the two books hold together.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from patron.ledger import engine
from patron.ledger.errors import InsufficientPoints

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BOOKS = (0, 1)


def _shapes(lots: Iterable[tuple[engine.LotState, int]]) -> list[tuple[object, ...]]:
    """Lots as what a transfer keeps of them: state, amount, order and dates."""
    return sorted(
        (
            (lot.state, amount, lot.order_id, lot.earned_at, lot.vests_at, lot.expires_at)
            for lot, amount in lots
        ),
        key=repr,
    )


class TwoBooksMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.books = [
            engine.Book(uuid.uuid4(), "points", available=0, pending=0, lifetime=0, lots=[])
            for _ in BOOKS
        ]
        self.terms = engine.Terms(1, "forbid", None)
        self.now = T0
        self.lots: dict[uuid.UUID, engine.LotState] = {}
        self.used: Counter[uuid.UUID] = Counter()
        self.postings: list[engine.PostingDraft] = []
        # order id -> [book index that owns it now, earned, reversed]
        self.orders: dict[str, list[int]] = {}

    @initialize(policy=st.sampled_from(["forbid", "debt"]))
    def choose_policy(self, policy: engine.NegativePolicy) -> None:
        self.terms = engine.Terms(1, policy, None)

    def _store(self, postings: list[engine.PostingDraft]) -> None:
        """What write_changes does: keep the postings and created lots, drop closed lots."""
        for posting in postings:
            assert len(posting.entries) >= 2, posting
            assert sum(e.amount for e in posting.entries) == 0, posting
            for lot_id, points in posting.uses:
                assert points > 0, posting
                self.used[lot_id] += points
        self.postings += postings
        for book in self.books:
            for lot in book.created:
                self.lots[lot.id] = lot
            book.created = []
            book.lots = [lot for lot in book.open_lots() if lot.remaining > 0]

    # -- what happens to a member ---------------------------------------------------------

    @rule(
        who=st.sampled_from(BOOKS),
        points=st.integers(1, 500),
        pending=st.booleans(),
        expires_in=st.none() | st.integers(1, 40),
    )
    def earn(self, who: int, points: int, pending: bool, expires_in: int | None) -> None:
        order_id = f"o{len(self.orders)}"
        posting = engine.earn(
            self.books[who],
            points,
            now=self.now,
            earned_at=self.now,
            vests_at=self.now + timedelta(days=3) if pending else None,
            expires_at=self.now + timedelta(days=expires_in) if expires_in else None,
            reason="order",
            terms=self.terms,
            order_id=order_id,
        )
        self.orders[order_id] = [who, points, 0]
        self._store([posting])

    @precondition(lambda self: any(e > r for _, e, r in self.orders.values()))
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        """A refund of any order, after any transfers: it takes back from the book that
        holds the order's points now."""
        open_orders = sorted(o for o, (_, e, r) in self.orders.items() if e > r)
        order_id = data.draw(st.sampled_from(open_orders), label="order")
        owner, earned, reversed_ = self.orders[order_id]
        points = data.draw(st.integers(1, earned - reversed_), label="points")
        book = self.books[owner]
        pending_of_order = sum(
            lot.remaining
            for lot in book.open_lots()
            if lot.state == "pending" and lot.order_id == order_id
        )
        postings = engine.claw_back(
            book, points, now=self.now, reason="refund", terms=self.terms, order_id=order_id
        )
        if postings and postings[0].kind == "claw_back":
            # The order's own pending lots, moved or not, are found first.
            assert postings[0].detail["from_pending"] == min(points, pending_of_order)
        self.orders[order_id][2] += points
        self._store(postings)

    @rule(who=st.sampled_from(BOOKS), points=st.integers(-600, 600).filter(bool))
    def adjust(self, who: int, points: int) -> None:
        book = self.books[who]
        if self.terms.policy == "forbid" and -points > book.available:
            with pytest.raises(InsufficientPoints):
                engine.adjust(
                    book, points, now=self.now, reason="fix", terms=self.terms, expires_at=None
                )
            return
        posting = engine.adjust(
            book,
            points,
            now=self.now,
            reason="fix",
            terms=self.terms,
            expires_at=self.now + timedelta(days=10),
        )
        self._store([posting])

    @rule(who=st.sampled_from(BOOKS), points=st.integers(1, 800))
    def redeem(self, who: int, points: int) -> None:
        book = self.books[who]
        if points > book.available:
            return
        self._store([engine.redeem(book, points, now=self.now, reason="spend", terms=self.terms)])

    @rule(hours=st.integers(1, 24 * 15))
    def time_passes(self, hours: int) -> None:
        self.now += timedelta(hours=hours)
        for book in self.books:
            self._store(engine.settle(book, now=self.now, terms=self.terms))

    # -- the merge ------------------------------------------------------------------------

    @rule(source=st.sampled_from(BOOKS))
    def transfer(self, source: int) -> None:
        target = 1 - source
        out_of, into = self.books[source], self.books[target]
        for book in (out_of, into):  # as the service does: both settled first
            self._store(engine.settle(book, now=self.now, terms=self.terms))
        held = (out_of.available, out_of.pending, out_of.lifetime)
        together = (
            out_of.available + into.available,
            out_of.pending + into.pending,
            out_of.lifetime + into.lifetime,
        )
        moving = _shapes((lot, lot.remaining) for lot in out_of.open_lots() if lot.remaining)
        postings = engine.transfer(out_of, into, now=self.now, reason="merged", terms=self.terms)
        if not any(held) and not moving:
            assert postings == []
            return
        out, in_ = postings
        assert (out.kind, in_.kind) == ("transfer", "transfer")
        assert (out.wallet_id, in_.wallet_id) == (out_of.wallet_id, into.wallet_id)
        assert out.amount == -in_.amount == -(held[0] + held[1])
        assert out.detail["counterpart"] == str(in_.id)
        assert in_.detail["counterpart"] == str(out.id)
        # Lot by lot, dates, state and order kept; the target's debt paid out of them first.
        copies = _shapes((lot, lot.amount) for lot in into.created)
        assert copies == moving
        assert (out_of.available, out_of.pending, out_of.lifetime) == (0, 0, 0)
        assert out_of.open_lots() == [] or all(x.remaining == 0 for x in out_of.open_lots())
        assert (into.available, into.pending, into.lifetime) == together
        for order in self.orders.values():
            if order[0] == source:
                order[0] = target
        self._store(postings)

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def each_books_lots_hold_its_balances(self) -> None:
        for book in self.books:
            mine = [x for x in self.lots.values() if x.wallet_id == book.wallet_id]
            assert sum(x.remaining for x in mine if x.state == "pending") == book.pending
            assert sum(x.remaining for x in mine if x.state == "available") == max(
                book.available, 0
            )
            assert book.pending >= 0
            if self.terms.policy == "forbid":
                assert book.available >= 0

    @invariant()
    def lot_uses_match_lot_decrements(self) -> None:
        for lot in self.lots.values():
            assert 0 <= lot.remaining <= lot.amount
            assert lot.amount - self.used[lot.id] == lot.remaining

    @invariant()
    def entries_sum_to_each_books_balances(self) -> None:
        for book in self.books:

            def total(account: str, wallet: uuid.UUID = book.wallet_id) -> int:
                return sum(
                    e.amount
                    for p in self.postings
                    for e in p.entries
                    if e.account == account and e.wallet_id == wallet
                )

            issued = sum(
                e.amount
                for p in self.postings
                if p.wallet_id == book.wallet_id
                for e in p.entries
                if e.account == "issued"
            )
            assert total("available") == book.available
            assert total("pending") == book.pending
            assert -issued == book.lifetime
            held = sum(p.amount for p in self.postings if p.wallet_id == book.wallet_id)
            assert held == book.available + book.pending

    @invariant()
    def transfers_clear_and_pair(self) -> None:
        entries = [e for p in self.postings for e in p.entries]
        assert sum(e.amount for e in entries) == 0
        assert sum(e.amount for e in entries if e.account == "transferred") == 0
        transfers = {str(p.id): p for p in self.postings if p.kind == "transfer"}
        for p in transfers.values():
            other = transfers[p.detail["counterpart"]]
            assert other.detail["counterpart"] == str(p.id)
            assert other.amount == -p.amount and other.wallet_id != p.wallet_id

    @invariant()
    def lifetime_is_what_the_orders_of_each_book_kept(self) -> None:
        """A book's lifetime counts the orders it owns (moved ones included), whatever was
        spent, expired or adjusted."""
        for i, book in enumerate(self.books):
            assert book.lifetime == sum(e - r for owner, e, r in self.orders.values() if owner == i)


def test_transfers_keep_every_invariant_of_both_books() -> None:
    run_state_machine_as_test(
        TwoBooksMachine,
        settings=settings(max_examples=200, stateful_step_count=40, deadline=None),
    )


class TestTransfer:
    def _book(self) -> engine.Book:
        return engine.Book(uuid.uuid4(), "points", available=0, pending=0, lifetime=0, lots=[])

    def test_pending_points_stay_pending_until_they_would_have_vested(self) -> None:
        terms = engine.Terms(1, "forbid", None)
        dup, survivor = self._book(), self._book()
        vests = T0 + timedelta(days=14)
        engine.earn(
            dup,
            80,
            now=T0,
            earned_at=T0,
            vests_at=vests,
            expires_at=None,
            reason="o",
            terms=terms,
            order_id="#1",
        )
        engine.transfer(dup, survivor, now=T0 + timedelta(days=1), reason="m", terms=terms)
        assert (survivor.available, survivor.pending) == (0, 80)
        assert engine.settle(survivor, now=vests - timedelta(seconds=1), terms=terms) == []
        [vest] = engine.settle(survivor, now=vests, terms=terms)
        assert (vest.kind, survivor.available, survivor.pending) == ("vest", 80, 0)

    def test_a_debt_moves_and_is_paid_from_the_targets_points(self) -> None:
        terms = engine.Terms(1, "debt", None)
        dup, survivor = self._book(), self._book()
        engine.earn(
            dup,
            100,
            now=T0,
            earned_at=T0,
            vests_at=None,
            expires_at=None,
            reason="o",
            terms=terms,
            order_id="#1",
        )
        engine.redeem(dup, 90, now=T0, reason="spend", terms=terms)
        engine.claw_back(dup, 100, now=T0, reason="refund", terms=terms, order_id="#1")
        assert dup.available == -90
        engine.adjust(survivor, 50, now=T0, reason="gift", terms=terms, expires_at=None)
        _, into = engine.transfer(dup, survivor, now=T0, reason="m", terms=terms)
        assert survivor.available == -40
        assert into.detail["into_debt"] == 40
        assert [lot.remaining for lot in survivor.open_lots()] == [0]

    def test_nothing_to_move_makes_no_posting(self) -> None:
        terms = engine.Terms(1, "forbid", None)
        assert engine.transfer(self._book(), self._book(), now=T0, reason="m", terms=terms) == []

    def test_refuses_another_asset_or_the_same_wallet(self) -> None:
        terms = engine.Terms(1, "forbid", None)
        book = self._book()
        usd = engine.Book(uuid.uuid4(), "USD", available=0, pending=0, lifetime=0, lots=[])
        with pytest.raises(ValueError):
            engine.transfer(book, usd, now=T0, reason="m", terms=terms)
        with pytest.raises(ValueError):
            engine.transfer(book, book, now=T0, reason="m", terms=terms)
