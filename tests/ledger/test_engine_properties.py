"""Property tests of the pure ledger engine (`patron.ledger.engine`), no database.

Two state machines drive random sequences of operations on one in-memory book each:

- `BookMachine`: a member's points under either debt policy (earn, claw back, adjust,
  redeem, vest and expire). After every step lots, lot uses, entries and balances agree.
- `MoneyBookMachine`: a store-credit wallet in USD under `forbid`, with no pending (cashback
  credits, partial debits, refunds back to the wallet, corrections, expiry). Besides the same
  agreement, a reference model (money_model.py) predicts every balance and lot, and an
  overdraw is refused as money (`InsufficientBalance`, never `InsufficientPoints`) and
  changes nothing.

The service-level machines (real services, real database) are in test_service_properties.py.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

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
from patron.ledger.assets import PROGRAM_ACCOUNTS
from patron.ledger.errors import InsufficientBalance, InsufficientPoints
from tests.ledger.money_model import MoneyModel, Take, expiries, takes

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# -- a member's points ----------------------------------------------------------------------


class BookMachine(RuleBasedStateMachine):
    """One member's book, changed only by the engine's functions, "stored" after every step
    the way `write_changes` stores it: created lots kept, closed lots dropped from the book."""

    def __init__(self) -> None:
        super().__init__()
        self.book = engine.Book(
            wallet_id=uuid.uuid4(), asset="points", available=0, pending=0, lifetime=0
        )
        self.book.lots = []
        self.terms = engine.Terms(1, "forbid", None)
        self.now = T0
        self.lots: dict[uuid.UUID, engine.LotState] = {}
        self.used: Counter[uuid.UUID] = Counter()
        self.entries: list[engine.EntryLine] = []
        self.orders: dict[str, list[int]] = {}  # order id -> [earned, reversed]
        self.flows: Counter[str] = Counter()

    @initialize(policy=st.sampled_from(["forbid", "debt"]))
    def choose_policy(self, policy: engine.NegativePolicy) -> None:
        self.terms = engine.Terms(1, policy, None)

    def _store(self, postings: list[engine.PostingDraft]) -> None:
        for posting in postings:
            assert len(posting.entries) >= 2, posting
            assert sum(e.amount for e in posting.entries) == 0, posting
            for lot_id, points in posting.uses:
                assert points > 0, posting
                self.used[lot_id] += points
            self.entries += posting.entries
            self.flows[posting.kind] += posting.amount
        for lot in self.book.created:
            self.lots[lot.id] = lot
        self.book.created = []
        self.book.lots = [lot for lot in self.book.open_lots() if lot.remaining > 0]
        for lot in self.book.lots:
            lot.is_new = lot.changed = False

    def _snapshot(self) -> tuple[Any, ...]:
        b = self.book
        return (
            b.available,
            b.pending,
            b.lifetime,
            [(x.id, x.state, x.remaining) for x in b.lots or ()],
        )

    @rule(
        points=st.integers(1, 500),
        pending=st.booleans(),
        expires_in=st.none() | st.integers(1, 40),
    )
    def earn(self, points: int, pending: bool, expires_in: int | None) -> None:
        order_id = f"o{len(self.orders)}"
        posting = engine.earn(
            self.book,
            points,
            now=self.now,
            earned_at=self.now,
            vests_at=self.now + timedelta(days=3) if pending else None,
            expires_at=self.now + timedelta(days=expires_in) if expires_in else None,
            reason="order",
            terms=self.terms,
            order_id=order_id,
        )
        self.orders[order_id] = [points, 0]
        self._store([posting])

    @precondition(lambda self: any(e > r for e, r in self.orders.values()))
    @rule(data=st.data())
    def claw_back(self, data: st.DataObject) -> None:
        open_orders = sorted(o for o, (e, r) in self.orders.items() if e > r)
        order_id = data.draw(st.sampled_from(open_orders), label="order")
        earned, reversed_ = self.orders[order_id]
        points = data.draw(st.integers(1, earned - reversed_), label="points")
        postings = engine.claw_back(
            self.book, points, now=self.now, reason="refund", terms=self.terms, order_id=order_id
        )
        self.orders[order_id][1] += points
        issued_back = sum(e.amount for p in postings for e in p.entries if e.account == "issued")
        assert issued_back == points
        if self.terms.policy == "debt":
            assert all(p.kind != "write_off" for p in postings)
        self._store(postings)

    @rule(points=st.integers(-600, 600).filter(bool))
    def adjust(self, points: int) -> None:
        before = self._snapshot()
        if self.terms.policy == "forbid" and -points > self.book.available:
            with pytest.raises(InsufficientPoints):
                engine.adjust(
                    self.book, points, now=self.now, reason="fix", terms=self.terms, expires_at=None
                )
            assert self._snapshot() == before
            return
        posting = engine.adjust(
            self.book,
            points,
            now=self.now,
            reason="fix",
            terms=self.terms,
            expires_at=self.now + timedelta(days=10),
        )
        self._store([posting])

    @rule(points=st.integers(1, 800))
    def redeem(self, points: int) -> None:
        before = self._snapshot()
        if points > self.book.available:
            with pytest.raises(InsufficientPoints):
                engine.redeem(self.book, points, now=self.now, reason="spend", terms=self.terms)
            assert self._snapshot() == before
            return
        posting = engine.redeem(self.book, points, now=self.now, reason="spend", terms=self.terms)
        self._store([posting])

    @rule(hours=st.integers(1, 24 * 15))
    def vest_and_expire(self, hours: int) -> None:
        """What the job does: vest what is due, then expire what is due."""
        self.now += timedelta(hours=hours)
        postings = []
        for lot in sorted(self.book.open_lots(), key=lambda x: x.earned_at):
            if lot.state == "pending" and lot.vests_at and lot.vests_at <= self.now:
                postings.append(engine.vest(self.book, lot, now=self.now, terms=self.terms))
        for lot in sorted(self.book.open_lots(), key=lambda x: x.earned_at):
            due = lot.expires_at is not None and lot.expires_at <= self.now
            if lot.state == "available" and due and lot.remaining > 0:
                postings.append(engine.expire(self.book, lot, now=self.now, terms=self.terms))
        self._store(postings)
        for lot in self.book.open_lots():
            assert not (lot.state == "pending" and lot.vests_at and lot.vests_at <= self.now)
            assert not (lot.state == "available" and lot.expires_at and lot.expires_at <= self.now)

    @invariant()
    def lots_hold_the_balances(self) -> None:
        b = self.book
        pending = sum(x.remaining for x in self.lots.values() if x.state == "pending")
        available = sum(x.remaining for x in self.lots.values() if x.state == "available")
        assert pending == b.pending
        assert available == max(b.available, 0)
        assert b.pending >= 0
        if self.terms.policy == "forbid":
            assert b.available >= 0

    @invariant()
    def lot_uses_match_lot_decrements(self) -> None:
        for lot in self.lots.values():
            assert 0 <= lot.remaining <= lot.amount
            assert lot.amount - self.used[lot.id] == lot.remaining
        assert {x.id for x in self.book.open_lots()} == {
            x.id for x in self.lots.values() if x.remaining > 0
        }

    @invariant()
    def entries_sum_to_the_balances(self) -> None:
        def total(account: str) -> int:
            return sum(e.amount for e in self.entries if e.account == account)

        assert total("available") == self.book.available
        assert total("pending") == self.book.pending
        assert -total("issued") == self.book.lifetime
        assert sum(e.amount for e in self.entries) == 0
        # What the member holds is what their postings say they gained and lost.
        assert sum(self.flows.values()) == self.book.available + self.book.pending
        assert self.book.lifetime == sum(e - r for e, r in self.orders.values())


def test_engine_keeps_its_invariants() -> None:
    run_state_machine_as_test(
        BookMachine,
        settings=settings(max_examples=150, stateful_step_count=40, deadline=None),
    )


# -- a store-credit wallet in USD -----------------------------------------------------------

USD = "USD"
MONEY_TERMS = engine.Terms(None, "forbid", None)


class MoneyBookMachine(RuleBasedStateMachine):
    """One USD store-credit wallet under `forbid`, changed only by the engine's functions,
    "stored" after every step the way `write_changes` stores it, beside a model of its lots.
    Amounts are cents."""

    def __init__(self) -> None:
        super().__init__()
        self.book = engine.Book(
            wallet_id=uuid.uuid4(), asset=USD, available=0, pending=0, lifetime=0
        )
        self.book.lots = []
        self.now = T0
        self.model = MoneyModel()
        self.lots: dict[uuid.UUID, engine.LotState] = {}
        self.used: Counter[uuid.UUID] = Counter()
        self.postings: list[engine.PostingDraft] = []
        self.debits: list[list[int]] = []  # [debited, refunded] for each debit

    def _store(self, postings: list[engine.PostingDraft]) -> None:
        for posting in postings:
            for lot_id, cents in posting.uses:
                assert cents > 0, posting
                self.used[lot_id] += cents
        self.postings += postings
        for lot in self.book.created:
            self.lots[lot.id] = lot
        self.book.created = []
        self.book.lots = [lot for lot in self.book.open_lots() if lot.remaining > 0]
        for lot in self.book.lots:
            lot.is_new = lot.changed = False

    def _snapshot(self) -> tuple[Any, ...]:
        b = self.book
        return (
            b.available,
            b.pending,
            b.lifetime,
            b.changed,
            len(b.created),
            [(x.id, x.state, x.remaining, x.changed) for x in b.lots or ()],
        )

    def _refused(self, cents: int, call: Callable[[], engine.PostingDraft]) -> None:
        """An overdraw: refused as money, naming what the wallet holds, and nothing moved."""
        before = self._snapshot()
        with pytest.raises(InsufficientBalance) as raised:
            call()
        assert type(raised.value) is InsufficientBalance  # not InsufficientPoints
        assert raised.value.extra["available"] == self.model.available
        assert [e["field"] for e in raised.value.errors] == ["amount"]
        assert USD in raised.value.detail and "point" not in raised.value.detail
        assert str(cents) in raised.value.detail
        assert self._snapshot() == before

    @rule(cents=st.integers(1, 50_000), expires_in=expiries)
    def credit_cashback(self, cents: int, expires_in: int | None) -> None:
        expires_at = self.now + timedelta(days=expires_in) if expires_in else None
        posting = engine.earn(
            self.book,
            cents,
            now=self.now,
            earned_at=self.now,
            vests_at=None,
            expires_at=expires_at,
            reason="Cashback",
            terms=MONEY_TERMS,
        )
        assert (posting.kind, posting.amount) == ("earn", cents)
        assert posting.detail["account"] == "available"  # no return window for money
        self.model.credit(cents, self.now, expires_at)
        self.model.lifetime += cents
        self.model.flows["earn"] += cents
        self._store([posting])

    @rule(take=takes)
    def debit(self, take: Take) -> None:
        """Spend part of the balance at checkout; more than is there is refused."""
        cents = take.of(self.model.available)

        def call() -> engine.PostingDraft:
            return engine.redeem(
                self.book, cents, now=self.now, reason="Checkout", terms=MONEY_TERMS
            )

        if cents > self.model.available:
            self._refused(cents, call)
            return
        posting = call()
        assert (posting.kind, posting.amount) == ("redeem", -cents)
        self.model.debit(cents)
        self.model.flows["redeem"] -= cents
        self.debits.append([cents, 0])
        self._store([posting])

    @precondition(lambda self: any(debited > refunded for debited, refunded in self.debits))
    @rule(data=st.data(), expires_in=expiries)
    def refund_to_the_wallet(self, data: st.DataObject, expires_in: int | None) -> None:
        """A purchase paid with store credit is refunded: the money goes back to the wallet
        as a credit with a reason, never more than the purchase took."""
        refundable = [i for i, (d, r) in enumerate(self.debits) if d > r]
        i = data.draw(st.sampled_from(refundable), label="debit")
        debited, refunded = self.debits[i]
        cents = data.draw(st.integers(1, debited - refunded), label="cents")
        expires_at = self.now + timedelta(days=expires_in) if expires_in else None
        posting = engine.adjust(
            self.book,
            cents,
            now=self.now,
            reason=f"Refund of purchase {i}",
            terms=MONEY_TERMS,
            expires_at=expires_at,
        )
        assert (posting.kind, posting.amount, posting.reason) == (
            "adjust",
            cents,
            f"Refund of purchase {i}",
        )
        self.debits[i][1] += cents
        self.model.credit(cents, self.now, expires_at)
        self.model.flows["adjust"] += cents
        self._store([posting])

    @rule(take=takes)
    def correct_downwards(self, take: Take) -> None:
        """A support agent removes money credited by mistake: under `forbid` never more than
        the wallet holds."""
        cents = take.of(self.model.available)

        def call() -> engine.PostingDraft:
            return engine.adjust(
                self.book,
                -cents,
                now=self.now,
                reason="Credited by mistake",
                terms=MONEY_TERMS,
                expires_at=None,
            )

        if cents > self.model.available:
            self._refused(cents, call)
            return
        posting = call()
        assert (posting.kind, posting.amount) == ("adjust", -cents)
        assert "into_debt" not in posting.detail
        self.model.debit(cents)
        self.model.flows["adjust"] -= cents
        self._store([posting])

    @rule(hours=st.integers(1, 24 * 15))
    def time_passes_and_the_book_settles(self, hours: int) -> None:
        self.now += timedelta(hours=hours)
        postings = engine.settle(self.book, now=self.now, terms=MONEY_TERMS)
        expired = self.model.expire(self.now)
        assert [p.kind for p in postings] == ["expire"] * len(postings)
        assert -sum(p.amount for p in postings) == expired
        self.model.flows["expire"] -= expired
        self._store(postings)
        for lot in self.book.open_lots():
            assert lot.expires_at is None or lot.expires_at > self.now

    @invariant()
    def the_book_matches_the_model(self) -> None:
        b, m = self.book, self.model
        assert (b.available, b.pending, b.lifetime) == (m.available, 0, m.lifetime)
        # The same lots are open, with the same amounts left: debits took from the lots the
        # model says (soonest-expiring first) and expiry removed what the model says.
        assert [(x.remaining, x.expires_at) for x in b.open_lots()] == [
            (x.remaining, x.expires_at) for x in m.open_lots()
        ]

    @invariant()
    def lots_hold_the_balance_which_never_goes_below_zero(self) -> None:
        b = self.book
        assert b.available >= 0
        assert b.pending == 0
        assert all(x.state == "available" for x in self.lots.values())
        assert sum(x.remaining for x in self.lots.values()) == max(b.available, 0)
        for lot in self.lots.values():
            assert lot.wallet_id == b.wallet_id
            assert 0 <= lot.remaining <= lot.amount
            assert lot.amount - self.used[lot.id] == lot.remaining
        assert {x.id for x in b.open_lots()} == {
            x.id for x in self.lots.values() if x.remaining > 0
        }

    @invariant()
    def every_posting_balances_in_usd_on_this_wallet(self) -> None:
        """Entries carry no asset of their own: they are written with their posting's. So a
        posting that names USD and this wallet, whose wallet entries name this wallet and
        whose other entries are the program's, keeps money apart from points."""
        for posting in self.postings:
            assert len(posting.entries) >= 2, posting
            assert sum(e.amount for e in posting.entries) == 0, posting
            assert (posting.asset, posting.wallet_id) == (USD, self.book.wallet_id), posting
            for e in posting.entries:
                if e.account == "available":
                    assert e.wallet_id == self.book.wallet_id, posting
                else:
                    assert e.account in PROGRAM_ACCOUNTS, posting
                    assert e.wallet_id is None, posting
            assert "point" not in posting.reason.lower(), posting

    @invariant()
    def entries_and_postings_sum_to_the_balances(self) -> None:
        def total(account: str) -> int:
            return sum(e.amount for p in self.postings for e in p.entries if e.account == account)

        assert total("available") == self.book.available
        assert -total("issued") == self.book.lifetime
        # What the wallet holds is what its postings say it gained and lost, kind by kind.
        flows: Counter[str] = Counter()
        for p in self.postings:
            flows[p.kind] += p.amount
        assert {k: v for k, v in flows.items() if v} == {
            k: v for k, v in self.model.flows.items() if v
        }
        assert sum(flows.values()) == self.book.available


class TestMoneyBook:
    def test_credits_debits_refunds_and_expiry_keep_a_money_book_sound(self) -> None:
        """Store credit and gift cards run on the engine written for points: it must keep
        the same books in USD, and refuse an overdraw as money."""
        run_state_machine_as_test(
            MoneyBookMachine,
            settings=settings(max_examples=150, stateful_step_count=40, deadline=None),
        )
