"""How an order's points were earned, kept with the order, and what a refund takes back.

The record (`orders.earning`, JSON) holds the calculation's cells: for each share of the
order (a line by its id, `shipping`, `tax`, `order` for bonuses per order) the points each
rule gave it, and the part of that share refunded so far as an exact fraction. A refund
raises those fractions; each cell gives back its points times the new fraction, rounded down,
minus what the old fraction gave back. The rules of today are never consulted: the cells are
what the rules of the day gave, and successive partial refunds add up to at most the cell,
exactly the cell once the share is wholly refunded.

    {"v": 3,
     "s": [{"k": "1", "q": 2, "c": {"base": 25, "coffee-x2": 25}, "f": "1/2", "rq": 1}, ...],
     "r": {"coffee-x2": {"p": ["month:2026-11"], "b": false}}}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from patron.kit.money import exponent, to_minor
from patron.orders.schemas import OrderPlacedData
from patron.rules.engine import (
    BASE_RULE,
    ORDER_SLOT,
    Calculation,
    LineIn,
    OrderIn,
    reversed_points,
)


class RefundError(ValueError):
    def __init__(self, message: str, at: str) -> None:
        super().__init__(message)
        self.at = at


def record(calculation: Calculation | None, lines: Sequence[LineIn]) -> dict[str, Any] | None:
    """The record of an order's earning: every line (those that earned nothing too, so that
    their refunds are checked), then the other shares that earned. None for an order without
    lines that earned nothing."""
    slots = {s.key: s for s in calculation.slots} if calculation else {}
    if not lines and not slots:
        return None
    out = [
        {
            "k": line.key,
            "sku": line.sku,
            "q": line.quantity,
            "c": dict(slots.pop(line.key).cells) if line.key in slots else {},
            "f": "0",
        }
        for line in lines
    ]
    out += [{"k": s.key, "q": s.quantity, "c": dict(s.cells), "f": "0"} for s in slots.values()]
    if calculation is None:
        return {"v": None, "s": out, "r": {}}
    return {
        "v": calculation.version,
        "s": out,
        "r": {
            f.rule: {"p": f.periods, "b": f.budget}
            for f in calculation.fired
            if f.points > 0 and (f.periods or f.budget)
        },
    }


@dataclass
class Reversal:
    """What a refund or cancellation takes back, per rule, and the rules whose payment is now
    wholly reversed (their count goes back to their limits)."""

    points: dict[str, int] = field(default_factory=dict)
    whole: set[str] = field(default_factory=set)

    @property
    def total(self) -> int:
        return sum(self.points.values())


@dataclass(frozen=True)
class RefundedLine:
    id: str | None
    sku: str | None
    quantity: int


def refund(
    earning: dict[str, Any],
    *,
    lines: Sequence[RefundedLine],
    amount: int,
    total: int,
    refunded_before: int,
) -> Reversal:
    """Apply a refund to `earning` (changed in place). With `lines`, those lines' shares grow
    by the quantity refunded; without, the amount is spread over what was not refunded yet,
    every share alike. The order's own share (its bonuses) goes back once the whole order is."""
    slots = earning["s"]
    before = {i: Fraction(s["f"]) for i, s in enumerate(slots)}
    after = dict(before)
    by_key = {s["k"]: i for i, s in enumerate(slots) if s["k"] != ORDER_SLOT}
    if lines:
        for n, line in enumerate(lines):
            i = _find(slots, by_key, line, n)
            slot = slots[i]
            done = slot.get("rq", 0)
            if done + line.quantity > slot["q"]:
                raise RefundError(
                    f"line {slot['k']!r} has {slot['q']} units, {done} refunded already: "
                    f"{line.quantity} more is too many",
                    f"lines.{n}.quantity",
                )
            slot["rq"] = done + line.quantity
            after[i] = min(Fraction(1), after[i] + Fraction(line.quantity, slot["q"]))
    else:
        left = total - refunded_before
        share = Fraction(amount, left) if left > 0 else Fraction(1)
        for i, s in enumerate(slots):
            if s["k"] != ORDER_SLOT:
                after[i] = min(Fraction(1), after[i] + (1 - after[i]) * share)
    # The order's own bonuses stay until the whole order is refunded, by amount or line by
    # line: a partial refund keeps the order what it was when the bonus was paid.
    whole = refunded_before + amount >= total or all(
        s.get("rq", 0) >= s["q"] for s in slots if s["k"] in by_key and "sku" in s
    )
    for i, s in enumerate(slots):
        if s["k"] == ORDER_SLOT and whole:
            after[i] = Fraction(1)
    return _move(earning, before, after)


def cancel(earning: dict[str, Any]) -> Reversal:
    """Everything still held comes back, bonuses included."""
    before = {i: Fraction(s["f"]) for i, s in enumerate(earning["s"])}
    return _move(earning, before, {i: Fraction(1) for i in before})


def _find(slots: list[dict[str, Any]], by_key: dict[str, int], line: RefundedLine, n: int) -> int:
    if line.id is not None:
        if line.id not in by_key:
            raise RefundError(f"the order has no line {line.id!r}", f"lines.{n}.id")
        return by_key[line.id]
    for i in by_key.values():
        slot = slots[i]
        if slot.get("sku") == line.sku and slot.get("rq", 0) + line.quantity <= slot["q"]:
            return i
    raise RefundError(
        f"the order has no line of SKU {line.sku!r} with {line.quantity} units left to refund",
        f"lines.{n}.sku",
    )


def _move(
    earning: dict[str, Any], before: dict[int, Fraction], after: dict[int, Fraction]
) -> Reversal:
    out = Reversal()
    slots = earning["s"]
    for i, s in enumerate(slots):
        for rule, points in reversed_points(s["c"], before[i], after[i]).items():
            out.points[rule] = out.points.get(rule, 0) + points
        s["f"] = str(after[i])
    for rule in earning.get("r", {}):
        cells = [(before[i], after[i]) for i, s in enumerate(slots) if rule in s["c"]]
        if cells and all(a == 1 for _, a in cells) and not all(b == 1 for b, _ in cells):
            out.whole.add(rule)
    return out


def order_input(data: OrderPlacedData) -> OrderIn:
    """The order as the calculation reads it: minor units, lines keyed by id or position."""
    currency = data.currency

    def minor(amount: str | None) -> int:
        return to_minor(amount, currency) if amount else 0

    return OrderIn(
        id=data.order_id,
        currency=currency,
        total=minor(data.total),
        exponent=exponent(currency),
        subtotal=minor(data.subtotal) if data.subtotal else None,
        shipping=minor(data.shipping),
        tax=minor(data.tax),
        discount=minor(data.discount),
        points_paid=sum(minor(p.amount) for p in data.payments if p.method == "points"),
        lines=tuple(
            LineIn(
                key=line.id or str(i),
                sku=line.sku,
                product_id=line.product_id or "",
                category=line.category or "",
                tags=tuple(line.tags),
                quantity=line.quantity,
                unit_price=minor(line.unit_price),
                discount=minor(line.discount),
                gift_card=line.gift_card,
            )
            for i, line in enumerate(data.lines, start=1)
        ),
    )


def summary(calculation: Calculation) -> str:
    """The calculation in a few words: "42.99 USD x 1 rounded down", then each rule's points
    ("+84 by weekend-double")."""
    parts = []
    for f in calculation.fired:
        if f.rule == BASE_RULE:
            parts.append(f"{calculation.base} {calculation.currency} x {f.value}")
        elif f.points:
            parts.append(f"+{f.points} by {f.rule}")
    text = ", ".join(parts)
    if calculation.raw != calculation.points:
        text += f" rounded {calculation.rounding}"
    return text
