from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from patron.programs.engine import clawback_target, points_for_order
from patron.programs.schemas import ProgramDocument


def program(**kw: object) -> ProgramDocument:
    return ProgramDocument(**{"currency": "USD", **kw})  # type: ignore[arg-type]


class TestPointsForOrder:
    @pytest.mark.parametrize(
        ("rate", "rounding", "total", "points"),
        [
            ("1", "down", 4299, 42),
            ("1", "up", 4201, 43),
            ("1", "half_up", 4250, 43),
            ("1", "half_up", 4249, 42),
            ("2.5", "down", 1030, 25),
            ("0.1", "down", 999, 0),
            ("10", "down", 1, 0),
            ("10", "up", 1, 1),
        ],
    )
    def test_points_are_rate_times_total_rounded(
        self, rate: str, rounding: str, total: int, points: int
    ) -> None:
        got, why = points_for_order(program(points_per_unit=rate, rounding=rounding), total, "USD")
        assert got == points and why["points"] == points and why["rate"] == rate

    def test_zero_decimal_currencies_count_whole_units(self) -> None:
        got, _ = points_for_order(program(currency="JPY", points_per_unit="0.01"), 1500, "JPY")
        assert got == 15


class TestClawbackTarget:
    def test_full_refund_takes_back_exactly_what_was_earned(self) -> None:
        assert clawback_target(99, 10000, 10000) == 99

    def test_partial_refund_rounds_in_the_members_favour(self) -> None:
        assert clawback_target(10, 300, 100) == 3

    @given(
        earned=st.integers(0, 10**9),
        total=st.integers(1, 10**12),
        refunds=st.lists(st.integers(0, 10**12), max_size=10),
    )
    def test_cumulative_target_never_exceeds_earned_and_never_decreases(
        self, earned: int, total: int, refunds: list[int]
    ) -> None:
        refunded, previous = 0, 0
        for amount in refunds:
            refunded = min(total, refunded + amount)
            target = clawback_target(earned, total, refunded)
            assert previous <= target <= earned
            previous = target
        if refunded == total:
            assert previous == earned


class TestProgramDocument:
    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"currency": "XXY"}, "currency"),
            ({"points_per_unit": "-1"}, "points_per_unit"),
            ({"points_per_unit": 1.5}, "points_per_unit"),
            ({"rounding": "banker"}, "rounding"),
            ({"pending_days": -1}, "pending_days"),
            ({"timezone": "Mars/Base"}, "timezone"),
            ({"pending_days": 30, "expiry_days": 30}, None),
            ({"extra": 1}, "extra"),
        ],
    )
    def test_invalid_documents_are_refused(
        self, change: dict[str, object], field: str | None
    ) -> None:
        with pytest.raises(ValidationError) as err:
            program(**change)
        if field:
            assert field in str(err.value.errors()[0]["loc"])

    def test_rate_is_kept_as_an_exact_decimal(self) -> None:
        assert program(points_per_unit="0.3").points_per_unit == Decimal("0.3")
