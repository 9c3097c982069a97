"""What an expression can read: every variable and field of an event is given to the
expression that names it, whichever part of a rule it is in, and whatever else the program
reads (the calculation builds only the values its program's expressions name)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from patron.programs.schemas import ProgramDocument
from patron.rules.engine import EventIn, LineIn, MemberIn, OrderIn, calculate

AT = datetime(2026, 11, 25, 12, 30, 15, 250_000, tzinfo=UTC)  # a Wednesday
MEMBER = MemberIn(
    "m1",
    email="ann@example.com",
    name="Ann",
    tier="gold",
    enrolled_via="api",
    orders=3,
    spend=120_50,
    points=40,
    first_order_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    last_order_at=datetime(2026, 10, 1, tzinfo=UTC),
    birthday="1990-12-10",
    enrolled_at=datetime(2024, 6, 1, tzinfo=UTC),
    accepts_marketing=True,
)
ORDER = OrderIn(
    "o-1",
    "USD",
    total=57_25,
    exponent=2,
    subtotal=52_00,
    shipping=5_00,
    tax=0,
    discount=2_00,
    lines=(
        LineIn(
            "L1",
            sku="BEAN-1",
            product_id="P1",
            category="coffee",
            tags=("organic", "new"),
            quantity=2,
            unit_price=12_00,
        ),
        LineIn(
            "L2",
            sku="MUG-1",
            product_id="P2",
            category="mugs",
            quantity=1,
            unit_price=30_00,
            discount=2_75,
        ),
    ),
)

# Each holds for the event above; each is the program's only expression.
TRUE = [
    'member.id == "m1" && member.email == "ann@example.com" && member.name == "Ann"',
    'member.tier == "gold" && member.enrolled_via == "api" && member.birthday == "1990-12-10"',
    "member.orders == 3 && member.spend == 120.5 && member.points == 40",
    "member.accepts_marketing",
    'member.first_order_at == timestamp("2025-01-02T03:04:05Z")',
    'has(member.last_order_at) && member.last_order_at < timestamp("2026-10-02T00:00:00Z")',
    'member.enrolled_at == timestamp("2024-06-01T00:00:00Z")',
    'event.id == "e1" && event.type == "order.placed"',
    'event.occurred_at == timestamp("2026-11-25T12:30:15.25Z")',
    'now.time == timestamp("2026-11-25T12:30:15.25Z")',
    'now.date == "2026-11-25" && now.year == 2026 && now.month == 11 && now.day == 25',
    "now.weekday == 3 && now.hour == 12 && now.minute == 30",
    'program.name == "Values" && program.currency == "USD" && program.version == 0',
    'order.id == "o-1" && order.currency == "USD" && order.total == 57.25',
    "order.subtotal == 52.0 && order.shipping == 5.0 && order.tax == 0.0",
    "order.discount == 2.0 && order.base == 49.25",
    "order.lines.size() == 2",
    'order.lines[0].sku == "BEAN-1" && order.lines[0].product_id == "P1"',
    'order.lines[0].category == "coffee" && "organic" in order.lines[0].tags',
    'order.lines[0].id == "L1" && order.lines[0].quantity == 2',
    "order.lines[1].unit_price == 30.0 && order.lines[1].discount == 2.75",
    "order.lines[1].amount == 27.25 && !order.lines[1].gift_card",
]
NO_MEMBER_TIMES = MemberIn("m1", email="ann@example.com")


def earned(rule: dict[str, Any], member: MemberIn = MEMBER) -> int:
    document = ProgramDocument.model_validate(
        {"name": "Values", "currency": "USD", "points_per_unit": "0", "rules": [rule]}
    )
    return calculate(
        document.ruleset,
        event=EventIn("e1", "order.placed", AT),
        member=member,
        order=ORDER,
    ).points


@pytest.mark.parametrize("expression", TRUE)
def test_a_condition_reads_what_it_names(expression: str) -> None:
    assert earned({"id": "r", "name": "R", "points": 7, "when": expression}) == 7
    assert earned({"id": "r", "name": "R", "points": 7, "when": f"!({expression})"}) == 0


@pytest.mark.parametrize("expression", TRUE)
def test_a_bonus_expression_reads_what_it_names(expression: str) -> None:
    assert earned({"id": "r", "name": "R", "points": f"({expression}) ? 9 : 1"}) == 9


def test_a_line_filter_reads_the_line_and_the_rest() -> None:
    rule = {"id": "r", "name": "R", "points": 5, "per": "line"}
    on = {**rule, "lines": {"filter": 'line.category == "mugs" && member.tier == "gold"'}}
    assert earned(on) == 5
    assert earned({**rule, "lines": {"filter": "line.quantity > 1 && now.weekday == 3"}}) == 5
    assert earned({**rule, "lines": {"filter": "line.amount > 0.0"}}) == 10


def test_a_limit_key_reads_what_it_names() -> None:
    rule = {"id": "r", "name": "R", "points": 5, "limits": [{"per": "day", "count": 1}]}
    by = {
        **rule,
        "limits": [
            {
                "per": "day",
                "count": 1,
                "by": "member.first_order_at.getFullYear() == 2025 ? 'a' : 'b'",
            }
        ],
    }
    assert earned(rule) == 5 and earned(by) == 5


def test_an_unset_timestamp_is_absent() -> None:
    rule = {"id": "r", "name": "R", "points": 7, "when": "!has(member.first_order_at)"}
    assert earned(rule, NO_MEMBER_TIMES) == 7
    assert earned(rule) == 0


def test_rules_that_share_an_expression_each_get_its_value_or_its_failure() -> None:
    document = ProgramDocument.model_validate(
        {
            "currency": "USD",
            "points_per_unit": "0",
            "rules": [
                {"id": "a", "name": "A", "points": 3, "when": "member.orders == 3"},
                {"id": "b", "name": "B", "points": 4, "when": "member.orders == 3"},
                {"id": "c", "name": "C", "points": 5, "when": "member.orders / 0 == 1"},
                {"id": "d", "name": "D", "points": 6, "when": "member.orders / 0 == 1"},
                {"id": "e", "name": "E", "points": "member.orders * 2"},
                {
                    "id": "f",
                    "name": "F",
                    "points": "member.orders * 2",
                    "when": "member.orders != 3",
                },
            ],
        }
    )
    result = calculate(
        document.ruleset,
        event=EventIn("e1", "order.placed", AT),
        member=MEMBER,
        order=ORDER,
    )
    assert result.points == 3 + 4 + 6
    assert [f.rule for f in result.fired] == ["a", "b", "e"]
    assert [(s["rule"], s["reason"][:18]) for s in result.skipped] == [
        ("c", "expression failed:"),
        ("d", "expression failed:"),
    ]
