"""A shopper's year in a shop with a 14-day return window and points that expire after a
year: enrolment, orders, vesting, a partial refund, a redemption retried with its
Idempotency-Key, more orders, expiry. Every number is checked, and the history tells the
whole story."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from patron.db.session import Database
from patron.kit.clock import FrozenClock
from tests.conftest import START
from tests.factories import Shop, member_enrolled, order_placed, order_refunded
from tests.scenarios.journey import Journey, held, story


@pytest.fixture
def shop_year(client: httpx.Client, db: Database, clock: FrozenClock, shop: Shop) -> Journey:
    journey = Journey(client, db, clock, shop)
    journey.publish(points_per_unit="1", pending_days=14, expiry_days=365)
    return journey


def day(n: int) -> str:
    """The date n days after the journey starts."""
    return (START + timedelta(days=n)).date().isoformat()


class TestAShoppersYear:
    def test_points_are_earned_vested_refunded_spent_and_expired_as_the_program_says(
        self, shop_year: Journey, clock: FrozenClock
    ) -> None:
        j = shop_year

        # Day 0: Ada signs up on the shop's site, then orders.
        joined = j.send(member_enrolled("ada", at=clock.now(), source="account"))
        assert (joined["status"], joined["enrolled"], joined["points"]) == ("applied", True, 0)
        first = j.send(order_placed("ada", "o-1", "120.00", at=clock.now()))
        assert (first["status"], first["enrolled"], first["points"]) == ("applied", False, 120)
        assert "pending until 2026-03-15" in first["message"]
        assert j.points("ada") == held(0, 120, 120)

        # Day 10: a second order; nothing is spendable yet.
        clock.set(START + timedelta(days=10))
        second = j.send(order_placed("ada", "o-2", "45.50", at=clock.now()))
        assert second["points"] == 45 and "pending until 2026-03-25" in second["message"]
        assert j.redeem("ada", 1, "too-early").status_code == 409

        # Day 15: the first order's window closed; the jobs vest it, and only it.
        clock.set(START + timedelta(days=15))
        report = j.run_jobs()
        assert report.vested_points >= 120
        assert j.points("ada") == held(120, 45, 165)

        # Day 16: 15.50 of the 45.50 order is refunded: a third of its 45 points, rounded
        # down in Ada's favour, comes back out of the order's own pending points.
        clock.set(START + timedelta(days=16))
        refund = j.send(order_refunded("ada", "o-2", "15.50", at=clock.now()))
        assert refund["points"] == -15
        [claw] = refund["postings"]
        assert {e["account"]: e["amount"] for e in claw["entries"]} == {
            "pending": -15,
            "issued": 15,
        }
        assert j.points("ada") == held(120, 30, 150)

        # Day 26: the second order vests what is left of it.
        clock.set(START + timedelta(days=26))
        j.run_jobs()
        assert j.points("ada")["available"] == 150

        # Day 30: she spends 100 at checkout; the storefront retries the call.
        clock.set(START + timedelta(days=30))
        spent = j.redeem("ada", 100, "checkout-7f3a")
        assert spent.status_code == 201, spent.text
        assert (spent.json()["available"], spent.json()["replayed"]) == (50, False)
        retry = j.redeem("ada", 100, "checkout-7f3a")
        assert retry.status_code == 200
        assert retry.json()["replayed"] is True
        assert retry.json()["transaction_id"] == spent.json()["transaction_id"]
        assert j.points("ada")["available"] == 50

        # Day 200: a summer order, vested two weeks later.
        clock.set(START + timedelta(days=200))
        assert j.send(order_placed("ada", "o-3", "30.00", at=clock.now()))["points"] == 30
        clock.set(START + timedelta(days=215))
        j.run_jobs()
        assert j.points("ada") == held(80, 0, 180)

        # Day 365 + 1: the first order's lot expires; spending took from it first (it expires
        # first), so only the 20 it still holds go.
        clock.set(START + timedelta(days=365, hours=1))
        j.run_jobs()
        assert j.points("ada")["available"] == 60
        # Day 375 + 1: then the second order's 30.
        clock.set(START + timedelta(days=375, hours=1))
        j.run_jobs()
        assert j.points("ada") == held(30, 0, 180)

        assert story(j.history("ada")) == [
            ("earn", "o-1", 120),
            ("earn", "o-2", 45),
            ("vest", "o-1", 120),
            ("claw_back", "o-2", -15),
            ("vest", "o-2", 30),
            ("redeem", None, -100),
            ("earn", "o-3", 30),
            ("vest", "o-3", 30),
            ("expire", "o-1", -20),
            ("expire", "o-2", -30),
        ]
        assert [row["created_at"][:10] for row in j.history("ada")] == [
            day(n) for n in (0, 10, 15, 16, 26, 30, 200, 215, 365, 375)
        ]
        stats = j.member("ada")["stats"]
        assert (stats["orders_count"], stats["total_spent"]) == (3, "180.00")
        assert j.consistent()
