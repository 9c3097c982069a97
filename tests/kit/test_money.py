from decimal import Decimal

import pytest

from patron.kit.money import MoneyError, format_amount, to_minor


class TestToMinor:
    @pytest.mark.parametrize(
        ("amount", "currency", "minor"),
        [
            ("19.99", "USD", 1999),
            ("20", "USD", 2000),
            ("0.1", "EUR", 10),
            ("1500", "JPY", 1500),
            ("1.234", "KWD", 1234),
            (Decimal("0.30"), "USD", 30),
            ("000.50", "GBP", 50),
        ],
    )
    def test_exact_amounts_become_minor_units(self, amount: str, currency: str, minor: int) -> None:
        assert to_minor(amount, currency) == minor

    @pytest.mark.parametrize(
        ("amount", "currency", "message"),
        [
            ("19.999", "USD", "decimal places"),
            ("1.5", "JPY", "decimal places"),
            ("-1", "USD", "negative"),
            ("abc", "USD", "not a decimal"),
            ("NaN", "USD", "finite"),
            ("Infinity", "USD", "finite"),
            ("1e30", "USD", "too large"),
        ],
    )
    def test_inexact_or_invalid_amounts_are_refused(
        self, amount: str, currency: str, message: str
    ) -> None:
        with pytest.raises(MoneyError, match=message):
            to_minor(amount, currency)

    def test_floats_are_refused(self) -> None:
        with pytest.raises(MoneyError, match="float"):
            to_minor(0.1, "USD")  # type: ignore[arg-type]

    def test_zero_can_be_refused(self) -> None:
        with pytest.raises(MoneyError, match="greater than zero"):
            to_minor("0.00", "USD", allow_zero=False)


def test_format_amount_uses_the_currency_exponent() -> None:
    assert format_amount(1999, "USD") == "19.99"
    assert format_amount(1500, "JPY") == "1500"
    assert format_amount(5, "KWD") == "0.005"
