"""Orders earning under rules, end to end over HTTP: what each line earned, exact reversal of
refunded lines under the rules that earned them, limits and budgets given back."""

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from patron.db.session import Database
from patron.kit.clock import FrozenClock
from tests.factories import (
    Shop,
    create_shop,
    order_cancelled,
    order_placed,
    order_refunded,
    violations,
)

FASHION: dict[str, Any] = {
    "points_per_unit": "1",
    "rules": [
        {
            "id": "no-gift-cards",
            "name": "Gift cards earn nothing",
            "multiplier": "0",
            "lines": {"skus": ["GIFT-50"]},
        },
        {
            "id": "shoes-x2",
            "name": "Double on shoes",
            "multiplier": "2",
            "lines": {"categories": ["shoes"]},
        },
        {
            "id": "first-order",
            "name": "Welcome bonus",
            "points": 100,
            "when": "member.orders == 0",
        },
    ],
}

LINES = [
    {"id": "L1", "sku": "BOOT-1", "category": "shoes", "quantity": 2, "unit_price": "60.00"},
    {"id": "L2", "sku": "TEE-1", "category": "tops", "quantity": 1, "unit_price": "20.00"},
    {"id": "L3", "sku": "GIFT-50", "quantity": 1, "unit_price": "50.00", "gift_card": True},
]


@pytest.fixture
def fashion(db: Database, clock: FrozenClock) -> Shop:
    return create_shop(db, now=clock.now(), program=FASHION)


@pytest.fixture
def c(base_url: str, fashion: Shop) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {fashion.key}"}) as cl:
        yield cl


def send(c: httpx.Client, event: dict[str, Any], status: int = 201) -> dict[str, Any]:
    r = c.post("/v1/events", json=event)
    assert r.status_code == status, r.text
    return r.json()  # type: ignore[no-any-return]


def balance(c: httpx.Client, customer: str) -> int:
    r = c.get(f"/v1/members/{customer}")
    assert r.status_code == 200, r.text
    return int(r.json()["points"]["available"])


def publish(c: httpx.Client, program: dict[str, Any]) -> None:
    r = c.put("/v1/program", json={"currency": "USD", **program})
    assert r.status_code == 200, r.text


class TestEarning:
    def test_each_line_earns_under_the_rules_that_apply_to_it(
        self, c: httpx.Client, clock: FrozenClock, db: Database, fashion: Shop
    ) -> None:
        body = send(c, order_placed("ana", "o1", "190.00", at=clock.now(), lines=LINES))
        # Boots 120 x 1 x 2 = 240, tee 20, gift card nothing, welcome 100.
        assert body["points"] == 360
        detail = body["postings"][0]["detail"]
        by_rule = {r["rule"]: r for r in detail["rules"]}
        assert by_rule["base"]["points"] == 140 and by_rule["base"]["lines"] == ["L1", "L2"]
        assert by_rule["shoes-x2"]["points"] == 120 and by_rule["shoes-x2"]["lines"] == ["L1"]
        assert by_rule["no-gift-cards"]["lines"] == ["L3"]
        assert by_rule["first-order"]["points"] == 100
        assert detail["program_version"] == fashion.program_version
        assert "+120 by shoes-x2" in body["message"] and "+100 by first-order" in body["message"]
        # The second order is not the first any more.
        assert send(c, order_placed("ana", "o2", "20.00", at=clock.now()))["points"] == 20
        assert violations(db, fashion) == []

    def test_a_bad_rule_is_refused_naming_the_rule_and_position(self, c: httpx.Client) -> None:
        bad = {
            **FASHION,
            "rules": [
                *FASHION["rules"],
                {"id": "x", "name": "X", "points": 5, "when": "order.total > 10"},
            ],
        }
        r = c.put("/v1/program", json={"currency": "USD", **bad})
        assert r.status_code == 422, r.text
        [error] = r.json()["errors"]
        assert error["field"] == "rules.3.when"
        assert (
            "'x'" in error["message"] and "1:13" in error["message"] and "50.0" in error["message"]
        )


class TestReversal:
    def test_refunded_lines_give_back_what_they_earned_under_the_old_rules(
        self, c: httpx.Client, clock: FrozenClock, db: Database, fashion: Shop
    ) -> None:
        send(c, order_placed("ana", "o1", "190.00", at=clock.now(), lines=LINES))
        assert balance(c, "ana") == 360
        # The rules change: shoes now earn 5x, the base rate doubles.
        publish(
            c,
            {
                **FASHION,
                "points_per_unit": "2",
                "rules": [
                    {**FASHION["rules"][1], "multiplier": "5"},
                ],
            },
        )
        later = clock.now() + timedelta(minutes=1)
        # One of the two pairs of boots: half of what L1 earned (60 + 60), not today's rules.
        body = send(
            c, order_refunded("ana", "o1", "60.00", at=later, lines=[{"id": "L1", "quantity": 1}])
        )
        assert body["points"] == -120 and balance(c, "ana") == 240
        assert body["postings"][0]["detail"]["rules"] == {"base": 60, "shoes-x2": 60}
        # The tee, named by its SKU.
        body = send(
            c,
            order_refunded("ana", "o1", "20.00", at=later, lines=[{"sku": "TEE-1", "quantity": 1}]),
        )
        assert body["points"] == -20 and balance(c, "ana") == 220
        # Cancelling takes back the rest, the welcome bonus included.
        body = send(c, order_cancelled("ana", "o1", at=later))
        assert body["points"] == -220 and balance(c, "ana") == 0
        assert body["postings"][0]["detail"]["rules"] == {
            "base": 60,
            "shoes-x2": 60,
            "first-order": 100,
        }
        assert violations(db, fashion) == []

    def test_refunding_more_units_than_the_line_has_changes_nothing(
        self, c: httpx.Client, clock: FrozenClock, db: Database, fashion: Shop
    ) -> None:
        send(c, order_placed("ana", "o1", "190.00", at=clock.now(), lines=LINES))
        send(
            c,
            order_refunded(
                "ana", "o1", "60.00", at=clock.now(), lines=[{"id": "L1", "quantity": 1}]
            ),
        )
        r = c.post(
            "/v1/events",
            json=order_refunded(
                "ana", "o1", "120.00", at=clock.now(), lines=[{"id": "L1", "quantity": 2}]
            ),
        )
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "data.lines.0.quantity"
        r = c.post(
            "/v1/events",
            json=order_refunded(
                "ana", "o1", "1.00", at=clock.now(), lines=[{"id": "L9", "quantity": 1}]
            ),
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "data.lines.0.id"
        assert balance(c, "ana") == 240

    def test_repeated_partial_amount_refunds_never_take_back_more_than_earned(
        self, c: httpx.Client, clock: FrozenClock, db: Database, fashion: Shop
    ) -> None:
        send(c, order_placed("ana", "o1", "190.00", at=clock.now(), lines=LINES))
        taken = 0
        for _ in range(18):
            taken -= send(c, order_refunded("ana", "o1", "10.00", at=clock.now()))["points"]
            assert taken <= 260  # the welcome bonus stays while part of the order does
        taken -= send(c, order_refunded("ana", "o1", "10.00", at=clock.now()))["points"]
        assert taken == 360 and balance(c, "ana") == 0
        assert violations(db, fashion) == []


LIMITED: dict[str, Any] = {
    "points_per_unit": "1",
    "timezone": "Europe/Berlin",
    "rules": [
        {
            "id": "order-bonus",
            "name": "Bonus on the first two orders a month",
            "points": 50,
            "limits": [{"per": "month", "count": 2}],
        },
        {
            "id": "launch",
            "name": "Launch campaign",
            "points": 100,
            "budget": 150,
        },
    ],
}


class TestLimitsAndBudgets:
    def test_a_count_limit_stops_the_rule_and_a_cancellation_gives_it_back(
        self, base_url: str, clock: FrozenClock, db: Database
    ) -> None:
        shop = create_shop(db, now=clock.now(), program=LIMITED)
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {shop.key}"}) as c:
            at = clock.now()
            first = send(c, order_placed("ana", "o1", "10.00", at=at))
            assert first["points"] == 10 + 50 + 100
            second = send(c, order_placed("ana", "o2", "10.00", at=at))
            assert second["points"] == 10 + 50 + 50  # the budget's last 50
            third = send(c, order_placed("ana", "o3", "10.00", at=at))
            assert third["points"] == 10  # both spent
            detail = third["postings"][0]["detail"]
            assert {s["rule"] for s in detail["skipped"]} == {"order-bonus", "launch"}
            # Cancelling the first order gives back its bonus's place and the budget it took.
            send(c, order_cancelled("ana", "o1", at=at))
            assert send(c, order_placed("ana", "o4", "10.00", at=at))["points"] == 10 + 50 + 100
            assert violations(db, shop) == []

    def test_the_month_is_the_shops(self, base_url: str, clock: FrozenClock, db: Database) -> None:
        shop = create_shop(db, now=clock.now(), program=LIMITED)
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {shop.key}"}) as c:
            # 22:30 UTC on 31 October is already November in Berlin.
            late = datetime.fromisoformat("2025-10-31T23:30:00+00:00")
            send(c, order_placed("bo", "o1", "1.00", at=late - timedelta(hours=2)))
            send(c, order_placed("bo", "o2", "1.00", at=late - timedelta(hours=2)))
            assert send(c, order_placed("bo", "o3", "1.00", at=late))["points"] == 1 + 50


class TestWhatRulesSee:
    def test_the_members_profile_and_the_shops_weekend(
        self, base_url: str, clock: FrozenClock, db: Database
    ) -> None:
        program = {
            "timezone": "America/New_York",
            "rules": [
                {
                    "id": "weekend",
                    "name": "Double points weekend",
                    "multiplier": "2",
                    "schedule": {"weekdays": ["sat", "sun"]},
                },
                {
                    "id": "newsletter",
                    "name": "Subscribers' bonus",
                    "points": 5,
                    "when": 'member.accepts_marketing && member.email.endsWith("@example.com")',
                },
            ],
        }
        shop = create_shop(db, now=clock.now(), program=program)
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {shop.key}"}) as c:
            r = c.put(
                "/v1/members/ann",
                json={"email": "ann@example.com", "accepts_marketing": True},
            )
            assert r.status_code in (200, 201), r.text
            # Sunday 02:00 UTC is still Saturday evening in New York: the weekend.
            sunday_utc = datetime.fromisoformat("2025-11-23T02:00:00+00:00")
            body = send(c, order_placed("ann", "o1", "10.00", at=sunday_utc))
            assert body["points"] == 10 + 10 + 5
            # Monday 04:00 UTC is Sunday 23:00 in New York: still the weekend.
            assert (
                send(c, order_placed("ann", "o2", "10.00", at=sunday_utc + timedelta(hours=26)))[
                    "points"
                ]
                == 25
            )
            # Monday 06:00 UTC is Monday 01:00 in New York.
            body = send(c, order_placed("ann", "o3", "10.00", at=sunday_utc + timedelta(hours=28)))
            assert body["points"] == 10 + 5
            # A customer who did not subscribe gets no subscriber's bonus.
            assert (
                send(c, order_placed("bob", "o4", "10.00", at=sunday_utc + timedelta(hours=28)))[
                    "points"
                ]
                == 10
            )
