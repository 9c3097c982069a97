"""The calculation, without a database: the earning base, how rules combine, limits and
budgets, rounding, and what reversals take back."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from patron.programs.schemas import ProgramDocument
from patron.rules.engine import (
    EventIn,
    LineIn,
    MemberIn,
    OrderIn,
    Usage,
    calculate,
    period_key,
    reversed_points,
    share_out,
)

AT = datetime(2026, 11, 25, 12, tzinfo=UTC)  # a Wednesday


def program(**fields: Any) -> ProgramDocument:
    return ProgramDocument.model_validate({"currency": "USD", **fields})


def line(key: str = "1", **fields: Any) -> LineIn:
    return LineIn(key, **{"sku": "S", "quantity": 1, "unit_price": 10_00, **fields})


def points(p: ProgramDocument, *lines: LineIn, member: MemberIn | None = None, **order: Any) -> int:
    total = order.pop("total", sum(x.gross - x.discount for x in lines))
    return calculate(
        p.ruleset,
        event=EventIn("e", "order.placed", order.pop("at", AT)),
        member=member or MemberIn("m"),
        order=OrderIn("o", "USD", total, 2, lines=lines, **order),
        **{k: order.pop(k) for k in list(order) if k in ("usage", "budgets")},
    ).points


class TestTheEarningBase:
    def test_shipping_and_tax_earn_only_when_the_program_says(self) -> None:
        goods = line(unit_price=50_00)
        assert points(program(), goods, total=65_00, shipping=5_00, tax=10_00) == 50
        with_both = program(earning={"shipping": True, "tax": True})
        assert points(with_both, goods, total=65_00, shipping=5_00, tax=10_00) == 65

    def test_order_discounts_and_points_paid_lower_the_base_unless_before(self) -> None:
        a, b = line("1", unit_price=30_00), line("2", unit_price=10_00)
        assert points(program(), a, b, discount=8_00) == 32
        assert points(program(), a, b, points_paid=4_00) == 36
        assert points(program(earning={"discounts": "before"}), a, b, discount=8_00) == 40
        discounted = line("1", unit_price=30_00, discount=5_00)
        assert points(program(), discounted) == 25
        assert points(program(earning={"discounts": "before"}), discounted) == 30

    def test_gift_cards_and_gift_card_payments(self) -> None:
        card = line("2", sku="GIFT", unit_price=50_00, gift_card=True)
        assert points(program(), line(), card) == 10
        assert points(program(earning={"gift_cards": True}), line(), card) == 60

    def test_a_minimum_on_the_base(self) -> None:
        p = program(earning={"minimum": "20.00"}, rules=[{"id": "b", "name": "B", "points": 5}])
        assert points(p, line(unit_price=19_99)) == 0
        assert points(p, line(unit_price=20_00)) == 25

    def test_an_order_without_lines_earns_on_its_goods(self) -> None:
        assert points(program(), total=60_00, shipping=5_00, tax=5_00) == 50


class TestCombining:
    def test_rounding_happens_once(self) -> None:
        lines = [line(str(i), unit_price=50) for i in range(20)]
        assert points(program(), *lines) == 10
        assert points(program(rounding="up"), line(unit_price=10_01)) == 11

    def test_multipliers_add_up_and_zero_excludes_bonuses_too(self) -> None:
        p = program(
            rules=[
                {"id": "x2", "name": "x2", "multiplier": "2"},
                {"id": "x3", "name": "x3", "multiplier": "3", "lines": {"tags": ["t"]}},
                {"id": "none", "name": "n", "multiplier": "0", "lines": {"skus": ["GIFT"]}},
                {"id": "u", "name": "u", "points": 1, "per": "unit"},
            ]
        )
        tagged = line("1", tags=("t",), quantity=2, unit_price=5_00)
        gift = line("2", sku="GIFT", quantity=3)
        # 10 x (1 + 1 + 2) = 40, + 2 units; the gift line earns nothing at all.
        assert points(p, tagged, gift) == 42

    def test_a_multiplied_bonus(self) -> None:
        p = program(
            points_per_unit="0",
            rules=[
                {"id": "x2", "name": "x2", "multiplier": "2"},
                {"id": "b", "name": "b", "points": 5, "per": "line", "multiplied": True},
            ],
        )
        assert points(p, line()) == 10

    def test_a_group_keeps_its_best_rule_and_stop_ends_the_list(self) -> None:
        grouped = program(
            rules=[
                {"id": "a", "name": "a", "points": 10, "group": "g"},
                {"id": "b", "name": "b", "points": 30, "group": "g"},
                {"id": "c", "name": "c", "points": 20, "group": "g"},
            ]
        )
        assert points(grouped, line()) == 10 + 30
        stopped = program(
            rules=[
                {"id": "a", "name": "a", "points": 10, "stop": True, "when": "order.base > 5.0"},
                {"id": "b", "name": "b", "points": 30},
            ]
        )
        assert points(stopped, line()) == 20
        assert points(stopped, line(unit_price=1_00)) == 31

    def test_a_failing_expression_skips_its_rule_and_says_so(self) -> None:
        p = program(rules=[{"id": "div", "name": "d", "points": "10 / (member.orders - 1)"}])
        result = calculate(
            p.ruleset,
            event=EventIn("e", "order.placed", AT),
            member=MemberIn("m", orders=1),
            order=OrderIn("o", "USD", 10_00, 2, lines=(line(),)),
        )
        assert result.points == 10 and result.skipped[0]["rule"] == "div"


class TestLimitsAndBudgets:
    def test_periods_are_the_shops(self) -> None:
        at = datetime(2026, 1, 1, 2, tzinfo=UTC)  # still 2025 in New York
        p = program(
            timezone="America/New_York",
            rules=[{"id": "y", "name": "y", "points": 5, "limits": [{"per": "year", "count": 1}]}],
        )
        result = calculate(
            p.ruleset,
            event=EventIn("e", "order.placed", at),
            member=MemberIn("m"),
            order=OrderIn("o", "USD", 1_00, 2, lines=(line(unit_price=1_00),)),
        )
        assert result.fired[-1].periods == ["year:2025"]
        assert period_key("week", datetime(2026, 11, 29, tzinfo=UTC)) == "2026-W48"

    def test_a_points_limit_and_a_budget_cut_the_last_payment(self) -> None:
        p = program(
            points_per_unit="0",
            rules=[
                {"id": "l", "name": "l", "points": 50, "limits": [{"per": "month", "points": 120}]},
                {"id": "b", "name": "b", "points": 50, "budget": 1000},
            ],
        )
        result = calculate(
            p.ruleset,
            event=EventIn("e", "order.placed", AT),
            member=MemberIn("m"),
            order=OrderIn("o", "USD", 10_00, 2, lines=(line(),)),
            usage={("l", "month:2026-11"): Usage(2, 100)},
            budgets={"b": 990},
        )
        assert result.points == 20 + 10
        assert {f.rule: f.points for f in result.fired} == {"l": 20, "b": 10}
        assert all(f.cut for f in result.fired)


class TestValidation:
    @pytest.mark.parametrize(
        ("rule", "field"),
        [
            ({"multiplier": "0.5"}, "rules.0"),
            ({"rate": "1", "points": 2}, "rules.0"),
            ({"points": 1, "event": "order.refunded"}, "rules.0.event"),
            ({"points": 1, "group": "g", "multiplier": "2"}, "rules.0"),
            ({"points": "member.orders > 1"}, "rules.0.points"),
            (
                {"points": 1, "limits": [{"per": "day", "count": 1, "by": "member.orders"}]},
                "rules.0.limits.0.by",
            ),
            ({"points": 1, "when": "data.network == 'x'"}, "rules.0.when"),
        ],
    )
    def test_a_bad_rule_is_refused_at_its_field(self, rule: dict[str, Any], field: str) -> None:
        with pytest.raises(ValidationError) as err:
            program(rules=[{"id": "r", "name": "R", **rule}])
        [error] = err.value.errors()
        loc = ".".join(str(p) for p in error["loc"])
        at = (error.get("ctx") or {}).get("at")
        assert (at or loc).startswith(field), (loc, at, error["msg"])

    def test_ids_are_unique_and_base_is_taken(self) -> None:
        for rules in (
            [{"id": "a", "name": "a", "points": 1}] * 2,
            [{"id": "base", "name": "b", "points": 1}],
        ):
            with pytest.raises(ValidationError):
                program(rules=rules)


class TestTheIndex:
    def test_scoped_rules_an_order_cannot_meet_are_not_considered(self) -> None:
        p = program(
            rules=[
                {"id": "a", "name": "a", "multiplier": "2", "lines": {"skus": ["X"]}},
                {"id": "b", "name": "b", "points": 1},
                {"id": "c", "name": "c", "multiplier": "2", "lines": {"categories": ["shoes"]}},
            ]
        )
        order = OrderIn("o", "USD", 1, 2, lines=(line(category="shoes"),))
        assert [r.rule.id for r in p.ruleset.candidates("order.placed", order)] == ["b", "c"]


class TestReversal:
    @given(
        st.integers(min_value=0, max_value=10_000),
        st.lists(st.fractions(min_value=0, max_value=1), max_size=8),
    )
    def test_growing_shares_never_take_back_more_than_the_cell(
        self, cell: int, shares: list[Fraction]
    ) -> None:
        taken, before = 0, Fraction(0)
        for share in sorted(shares):
            taken += reversed_points({"r": cell}, before, share).get("r", 0)
            before = share
            assert 0 <= taken <= cell
        taken += reversed_points({"r": cell}, before, Fraction(1)).get("r", 0)
        assert taken == cell

    @given(st.integers(0, 1000), st.lists(st.integers(0, 10_000), min_size=1, max_size=20))
    def test_share_out_is_exact(self, total: int, weights: list[int]) -> None:
        from decimal import Decimal

        shares = share_out(total, [Decimal(w) for w in weights])
        assert sum(shares) == total and all(s >= 0 for s in shares)
