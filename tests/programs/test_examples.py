"""The ready-made programs of docs/programs/ load, and earn what their comments say."""

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from patron.programs.examples import NAMES, example_document, example_program
from patron.programs.schemas import ProgramDocument
from patron.rules.engine import EventIn, LineIn, MemberIn, OrderIn, Usage, calculate

DOCS = Path(__file__).resolve().parents[2] / "docs" / "programs"


def order(*lines: LineIn, total: int | None = None, currency: str = "USD") -> OrderIn:
    amount = sum(line.gross - line.discount for line in lines)
    return OrderIn("o1", currency, total if total is not None else amount, 2, lines=lines)


def event(at: str, type_: str = "order.placed", **data: Any) -> EventIn:
    return EventIn("e1", type_, datetime.fromisoformat(at), data)


@pytest.mark.parametrize("name", NAMES)
def test_docs_hold_the_same_programs_the_package_ships(name: str) -> None:
    assert yaml.safe_load((DOCS / f"{name}.yaml").read_text()) == example_document(name)
    ProgramDocument.model_validate(example_document(name))


class TestCoffee:
    program = example_program("coffee")

    def test_a_point_per_dollar_and_a_welcome_bonus_on_the_first_order(self) -> None:
        beans = LineIn("1", sku="BEAN-ETH-250", category="coffee", quantity=3, unit_price=14_33)
        at = event("2026-03-02T15:00:00+00:00")
        first = calculate(self.program.ruleset, event=at, member=MemberIn("c"), order=order(beans))
        assert first.points == 42 + 50
        again = calculate(
            self.program.ruleset, event=at, member=MemberIn("c", orders=1), order=order(beans)
        )
        assert again.points == 42

    def test_a_birthday_treat_once_a_year(self) -> None:
        birthday = event("2026-06-01T15:00:00+00:00", "birthday", year=2026, date="2026-06-01")
        paid = calculate(self.program.ruleset, event=birthday, member=MemberIn("c"))
        assert paid.points == 100 and paid.fired[0].periods == ["year:2026"]
        usage = {("birthday", "year:2026"): Usage(count=1, points=100)}
        again = calculate(self.program.ruleset, event=birthday, member=MemberIn("c"), usage=usage)
        assert again.points == 0 and again.skipped[0]["rule"] == "birthday"


class TestFashion:
    program = example_program("fashion")
    boots = LineIn("1", sku="BOOT-7", category="shoes", quantity=1, unit_price=100_00)
    jumper = LineIn(
        "2", sku="KNIT-3", category="knitwear", tags=("new-season",), quantity=2, unit_price=40_00
    )
    card = LineIn("3", sku="GIFT-CARD-50", quantity=1, unit_price=50_00)

    def points(self, at: str, *lines: LineIn, orders: int = 1) -> int:
        result = calculate(
            self.program.ruleset,
            event=event(at),
            member=MemberIn("c", orders=orders),
            order=order(*lines, currency="EUR"),
        )
        return result.points

    def test_categories_multiply_gift_cards_earn_nothing_new_season_items_add_a_bonus(
        self,
    ) -> None:
        # A Wednesday: boots 100 x 3, jumpers 80 x 2 + 2 x 20, the gift card nothing.
        assert self.points("2026-11-25T12:00:00+01:00", self.boots, self.jumper, self.card) == (
            300 + 160 + 40
        )

    def test_the_double_points_weekend_adds_one_more_base(self) -> None:
        # Saturday 28 November in Paris: 3x + 2x weekend = 4x on the boots.
        assert self.points("2026-11-28T12:00:00+01:00", self.boots) == 400
        # The Saturday after the campaign ended.
        assert self.points("2026-12-05T12:00:00+01:00", self.boots) == 300

    def test_a_first_order_of_50_or_more_earns_a_bonus(self) -> None:
        assert self.points("2026-11-25T12:00:00+01:00", self.boots, orders=0) == 300 + 200
        small = LineIn("1", sku="SOCK-1", category="socks", quantity=1, unit_price=12_00)
        assert self.points("2026-11-25T12:00:00+01:00", small, orders=0) == 12


class TestEngagement:
    program = example_program("engagement")

    def earn(
        self, type_: str, usage: dict[tuple[str, str], Usage] | None = None, **data: Any
    ) -> int:
        return calculate(
            self.program.ruleset,
            event=event("2026-05-05T12:00:00+00:00", type_, **data),
            member=MemberIn("m"),
            usage=usage,
        ).points

    def test_reviews_earn_more_with_photos(self) -> None:
        assert self.earn("review.written", review_id="r1", words=40, photos=0, rating=5) == 50
        assert self.earn("review.written", review_id="r1", words=40, photos=2, rating=5) == 75
        assert self.earn("review.written", review_id="r1", words=5, photos=0, rating=5) == 0

    def test_a_share_pays_once_per_network(self) -> None:
        assert self.earn("social.shared", network="instagram") == 20
        used = {("share", "lifetime:lifetime:instagram"): Usage(1, 20)}
        assert self.earn("social.shared", used, network="instagram") == 0
        assert self.earn("social.shared", used, network="facebook") == 20

    def test_the_shops_own_event_reads_its_typed_fields(self) -> None:
        assert self.earn("custom.trail_report", trail="Bear Lake", photos=3, words=80) == 25
        assert self.earn("custom.trail_report", trail="Bear Lake", photos=9, words=80) == 35
        assert self.earn("custom.trail_report", trail="Bear Lake", photos=9, words=10) == 0
