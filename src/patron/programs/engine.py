"""Points arithmetic of the program: exact decimals in, whole points out."""

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from patron.kit.money import format_amount, to_decimal
from patron.programs.schemas import ProgramDocument

_ROUNDING = {"down": ROUND_FLOOR, "half_up": ROUND_HALF_UP, "up": ROUND_CEILING}


def plain(value: Decimal) -> str:
    """A decimal as people write it: no exponent, no trailing zeros ("10", "0.5")."""
    text = f"{value.normalize():f}"
    return "0" if text in ("-0", "") else text


def points_for_order(
    program: ProgramDocument, total_minor: int, currency: str
) -> tuple[int, dict[str, Any]]:
    """Points an order earns and how they were computed."""
    raw = to_decimal(total_minor, currency) * program.points_per_unit
    points = int(raw.to_integral_value(rounding=_ROUNDING[program.rounding]))
    return points, {
        "rule": "base_rate",
        "base": format_amount(total_minor, currency),
        "currency": currency,
        "rate": plain(program.points_per_unit),
        "raw": plain(raw),
        "rounding": program.rounding,
        "points": points,
    }


def clawback_target(earned: int, total_minor: int, refunded_minor: int) -> int:
    """Points to have taken back once `refunded_minor` of `total_minor` is refunded.

    Computed on the cumulative refund so that several partial refunds never drift: a full
    refund takes back exactly what was earned, never more. Rounds in the member's favour.
    """
    if total_minor <= 0:
        return earned
    refunded = min(refunded_minor, total_minor)
    return min(
        earned, (Decimal(earned) * refunded / total_minor).to_integral_value(ROUND_FLOOR).__int__()
    )
