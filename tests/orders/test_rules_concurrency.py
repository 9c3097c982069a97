"""Rule budgets and limits under concurrency, over real HTTP on PostgreSQL: a budget shared by
every member is locked, so simultaneous orders never pay past it; a member's limit counters
are read under the member's lock, so simultaneous orders of one member never pass it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from patron.db.session import Database
from patron.kit.clock import FrozenClock
from patron.rules.models import RuleBudget, RuleUsage
from tests.factories import create_shop, order_placed, violations
from tests.ledger.test_concurrency import post, together

pytestmark = pytest.mark.postgres

PROGRAM: dict[str, Any] = {
    "rules": [
        {"id": "launch", "name": "Launch", "points": 100, "budget": 550},
        {
            "id": "daily",
            "name": "Once a day",
            "points": 7,
            "limits": [{"per": "day", "count": 1}],
        },
    ]
}


def clients(base_url: str, key: str, n: int) -> list[httpx.Client]:
    opened = [
        httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=120)
        for _ in range(n)
    ]
    for c in opened:
        assert c.get("/v1/program").status_code == 200
    return opened


def test_a_budget_is_never_overspent_by_simultaneous_orders(
    base_url: str, db: Database, clock: FrozenClock
) -> None:
    shop = create_shop(db, now=clock.now(), program=PROGRAM)
    cs = clients(base_url, shop.key, 12)
    try:
        bodies = [order_placed(f"m{i}", f"o{i}", "1.00", at=clock.now()) for i in range(12)]
        responses = together(cs, post("/v1/events", bodies))
    finally:
        for c in cs:
            c.close()
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    # Each order: 1 point of base, 7 once-a-day, and what is left of the launch budget.
    bonus = sorted(r.json()["points"] - 1 - 7 for r in responses)
    assert sum(bonus) == 550 and bonus[-5:] == [100] * 5 and bonus.count(50) == 1
    with db.unit_of_work() as s:
        spent = s.execute(
            select(RuleBudget.spent).where(RuleBudget.tenant_id == shop.tenant_id)
        ).scalar_one()
    assert spent == 550
    assert violations(db, shop) == []


def test_a_members_daily_limit_holds_under_simultaneous_orders(
    base_url: str, db: Database, clock: FrozenClock
) -> None:
    shop = create_shop(db, now=clock.now(), program=PROGRAM)
    cs = clients(base_url, shop.key, 8)
    try:
        bodies = [order_placed("same", f"o{i}", "1.00", at=clock.now()) for i in range(8)]
        responses = together(cs, post("/v1/events", bodies))
    finally:
        for c in cs:
            c.close()
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    daily = [r for r in responses if "+7 by daily" in r.json()["message"]]
    assert len(daily) == 1
    with db.unit_of_work() as s:
        [usage] = s.execute(
            select(RuleUsage).where(RuleUsage.tenant_id == shop.tenant_id)
        ).scalars()
    assert (usage.rule_id, usage.count, usage.points) == ("daily", 1, 7)
    assert violations(db, shop) == []
