"""The pipeline and the built-in handlers without a database.

The handlers are pure code over the loaded parts: these tests fill the parts of an in-memory
`Batch` by hand (members with their points book, stored orders), run every registered handler
of each event as the pipeline does, and read what they did. What the database adds (locking,
loading, writing) is covered by tests/events and tests/ingest/test_extension.py.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import patron.handlers  # noqa: F401  (registers the built-in handlers)
from patron.errors import InvalidInput
from patron.events.errors import EventConflict
from patron.events.schemas import EventBase
from patron.ingest.batch import Batch, Item, Outcome, Status
from patron.ingest.pipeline import body_hash, pipeline
from patron.ingest.registry import registry
from patron.kit.ids import uuid7
from patron.ledger import engine
from patron.ledger.assets import POINTS
from patron.ledger.engine import Book, LotState, PostingDraft
from patron.members.handlers import MEMBERS
from patron.members.state import MemberState
from patron.orders.handlers import ORDERS
from patron.orders.state import OrderState
from patron.programs.schemas import Program
from tests.factories import member_enrolled, order_cancelled, order_placed, order_refunded

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def program(**terms: Any) -> Program:
    return Program(currency="USD", version=1, published_at=NOW - timedelta(days=30), **terms)


def member(
    external_id: str, *, status: str = "active", joined_by: int | None = None
) -> MemberState:
    """A member as the members part loads it: locked, with an empty points book whose open
    lots were loaded (claw-backs need them)."""
    member_id = uuid7()
    book = Book(wallet_id=member_id, asset=POINTS, available=0, pending=0, lifetime=0, lots=[])
    return MemberState(
        id=member_id,
        external_id=external_id,
        status=status,
        book=book,
        orders_count=0,
        total_spent=0,
        first_order_at=None,
        last_order_at=None,
        joined_by=joined_by,
    )


def batch(events: list[dict[str, Any]], *, terms: Program, members: list[MemberState]) -> Batch:
    """A batch of validated events with its members part filled in."""
    items = []
    for i, body in enumerate(events):
        event = registry.adapter().validate_python(body)
        payload = event.model_dump(mode="json")
        items.append(
            Item(
                index=i,
                event=event,
                payload=payload,
                hash=body_hash(payload),
                path=f"events.{i}.",
                row_id=uuid7(),
            )
        )
    b = Batch(tenant_id=uuid.uuid4(), program=terms, now=NOW, items=items)
    part = b.part(MEMBERS)
    # What MembersPart.load leaves behind: the members by external id and by id.
    part.states = {m.external_id: m for m in members}
    part._by_id = {m.id: m for m in members}
    return b


def apply(b: Batch) -> list[dict[str, Any]]:
    """Every registered handler of each event, in the order sent, as the pipeline applies
    them; the results as the API renders them."""
    for item in b.items:
        b.current = item
        for h in registry.handlers(item.event.type):
            outcome = h.apply(b, item)
            if outcome is not None:
                item.outcomes.append(outcome)
    return [item.render() for item in b.items]


def stored_order(owner: MemberState, order_id: str, total: int, earned: int) -> OrderState:
    """An order placed by an earlier ingestion, as the orders part loads it."""
    return OrderState(
        id=uuid7(),
        order_id=order_id,
        member_id=owner.id,
        customer_external_id=owner.external_id,
        currency="USD",
        total=total,
        subtotal=None,
        refunded=0,
        status="placed",
        points_earned=earned,
        points_reversed=0,
        placed_at=NOW - timedelta(days=1),
        event_id=uuid7(),
    )


def available_lot(owner: MemberState, order_id: str, amount: int, *, spent: int = 0) -> None:
    """Points an earlier order earned and that vested, of which `spent` were spent since."""
    owner.book.lots = [
        *(owner.book.lots or []),
        LotState(
            id=uuid7(),
            wallet_id=owner.id,
            posting_id=uuid7(),
            order_id=order_id,
            state="available",
            amount=amount,
            remaining=amount - spent,
            earned_at=NOW - timedelta(days=1),
            vests_at=None,
            expires_at=None,
        ),
    ]
    owner.book.available += amount - spent
    owner.book.lifetime += amount


def entries(result: dict[str, Any]) -> list[dict[str, int]]:
    return [{e["account"]: e["amount"] for e in p["entries"]} for p in result["postings"]]


class TestOrderPlacedEarnsPoints:
    def test_an_order_earns_floor_of_total_times_rate_pending_until_the_window_closes(
        self,
    ) -> None:
        ada = member("ada")
        at = NOW - timedelta(hours=2)
        b = batch(
            [order_placed("ada", "o1", "33.35", at=at)],
            terms=program(points_per_unit=Decimal("1.5"), pending_days=14, expiry_days=365),
            members=[ada],
        )
        [result] = apply(b)
        # 33.35 x 1.5 = 50.025, rounded down.
        assert (result["status"], result["points"], result["member"]) == ("applied", 50, "ada")
        assert entries(result) == [{"pending": 50, "issued": -50}]
        assert "pending until 2026-03-15" in result["message"]
        [lot] = ada.book.created
        assert lot.vests_at == at + timedelta(days=14)
        assert lot.expires_at == at + timedelta(days=365)
        assert (ada.book.pending, ada.book.available, ada.book.lifetime) == (50, 0, 50)
        order = b.part(ORDERS).orders["o1"]
        assert (order.total, order.points_earned, order.member_id) == (3335, 50, ada.id)
        assert (ada.orders_count, ada.total_spent) == (1, 3335)

    def test_an_order_older_than_the_window_is_available_at_once(self) -> None:
        ada = member("ada")
        b = batch(
            [order_placed("ada", "o1", "20.00", at=NOW - timedelta(days=15))],
            terms=program(pending_days=14),
            members=[ada],
        )
        [result] = apply(b)
        assert entries(result) == [{"available": 20, "issued": -20}]
        assert "available now" in result["message"]
        assert (ada.book.pending, ada.book.available) == (0, 20)

    def test_an_order_too_small_to_earn_a_point_has_no_effect(self) -> None:
        ada = member("ada")
        b = batch([order_placed("ada", "o1", "0.99", at=NOW)], terms=program(), members=[ada])
        [result] = apply(b)
        assert (result["status"], result["points"], result["postings"]) == ("no_effect", 0, [])
        assert ada.orders_count == 1

    def test_a_suspended_member_earns_nothing_but_the_order_is_kept(self) -> None:
        ada = member("ada", status="suspended")
        b = batch([order_placed("ada", "o1", "80.00", at=NOW)], terms=program(), members=[ada])
        [result] = apply(b)
        assert (result["status"], result["points"]) == ("member_suspended", 0)
        assert result["postings"] == [] and ada.book.created == []
        assert (ada.book.available, ada.book.pending, ada.book.lifetime) == (0, 0, 0)
        assert b.part(ORDERS).orders["o1"].points_earned == 0

    def test_an_order_in_another_currency_is_refused_naming_the_field(self) -> None:
        b = batch(
            [
                order_placed("ada", "o1", "5.00", at=NOW),
                order_placed("ada", "o2", "5.00", at=NOW, currency="EUR"),
            ],
            terms=program(),
            members=[member("ada")],
        )
        with pytest.raises(InvalidInput) as caught:
            apply(b)
        assert caught.value.errors[0]["field"] == "events.1.data.currency"


class TestEnrolmentOrderInsideABatch:
    def test_an_event_before_the_enrolling_event_sees_no_member(self) -> None:
        # As MembersPart.load leaves a customer that event 1 of the batch enrols.
        ada = member("ada", joined_by=1)
        b = batch(
            [
                order_placed("ada", "o1", "10.00", at=NOW),
                member_enrolled("ada", at=NOW),
                order_placed("ada", "o2", "30.00", at=NOW),
            ],
            terms=program(auto_enroll=False),
            members=[ada],
        )
        before, enrolled, after = apply(b)
        assert (before["status"], before["points"], before["member"]) == ("not_member", 0, None)
        assert b.part(ORDERS).orders["o1"].member_id is None
        assert (enrolled["status"], enrolled["enrolled"]) == ("applied", True)
        assert (after["status"], after["points"], after["enrolled"]) == ("applied", 30, False)
        assert (ada.orders_count, ada.total_spent, ada.book.lifetime) == (1, 3000, 30)

    def test_the_order_that_enrols_a_customer_says_so_and_a_later_enrolment_has_no_effect(
        self,
    ) -> None:
        ada = member("ada", joined_by=0)  # auto-enrolled by the order, event 0
        b = batch(
            [order_placed("ada", "o1", "10.00", at=NOW), member_enrolled("ada", at=NOW)],
            terms=program(),
            members=[ada],
        )
        order, enrolled = apply(b)
        assert (order["status"], order["enrolled"], order["points"]) == ("applied", True, 10)
        assert (enrolled["status"], enrolled["enrolled"]) == ("no_effect", False)
        assert "a member already" in enrolled["message"]


class TestRefunds:
    def test_partial_refunds_take_back_the_cumulative_share_and_add_up_to_what_was_earned(
        self,
    ) -> None:
        ada = member("ada")
        b = batch(
            [
                order_placed("ada", "o1", "10.00", at=NOW),
                order_refunded("ada", "o1", "3.33", at=NOW),
                order_refunded("ada", "o1", "3.33", at=NOW),
                order_refunded("ada", "o1", "3.34", at=NOW),
            ],
            terms=program(),
            members=[ada],
        )
        results = apply(b)
        # Shares of 10 points at 33.3%, 66.6%, 100% are 3, 6 and 10: rounding each refund
        # on its own would take back 3 + 3 + 3 and leave a point behind.
        assert [r["points"] for r in results] == [10, -3, -3, -4]
        order = b.part(ORDERS).orders["o1"]
        assert (order.refunded, order.points_reversed) == (1000, 10)
        assert (ada.book.available, ada.book.lifetime, ada.total_spent) == (0, 0, 0)

    def test_a_refund_beyond_the_total_is_refused_naming_the_event(self) -> None:
        ada = member("ada")
        b = batch(
            [
                order_placed("ada", "o1", "10.00", at=NOW),
                order_refunded("ada", "o1", "10.00", at=NOW),
                order_refunded("ada", "o1", "0.01", at=NOW),
            ],
            terms=program(),
            members=[ada],
        )
        with pytest.raises(InvalidInput) as caught:
            apply(b)
        assert caught.value.errors[0]["field"] == "events.2.data.amount"

    def test_a_refund_of_an_order_never_reported_is_refused_naming_the_event(self) -> None:
        b = batch([order_refunded("ada", "nope", "1.00", at=NOW)], terms=program(), members=[])
        with pytest.raises(InvalidInput) as caught:
            apply(b)
        assert caught.value.errors[0]["field"] == "events.0.data.order_id"

    def test_a_refund_takes_the_orders_pending_points_before_available_ones(self) -> None:
        ada = member("ada")
        available_lot(ada, "old", 40)
        b = batch(
            [
                order_placed("ada", "o1", "50.00", at=NOW),
                order_refunded("ada", "o1", "20.00", at=NOW),
            ],
            terms=program(pending_days=14),
            members=[ada],
        )
        _, refund = apply(b)
        assert entries(refund) == [{"pending": -20, "issued": 20}]
        assert (ada.book.pending, ada.book.available) == (30, 40)

    def test_a_full_refund_of_spent_points_writes_off_what_is_gone_under_forbid(self) -> None:
        ada = member("ada")
        available_lot(ada, "o1", 100, spent=70)
        b = batch([order_refunded("ada", "o1", "100.00", at=NOW)], terms=program(), members=[ada])
        b.part(ORDERS).orders = {"o1": stored_order(ada, "o1", total=10000, earned=100)}
        [result] = apply(b)
        claw, write_off = result["postings"]
        assert (claw["kind"], claw["points"]) == ("claw_back", -30)
        assert (write_off["kind"], write_off["detail"]["points"]) == ("write_off", 70)
        assert result["points"] == -30
        assert (ada.book.available, ada.book.lifetime) == (0, 0)

    def test_a_cancellation_of_spent_points_leaves_a_debt_the_next_order_pays_under_debt(
        self,
    ) -> None:
        ada = member("ada")
        available_lot(ada, "o1", 100, spent=70)
        b = batch(
            [order_cancelled("ada", "o1", at=NOW), order_placed("ada", "o2", "50.00", at=NOW)],
            terms=program(negative_balance="debt"),
            members=[ada],
        )
        b.part(ORDERS).orders = {"o1": stored_order(ada, "o1", total=10000, earned=100)}
        cancel, order = apply(b)
        assert cancel["postings"][0]["detail"]["into_debt"] == 70
        assert order["postings"][0]["detail"]["debt_paid"] == 50
        assert ada.book.available == -20

    @settings(max_examples=60, deadline=None)
    @given(
        total=st.integers(min_value=1, max_value=1_000_000),
        rate=st.sampled_from(["0.1", "1", "1.5", "3"]),
        cuts=st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=6),
        full=st.booleans(),
    )
    def test_refunds_never_take_back_more_than_the_refunded_share_of_what_was_earned(
        self, total: int, rate: str, cuts: list[int], full: bool
    ) -> None:
        """Whatever the split, what was taken back so far is the refunded share of what was
        earned, rounded down (never more), and a full refund takes back exactly what was
        earned."""
        refunds = _split(total, cuts, full)
        ada = member("ada")
        events = [order_placed("ada", "o1", _usd(total), at=NOW)] + [
            order_refunded("ada", "o1", _usd(r), at=NOW) for r in refunds
        ]
        results = apply(batch(events, terms=program(points_per_unit=Decimal(rate)), members=[ada]))
        earned = results[0]["points"]
        taken, refunded = 0, 0
        for amount, result in zip(refunds, results[1:], strict=True):
            taken -= result["points"]
            refunded += amount
            # The cumulative share, rounded in the member's favour.
            assert taken == earned * refunded // total
        if full:
            assert taken == earned and ada.book.lifetime == 0
        assert ada.book.pending + ada.book.available == earned - taken


def _usd(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _split(total: int, cuts: list[int], full: bool) -> list[int]:
    """Refund amounts from `cuts` (relative weights) adding up to at most `total`, and to
    exactly `total` when `full`."""
    weight = sum(cuts) + (0 if full else 1)
    parts = [total * c // weight for c in cuts]
    if full:
        parts[-1] += total - sum(parts)
    return [p for p in parts if p > 0] or [total if full else max(total // 2, 1)]


class TestCancellations:
    def test_a_cancellation_takes_back_what_the_order_still_holds(self) -> None:
        ada = member("ada")
        b = batch(
            [
                order_placed("ada", "o1", "80.00", at=NOW),
                order_placed("ada", "o2", "20.00", at=NOW),
                order_refunded("ada", "o1", "30.00", at=NOW),
                order_cancelled("ada", "o1", at=NOW),
            ],
            terms=program(),
            members=[ada],
        )
        results = apply(b)
        assert [r["points"] for r in results] == [80, 20, -30, -50]
        assert (ada.book.available, ada.orders_count, ada.total_spent) == (20, 1, 2000)
        assert b.part(ORDERS).orders["o1"].status == "cancelled"

    def test_a_second_cancellation_has_no_effect(self) -> None:
        ada = member("ada")
        b = batch(
            [
                order_placed("ada", "o1", "80.00", at=NOW),
                order_cancelled("ada", "o1", at=NOW),
                order_cancelled("ada", "o1", at=NOW),
            ],
            terms=program(),
            members=[ada],
        )
        _, first, second = apply(b)
        assert first["points"] == -80
        assert (second["status"], second["points"], second["postings"]) == ("no_effect", 0, [])
        assert "cancelled already" in second["message"]
        assert (ada.book.available, ada.book.lifetime, ada.orders_count) == (0, 0, 0)
        assert b.part(ORDERS).orders["o1"].points_reversed == 80

    def test_a_refund_after_the_cancellation_does_not_lower_the_spend_again(self) -> None:
        ada = member("ada")
        b = batch(
            [
                order_placed("ada", "o1", "80.00", at=NOW),
                order_cancelled("ada", "o1", at=NOW),
                order_refunded("ada", "o1", "80.00", at=NOW),
            ],
            terms=program(),
            members=[ada],
        )
        apply(b)
        assert (ada.book.lifetime, ada.orders_count) == (0, 0)
        assert ada.total_spent == 0


def posting(amount: int, asset: str = POINTS) -> PostingDraft:
    book = Book(wallet_id=uuid7(), asset=asset, available=0, pending=0, lifetime=0)
    terms = program().terms
    return engine.earn(
        book,
        amount,
        now=NOW,
        earned_at=NOW,
        vests_at=None,
        expires_at=None,
        reason="test",
        terms=terms,
    )


def item_of(body: dict[str, Any], *outcomes: Outcome) -> Item:
    event: EventBase = registry.adapter().validate_python(body)
    payload = event.model_dump(mode="json")
    return Item(
        index=0,
        event=event,
        payload=payload,
        hash=body_hash(payload),
        path="",
        row_id=uuid7(),
        outcomes=list(outcomes),
    )


class TestRenderingSeveralOutcomes:
    def test_the_first_outcome_gives_the_status_and_the_others_add_to_it(self) -> None:
        earn, bonus, credit = posting(10), posting(5), posting(700, asset="USD")
        it = item_of(
            order_placed("ada", "o1", "10.00", at=NOW, id="evt-r"),
            Outcome(Status.NOT_MEMBER, "first", postings=[earn]),
            Outcome(Status.APPLIED, "second", member="ada", enrolled=True, postings=[bonus]),
            Outcome(Status.NO_EFFECT, "third", member="bob", postings=[credit]),
        )
        result = it.render()
        assert result["id"] == "evt-r" and result["type"] == "order.placed"
        assert result["status"] == "not_member" and result["duplicate"] is False
        assert result["message"] == "first; second; third"
        # The first member named, enrolled if any outcome enrolled.
        assert result["member"] == "ada" and result["enrolled"] is True
        # Postings of every outcome in order; points count the points asset only.
        assert [p["id"] for p in result["postings"]] == [str(p.id) for p in (earn, bonus, credit)]
        assert result["points"] == 15

    def test_a_single_outcome_renders_as_itself(self) -> None:
        it = item_of(
            order_placed("ada", "o1", "10.00", at=NOW),
            Outcome(Status.NO_EFFECT, "only", member="ada"),
        )
        result = it.render()
        assert (result["status"], result["message"], result["points"]) == ("no_effect", "only", 0)
        assert (result["member"], result["enrolled"], result["postings"]) == ("ada", False, [])


class Untouchable:
    """A session that fails the test if the pipeline touches the database."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the pipeline used the session ({name}) before refusing")


class TestDuplicatesInsideABatch:
    def test_the_same_id_with_another_body_is_refused_naming_the_later_event(self) -> None:
        events = [
            order_placed("ada", "o1", "10.00", at=NOW, id="e1"),
            order_placed("bob", "o2", "5.00", at=NOW, id="e2"),
            order_placed("ada", "o1", "10.01", at=NOW, id="e1"),
        ]
        with pytest.raises(EventConflict) as caught:
            pipeline.ingest(
                Untouchable(),  # type: ignore[arg-type]
                tenant_id=uuid.uuid4(),
                program=program(),
                events=[registry.adapter().validate_python(e) for e in events],
                now=NOW,
            )
        assert caught.value.errors[0]["field"] == "events.2.id"

    def test_a_single_event_names_the_bare_field(self) -> None:
        events = [
            order_placed("ada", "o1", "10.00", at=NOW, id="e1"),
            order_placed("ada", "o1", "10.00", at=NOW - timedelta(seconds=1), id="e1"),
        ]
        with pytest.raises(EventConflict) as caught:
            pipeline.ingest(
                Untouchable(),  # type: ignore[arg-type]
                tenant_id=uuid.uuid4(),
                program=program(),
                events=[registry.adapter().validate_python(e) for e in events],
                now=NOW,
                field_prefix="",
            )
        assert caught.value.errors[0]["field"] == "id"

    def test_the_body_hash_ignores_key_order_but_not_values(self) -> None:
        a = {"id": "e1", "data": {"total": "1.00", "order_id": "o1"}}
        b = {"data": {"order_id": "o1", "total": "1.00"}, "id": "e1"}
        assert body_hash(a) == body_hash(b)
        assert body_hash(a) != body_hash({**a, "data": {"total": "1.01", "order_id": "o1"}})
