"""A shop under the debt policy: when a refund takes back points the shopper already spent,
the balance goes below zero, nothing can be spent meanwhile, and the next orders pay the debt
before anything becomes available again."""

from __future__ import annotations

import httpx
import pytest

from patron.db.session import Database
from patron.kit.clock import FrozenClock
from tests.factories import Shop, order_placed, order_refunded
from tests.scenarios.journey import Journey, held, story


@pytest.fixture
def debt_shop(client: httpx.Client, db: Database, clock: FrozenClock, shop: Shop) -> Journey:
    journey = Journey(client, db, clock, shop)
    journey.publish(points_per_unit="1", negative_balance="debt")
    return journey


class TestARefundAfterSpending:
    def test_creates_a_debt_that_the_next_orders_pay_first(
        self, debt_shop: Journey, clock: FrozenClock
    ) -> None:
        j = debt_shop
        assert j.send(order_placed("bea", "o-1", "100.00", at=clock.now()))["points"] == 100
        spent = j.redeem("bea", 90, "basket-1")
        assert spent.status_code == 201, spent.text
        assert spent.json()["available"] == 10

        clock.advance(days=3)
        refund = j.send(order_refunded("bea", "o-1", "100.00", at=clock.now()))
        assert refund["points"] == -100
        [claw] = refund["postings"]
        assert (claw["detail"]["from_available"], claw["detail"]["into_debt"]) == (10, 90)
        assert j.points("bea") == held(0, 0, 0, debt=90)
        refused = j.redeem("bea", 1, "basket-2")
        assert refused.status_code == 409, refused.text

        clock.advance(days=3)
        paying = j.send(order_placed("bea", "o-2", "60.00", at=clock.now()))
        assert (paying["points"], paying["postings"][0]["detail"]["debt_paid"]) == (60, 60)
        assert j.points("bea") == held(0, 0, 60, debt=30)

        clock.advance(days=3)
        clearing = j.send(order_placed("bea", "o-3", "50.00", at=clock.now()))
        assert clearing["postings"][0]["detail"]["debt_paid"] == 30
        assert j.points("bea") == held(20, 0, 110)
        assert j.redeem("bea", 20, "basket-3").status_code == 201
        assert j.points("bea") == held(0, 0, 110)

        assert story(j.history("bea")) == [
            ("earn", "o-1", 100),
            ("redeem", None, -90),
            ("claw_back", "o-1", -100),
            ("earn", "o-2", 60),
            ("earn", "o-3", 50),
            ("redeem", None, -20),
        ]
        stats = j.member("bea")["stats"]
        assert (stats["orders_count"], stats["total_spent"]) == (3, "110.00")
        assert j.consistent()

    def test_a_replayed_refund_takes_nothing_more(
        self, debt_shop: Journey, clock: FrozenClock
    ) -> None:
        j = debt_shop
        j.send(order_placed("bea", "o-1", "40.00", at=clock.now()))
        assert j.redeem("bea", 40, "all-of-it").status_code == 201
        refund = order_refunded("bea", "o-1", "40.00", at=clock.now())
        first = j.send(refund)
        again = j.client.post("/v1/events", json=refund)
        assert again.status_code == 200
        assert again.json() == {**first, "duplicate": True}
        assert j.points("bea") == held(0, 0, 0, debt=40)
        assert j.consistent()
