"""The calculation: a program, a member's state and an event in; points and the explanation
of every one of them out. Pure: no database, no clock but the event's own time. The service
calls it inside ingestion; anyone can call it to simulate (docs/rules.md).

How rules combine (the three stages, in this order; docs/rules.md has examples):

1. rates: each line in scope earns `base x rate` for the program's rate and for every rate
   rule that applies to it;
2. multipliers: a line's points are multiplied by 1 + the sum of (multiplier - 1) over the
   multiplier rules that apply to it; a multiplier of 0 excludes the line from everything;
3. bonuses: fixed points per event, per line or per unit, multiplied only if `multiplied`.

Rules add up by default; of the rules of one group only the one giving the most points
counts (the first one on a tie); a rule with `stop` ends the list where it applies. Limits and
budgets cut a rule's points to what is left of them.

Rounding happens once, on the event's total, with the program's rounding. The whole points
are then shared out: first among the rules (each gets its exact share rounded down or up,
largest remainders first, so no rule exceeds a limit), then each rule's among the lines it
applied to. Every credit is stored as these cells (line, rule, points), so a refund takes back
exactly what the refunded lines earned under the rules that earned it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from patron.rules.compiled import CompiledRule, RuleSet, plain
from patron.rules.expressions import EvaluationError, evaluate

_ROUNDING = {"down": ROUND_FLOOR, "half_up": ROUND_HALF_UP, "up": ROUND_CEILING}
BASE_RULE = "base"
ORDER_SLOT = "order"
ZERO = Decimal(0)


# -- what goes in -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineIn:
    """One order line; money in minor units."""

    key: str
    sku: str = ""
    product_id: str = ""
    category: str = ""
    tags: tuple[str, ...] = ()
    quantity: int = 1
    unit_price: int = 0
    discount: int = 0
    gift_card: bool = False

    @property
    def gross(self) -> int:
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class OrderIn:
    """An order; money in minor units of `currency`. `discount` is the order-level discount
    and `points_paid` what the customer paid with points (a discount too)."""

    id: str
    currency: str
    total: int
    exponent: int
    lines: tuple[LineIn, ...] = ()
    subtotal: int | None = None
    shipping: int = 0
    tax: int = 0
    discount: int = 0
    points_paid: int = 0


@dataclass(frozen=True, slots=True)
class MemberIn:
    """A member as it was before the event; `spend` in minor units."""

    id: str
    email: str = ""
    name: str = ""
    tier: str = ""
    enrolled_via: str = ""
    orders: int = 0
    spend: int = 0
    points: int = 0
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None
    birthday: str = ""
    enrolled_at: datetime | None = None
    accepts_marketing: bool = False


@dataclass(frozen=True, slots=True)
class EventIn:
    id: str
    type: str
    occurred_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Usage:
    """What a rule already paid a member in one period (or in all, for its budget)."""

    count: int = 0
    points: int = 0


# -- what comes out ---------------------------------------------------------------------------


@dataclass(slots=True)
class Slot:
    """A share of an order that earns on its own and is refunded on its own: a line, the
    shipping, the tax, or the order itself (bonuses per event)."""

    key: str
    quantity: int
    base: int  # minor units earning points (0 for the order slot)
    cells: dict[str, int] = field(default_factory=dict)  # rule id -> whole points

    @property
    def points(self) -> int:
        return sum(self.cells.values())


@dataclass(slots=True)
class Fired:
    rule: str
    name: str
    kind: str
    value: str  # the rate, the multiplier or the bonus, as written
    raw: Decimal = ZERO
    points: int = 0
    lines: list[str] = field(default_factory=list)
    cut: str | None = None  # why it paid less than it computed (a limit, the budget)
    periods: list[str] = field(default_factory=list)  # the limit periods it counts in
    budget: bool = False


@dataclass(slots=True)
class Calculation:
    points: int
    slots: list[Slot]
    fired: list[Fired]
    skipped: list[dict[str, str]]
    raw: Decimal
    rounding: str
    version: int | None
    note: str | None = None
    # The order's earning base ("42.99") and currency, and the program's rate; None for
    # events without an order.
    base: str | None = None
    currency: str | None = None
    rate: str | None = None

    def explanation(self) -> dict[str, Any]:
        """How the points were computed, as stored with the credit and shown to people."""
        out: dict[str, Any] = {
            "program_version": self.version,
            **(
                {"base": self.base, "currency": self.currency, "rate": self.rate}
                if self.base is not None
                else {}
            ),
            "points": self.points,
            "raw": plain(self.raw),
            "rounding": self.rounding,
            "rules": [
                {
                    "rule": f.rule,
                    "name": f.name,
                    f.kind: f.value,
                    "points": f.points,
                    **({"lines": f.lines} if f.lines else {}),
                    **({"cut": f.cut} if f.cut else {}),
                }
                for f in self.fired
            ],
        }
        if self.skipped:
            out["skipped"] = self.skipped
        if self.note:
            out["note"] = self.note
        return out


# -- the calculation --------------------------------------------------------------------------


def local_time(at: datetime, timezone: str) -> datetime:
    return at.astimezone(ZoneInfo(timezone))


def period_key(per: str, local: datetime) -> str:
    if per == "day":
        return local.date().isoformat()
    if per == "week":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    if per == "month":
        return f"{local.year}-{local.month:02d}"
    if per == "year":
        return str(local.year)
    return "lifetime"


def _round(value: Decimal, rounding: str) -> int:
    return int(value.to_integral_value(rounding=_ROUNDING[rounding]))


def share_out(total: int, weights: Sequence[Decimal]) -> list[int]:
    """`total` whole units shared in proportion to `weights` (non-negative): each share is its
    exact part rounded down or up, the largest remainders rounded up, the sum exactly
    `total`. Deterministic: ties go to the earlier weight."""
    if len(weights) <= 1:
        return [total] if weights else []
    whole = sum(weights, ZERO)
    if whole <= 0:
        out = [0] * len(weights)
        out[0] = total
        return out
    exact = [w * total / whole for w in weights]
    shares = [int(e.to_integral_value(rounding=ROUND_FLOOR)) for e in exact]
    left = total - sum(shares)
    if left:
        order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
        for i in order[:left]:
            shares[i] += 1
    return shares


def shares_of(total: int, raws: Sequence[Decimal]) -> list[int]:
    """`total` shared out so that each share is its raw value rounded down or up (the total
    lies between the sums of those): the largest fractions are rounded up."""
    floors = [int(r.to_integral_value(rounding=ROUND_FLOOR)) for r in raws]
    left = total - sum(floors)
    if left:
        order = sorted(range(len(raws)), key=lambda i: (-(raws[i] - floors[i]), i))
        for i in order[:left]:
            floors[i] += 1
    return floors


class Evaluation:
    """One event's evaluation: the values every expression sees, built once, on the first
    expression evaluated (an event that meets no expression never builds them)."""

    def __init__(
        self,
        rules: RuleSet,
        *,
        event: EventIn,
        member: MemberIn,
        order: OrderIn | None,
        bases: Sequence[int] = (),
    ) -> None:
        self.rules = rules
        self.local = local_time(event.occurred_at, rules.timezone)
        self._inputs = (event, member, order, bases)
        self._activation: Any = None
        # Each expression's value (or failure) for this event, by the expression's id: rules
        # that share an expression evaluate it once.
        self._values: dict[int, Any] = {}

    def value(self, compiled: Any) -> Any:
        key = id(compiled)
        if key in self._values:
            found = self._values[key]
        else:
            if self._activation is None:
                self._activation = self._activate(*self._inputs)
            try:
                found = evaluate(compiled, self._activation)
            except EvaluationError as exc:
                found = exc
            self._values[key] = found
        if isinstance(found, EvaluationError):
            raise EvaluationError(*found.args)
        return found

    def _activate(
        self, event: EventIn, member: MemberIn, order: OrderIn | None, bases: Sequence[int]
    ) -> Any:
        rules = self.rules
        types = rules.types
        # Only what the program's expressions can read (`RuleSet.reads`): a variable, a
        # timestamp or the order's lines that none names is left out (an unset field reads
        # as its zero value, but nothing reads it).
        reads = rules.reads.get(event.type, frozenset())
        scale = 10**order.exponent if order else 1

        def money(minor: int) -> float:
            # An integer division is correctly rounded: the double nearest the amount.
            return minor / scale

        values: dict[str, Any] = {}
        if "member" in reads:
            values["member"] = types.message(
                "Member",
                id=member.id,
                email=member.email,
                name=member.name,
                tier=member.tier,
                enrolled_via=member.enrolled_via,
                orders=member.orders,
                spend=money(member.spend),
                points=member.points,
                birthday=member.birthday,
                accepts_marketing=member.accepts_marketing,
                **{
                    k: v
                    for k, v in (
                        ("first_order_at", member.first_order_at),
                        ("last_order_at", member.last_order_at),
                        ("enrolled_at", member.enrolled_at),
                    )
                    if v is not None and k in reads
                },
            )
        if "event" in reads:
            values["event"] = types.message(
                "Event",
                id=event.id,
                type=event.type,
                **({"occurred_at": event.occurred_at} if "occurred_at" in reads else {}),
            )
        if "now" in reads:
            values["now"] = types.message(
                "Now",
                date=self.local.date().isoformat(),
                year=self.local.year,
                month=self.local.month,
                day=self.local.day,
                weekday=self.local.isoweekday(),
                hour=self.local.hour,
                minute=self.local.minute,
                **({"time": event.occurred_at} if "time" in reads else {}),
            )
        if "program" in reads:
            values["program"] = rules.program_message
        if order is not None and "order" in reads:
            values["order"] = types.message(
                "Order",
                id=order.id,
                currency=order.currency,
                total=money(order.total),
                subtotal=money(order.subtotal or 0),
                shipping=money(order.shipping),
                tax=money(order.tax),
                discount=money(order.discount),
                base=money(sum(bases)),
                lines=[
                    {
                        "id": line.key,
                        "sku": line.sku,
                        "product_id": line.product_id,
                        "category": line.category,
                        "tags": list(line.tags),
                        "quantity": line.quantity,
                        "unit_price": money(line.unit_price),
                        "discount": money(line.discount),
                        "amount": money(line.gross - line.discount),
                        "gift_card": line.gift_card,
                    }
                    for line in order.lines
                ]
                if "lines" in reads
                else [],
            )
        if event.type in types.data_types and "data" in reads:
            values["data"] = types.message(
                rules.data_message(event.type),
                **{k: v for k, v in event.data.items() if v is not None},
            )
        return types.env(event.type).Activation(values)


def _scheduled(rule: CompiledRule, local: datetime) -> bool:
    schedule = rule.rule.schedule
    if schedule is None:
        return True
    at = local.astimezone(UTC)
    if schedule.starts_at and at < schedule.starts_at:
        return False
    if schedule.ends_at and at >= schedule.ends_at:
        return False
    if schedule.weekdays and rule.weekdays and local.isoweekday() not in rule.weekdays:
        return False
    if schedule.dates and local.date() not in schedule.dates:
        return False
    return schedule.from_hour <= local.hour < schedule.to_hour


@dataclass(slots=True)
class _Candidate:
    rule: CompiledRule
    fired: Fired
    scope: list[int]  # slot indexes (lines) in scope
    cells: dict[int, Decimal]  # slot index -> raw points
    room: Decimal | None  # points left under its limits and budget


def calculate(
    rules: RuleSet,
    *,
    event: EventIn,
    member: MemberIn,
    order: OrderIn | None = None,
    usage: Mapping[tuple[str, str], Usage] | None = None,
    budgets: Mapping[str, int] | None = None,
) -> Calculation:
    """The points `event` earns `member` under `rules`, and why. `usage` maps (rule id,
    period key) to what the rule paid this member in that period, `budgets` a rule id to what
    it paid in all."""
    usage = usage or {}
    budgets = budgets or {}
    program = rules.program
    slots, bases, excluded_gift = _slots(rules, order)
    skipped: list[dict[str, str]] = []
    version = getattr(program, "version", None)

    def done(note: str | None = None, raw: Decimal = ZERO) -> Calculation:
        return Calculation(
            0, [], [], skipped, raw, program.rounding, version, note, **_base(program, order, bases)
        )

    minimum = rules.minimum_minor(order)
    if order is not None and minimum is not None and sum(bases) < minimum:
        return done(f"the earning base is below the program's minimum of {program.earning.minimum}")

    ev = Evaluation(rules, event=event, member=member, order=order, bases=bases)
    candidates: list[_Candidate] = []
    for rule, hits in rules.meet(event.type, order):
        c = _consider(rule, hits, ev, slots, order, usage, budgets, skipped)
        if c is None:
            continue
        candidates.append(c)
        if rule.rule.stop:
            break

    # Stage 0: the program's base rate and exclusions.
    excluded = {i for c in candidates if c.rule.rule.multiplier == 0 for i in c.scope}
    for c in candidates:
        if c.rule.rule.multiplier == 0:
            c.fired.lines = [slots[i].key for i in c.scope]
    fired: list[_Candidate] = [c for c in candidates if c.rule.rule.multiplier == 0]
    base_cells: dict[int, Decimal] = {}
    earning = [i for i, s in enumerate(slots) if s.base > 0 and i not in excluded]
    unit = Decimal(10) ** -order.exponent if order else Decimal(1)
    if order is not None and program.points_per_unit > 0:
        base_cells = {i: slots[i].base * unit * program.points_per_unit for i in earning}
    line_base = dict(base_cells)  # slot -> points after stage 1

    # Stage 1: rates.
    rates = [c for c in candidates if c.rule.kind == "rate"]
    for c in rates:
        rate = c.rule.rule.rate or ZERO
        c.cells = {i: slots[i].base * unit * rate for i in c.scope if i in earning}
    for c in _best_of_groups(rates, fired):
        _cut(c)
        for i, v in c.cells.items():
            line_base[i] = line_base.get(i, ZERO) + v

    # Stage 2: multipliers.
    multipliers = [c for c in candidates if c.rule.kind == "multiplier" and c.rule.rule.multiplier]
    for c in multipliers:
        extra = (c.rule.rule.multiplier or ZERO) - 1
        c.cells = {i: line_base[i] * extra for i in c.scope if i in line_base}
    # A line's factor counts every multiplier that applies to it, also on a line whose base
    # earns nothing (a multiplied bonus is still multiplied).
    factor: dict[int, Decimal] = {}
    for c in _best_of_groups(multipliers, fired, keep_empty=True):
        _cut(c)
        for i in c.scope:
            if i not in excluded:
                factor[i] = factor.get(i, Decimal(1)) + (c.rule.rule.multiplier or ZERO) - 1

    # Stage 3: bonuses.
    bonuses = [c for c in candidates if c.rule.kind == "points"]
    order_slot = len(slots)
    for c in list(bonuses):
        try:
            amount = c.rule.amount(ev)
        except EvaluationError as exc:
            skipped.append({"rule": c.rule.rule.id, "reason": f"expression failed: {exc}"})
            bonuses.remove(c)
            continue
        per = c.rule.rule.per
        if per == "order":
            c.cells = {order_slot: amount} if amount > 0 else {}
            continue
        for i in c.scope:
            if i in excluded or slots[i].key in ("shipping", "tax"):
                continue
            v = amount * (slots[i].quantity if per == "unit" else 1)
            if c.rule.rule.multiplied:
                v *= factor.get(i, Decimal(1))
            if v > 0:
                c.cells[i] = v
    for c in _best_of_groups(bonuses, fired):
        _cut(c)

    if base_cells:
        base = Fired(
            BASE_RULE, "Points per unit of currency", "rate", plain(program.points_per_unit)
        )
        fired.insert(0, _Candidate(rules.base_rule, base, sorted(base_cells), base_cells, None))
    paying = [c for c in fired if c.cells]
    raws = [sum(c.cells.values(), ZERO) for c in paying]
    raw = sum(raws, ZERO)
    total = max(0, _round(raw, program.rounding))
    per_rule = shares_of(total, raws)
    all_slots = [*slots, Slot(ORDER_SLOT, 1, 0)]
    for c, points, rule_raw in zip(paying, per_rule, raws, strict=True):
        c.fired.points = points
        c.fired.raw = rule_raw
        keys = sorted(c.cells)
        if c.rule.kind != "multiplier" or not c.fired.lines:
            c.fired.lines = [all_slots[i].key for i in keys if i != order_slot]
        for i, share in zip(keys, share_out(points, [c.cells[i] for i in keys]), strict=True):
            if share:
                all_slots[i].cells[c.rule.rule.id] = share
    note = None
    if excluded_gift:
        note = "gift card lines earn nothing: " + ", ".join(excluded_gift)
    return Calculation(
        total,
        [s for s in all_slots if s.cells],
        [c.fired for c in fired],
        skipped,
        raw,
        program.rounding,
        version,
        note,
        **_base(program, order, bases),
    )


def _base(program: Any, order: OrderIn | None, bases: Sequence[int]) -> dict[str, str | None]:
    if order is None:
        return {}
    unit = Decimal(10) ** -order.exponent
    return {
        "base": f"{sum(bases) * unit:f}",
        "currency": order.currency,
        "rate": plain(program.points_per_unit),
    }


def _slots(rules: RuleSet, order: OrderIn | None) -> tuple[list[Slot], list[int], list[str]]:
    """The order's slots with their earning bases, in minor units."""
    if order is None:
        return [], [], []
    earning = rules.program.earning
    after = earning.discounts == "after"
    lines = order.lines
    excluded_gift: list[str] = []
    if not lines:
        goods = order.total - order.shipping - order.tax + (0 if after else order.discount)
        slots = [Slot("items", 1, max(goods, 0))]
    else:
        counted = [not line.gift_card or earning.gift_cards for line in lines]
        excluded_gift = [line.key for line, c in zip(lines, counted, strict=True) if not c]
        nets = [line.gross - line.discount for line in lines]
        if after:
            off = order.discount + order.points_paid
            weights = [Decimal(n if c else 0) for n, c in zip(nets, counted, strict=True)]
            off = min(off, int(sum(weights, ZERO)))
            allocated = share_out(off, weights) if off else [0] * len(lines)
            amounts = [n - a for n, a in zip(nets, allocated, strict=True)]
        else:
            amounts = [line.gross for line in lines]
        slots = [
            Slot(line.key, line.quantity, amount if c else 0)
            for line, amount, c in zip(lines, amounts, counted, strict=True)
        ]
    if earning.shipping and order.shipping:
        slots.append(Slot("shipping", 1, order.shipping))
    if earning.tax and order.tax:
        slots.append(Slot("tax", 1, order.tax))
    return slots, [s.base for s in slots], excluded_gift


def _consider(
    rule: CompiledRule,
    hits: list[int] | None,
    ev: Evaluation,
    slots: list[Slot],
    order: OrderIn | None,
    usage: Mapping[tuple[str, str], Usage],
    budgets: Mapping[str, int],
    skipped: list[dict[str, str]],
) -> _Candidate | None:
    r = rule.rule

    def skip(reason: str) -> None:
        skipped.append({"rule": r.id, "reason": reason})

    if not _scheduled(rule, ev.local):
        return None
    try:
        if rule.when is not None and not ev.value(rule.when):
            return None
        scope: list[int] = []
        if order is not None:
            scope = rule.scope(ev, order, slots, hits)
            if r.lines is not None and not scope:
                return None
        room: Decimal | None = None
        periods: list[str] = []
        for limit, by in zip(r.limits, rule.limit_keys, strict=True):
            key = period_key(limit.per, ev.local)
            if by is not None:
                key = f"{key}:{ev.value(by)}"
            periods.append(f"{limit.per}:{key}")
            used = usage.get((r.id, f"{limit.per}:{key}"), Usage())
            if limit.count is not None and used.count >= limit.count:
                skip(f"limit reached: {limit.count} per {limit.per}")
                return None
            if limit.points is not None:
                left = Decimal(limit.points - used.points)
                if left <= 0:
                    skip(f"limit reached: {limit.points} points per {limit.per}")
                    return None
                room = left if room is None else min(room, left)
        if r.budget is not None:
            left = Decimal(r.budget - budgets.get(r.id, 0))
            if left <= 0:
                skip("budget spent")
                return None
            room = left if room is None else min(room, left)
    except EvaluationError as exc:
        skip(f"expression failed: {exc}")
        return None
    fired = Fired(
        r.id,
        r.name,
        rule.kind if rule.kind != "points" else "bonus",
        rule.shown,
        periods=periods,
        budget=r.budget is not None,
    )
    return _Candidate(rule, fired, scope, {}, room)


def _best_of_groups(
    candidates: list[_Candidate], fired: list[_Candidate], *, keep_empty: bool = False
) -> list[_Candidate]:
    """The candidates that apply: all those without a group, the best of each group (the
    first on a tie). Those that pay are added to `fired`; those that pay nothing are returned
    only with `keep_empty`."""
    best: dict[str, tuple[Decimal, int]] = {}
    for i, c in enumerate(candidates):
        group = c.rule.rule.group
        if group is not None:
            points = sum(c.cells.values(), ZERO)
            if group not in best or points > best[group][0]:
                best[group] = (points, i)
    winners = {i for _, i in best.values()}
    out = []
    for i, c in enumerate(candidates):
        if c.rule.rule.group is not None and i not in winners:
            continue
        if c.cells:
            fired.append(c)
            out.append(c)
        elif keep_empty:
            out.append(c)
    return out


def _cut(c: _Candidate) -> None:
    """Scale a rule's points down to the room its limits and budget leave."""
    whole = sum(c.cells.values(), ZERO)
    if c.room is None or whole <= c.room:
        return
    c.cells = {i: v * c.room / whole for i, v in c.cells.items()}
    c.fired.cut = f"cut from {plain(whole)} to {plain(c.room)} points by its limit or budget"


# -- reversal ---------------------------------------------------------------------------------


def reversed_points(cells: Mapping[str, int], before: Fraction, after: Fraction) -> dict[str, int]:
    """What moving a slot's refunded share from `before` to `after` takes back, per rule:
    each cell's share rounded down (in the member's favour), computed on the cumulative share
    so that successive refunds never drift and a full refund takes back exactly the cell."""
    out = {}
    for rule, points in cells.items():
        taken = _floor(points * after) - _floor(points * before)
        if taken:
            out[rule] = taken
    return out


def _floor(value: Fraction) -> int:
    return value.numerator // value.denominator
