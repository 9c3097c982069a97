"""A realistic shop's order history, and the points it must produce, for `bench/replay.py`.

`generate()` is pure and seeded: the same arguments give the same events, byte for byte, with
no I/O and no clock (the history ends on a fixed date). By default it is the size of a real
shop: about 70,000 orders from 23,500 customers over 18 months, half of the customers ordering
again (a few of them very often), seasonal peaks, zero-value orders, several orders on the same
day, partial refunds and cancellations.

`expected_points()` is the reference model: it recomputes every member's balances from the
events with plain integer arithmetic, written from the program's rules, importing nothing from
Patron, so that a replay through the server is checked by an independent computation.

The program it assumes: 1 point per whole dollar rounded down, pending for 14 days, no expiry,
negative balances forbidden, auto-enrolment on. All events must be more than 14 days old when
replayed (nothing pending) and nothing is redeemed, so available = lifetime earned.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

DEFAULT_ORDERS = 70_000
DEFAULT_CUSTOMERS = 23_500
DEFAULT_MONTHS = 18
DEFAULT_END = date(2026, 10, 31)  # last day of the history (UTC), included
PENDING_DAYS = 14  # the program's return window, for callers checking the history is old enough
CURRENCY = "USD"

# The program the reference model implements (what replay.py publishes).
PROGRAM: dict[str, Any] = {
    "name": "Replay",
    "currency": CURRENCY,
    "points_per_unit": "1",
    "rounding": "down",
    "pending_days": PENDING_DAYS,
    "expiry_days": None,
    "negative_balance": "forbid",
}

# Shares of a typical online shop (per order unless said otherwise).
REPEAT_SHARE = 0.5  # customers with more than one order
ZERO_VALUE_SHARE = 0.01  # free samples, 100% discount codes: total "0.00"
SMALL_SHARE = 0.005  # totals under a dollar: earn nothing though not zero
SAME_DAY_SHARE = 0.03  # repeat orders placed the same day as the customer's previous one
REFUND_SHARE = 0.04  # orders refunded, fully or in part, once or several times
CANCEL_SHARE = 0.015  # orders cancelled
REFUND_THEN_CANCEL_SHARE = 0.002  # partly refunded (a price adjustment), then cancelled
EMAIL_SHARE = 0.85  # customers whose orders carry an email

SECONDS_PER_DAY = 86_400
# Orders by hour of day (UTC, a US shop): quiet at night, peaks in the evening.
HOUR_WEIGHTS = (
    6, 4, 3, 2, 2, 2, 3, 5, 8, 11, 13, 14,
    15, 15, 15, 15, 16, 17, 19, 21, 22, 20, 15, 10,
)  # fmt: skip
# Orders by weekday, Monday first.
WEEKDAY_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 0.95, 0.85, 1.1)
# Orders by month: a slow January, the holiday season busy.
MONTH_WEIGHTS = (0.8, 0.85, 0.95, 0.95, 1.0, 1.0, 0.95, 0.95, 1.0, 1.05, 1.5, 1.4)


@dataclass(frozen=True)
class Expected:
    """One member's balances and statistics after the whole history, per the program's rules."""

    available: int
    pending: int
    lifetime_earned: int
    debt: int
    orders_count: int
    total_spent: str  # net of refunds and cancellations, e.g. "412.50"


@dataclass
class History:
    """The events in chronological order, what each must do, and what they add up to."""

    events: list[dict[str, Any]]
    expected: dict[str, Expected]  # by customer external id: every customer is a member
    outcomes: list[str]  # the status each event's result must carry, in event order
    start: datetime
    end: datetime
    stats: dict[str, int] = field(default_factory=dict)


@dataclass
class _Order:
    customer: int  # index of the customer
    at: int  # epoch seconds
    total: int  # cents
    refunds: list[tuple[int, int]] = field(default_factory=list)  # (epoch seconds, cents)
    cancelled_at: int | None = None


def _months_before(day: date, months: int) -> date:
    """The day after the same day `months` earlier: [result, day] spans exactly `months`."""
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    following = date(year, month + 1, 1) + timedelta(days=32)
    last = (following.replace(day=1) - timedelta(days=1)).day
    return date(year, month + 1, min(day.day, last)) + timedelta(days=1)


def _black_friday(year: int) -> date:
    """Fourth Thursday of November, plus one day."""
    first = date(year, 11, 1)
    thursday = first + timedelta(days=(3 - first.weekday()) % 7)
    return thursday + timedelta(days=22)


def _day_weights(first: date, days: int) -> list[float]:
    """Cumulative weights of each day: growth over the period, season, weekday, Black Friday."""
    peaks: set[date] = set()
    for year in range(first.year, first.year + days // 365 + 2):
        friday = _black_friday(year)
        peaks.update(friday + timedelta(days=d) for d in range(4))  # to Cyber Monday
    cumulative: list[float] = []
    total = 0.0
    for n in range(days):
        day = first + timedelta(days=n)
        weight = (0.75 + 0.5 * n / max(days - 1, 1)) * MONTH_WEIGHTS[day.month - 1]
        weight *= WEEKDAY_WEIGHTS[day.weekday()] * (3.0 if day in peaks else 1.0)
        total += weight
        cumulative.append(total)
    return cumulative


def _orders_per_customer(rng: random.Random, orders: int, customers: int) -> list[int]:
    """Half the customers order once; the others share the rest, skewed (a few order a lot)."""
    repeaters = min(round(customers * REPEAT_SHARE), orders - customers)
    counts = [1] * customers
    extra = orders - customers - repeaters  # beyond the second order of each repeater
    if repeaters <= 0:
        counts[0] += orders - customers  # a single customer, or one order each
        return counts
    chosen = rng.sample(range(customers), repeaters)
    # Each further order goes to a repeater drawn by a lognormal propensity: most stop at two
    # or three orders, a few regulars order every week or more.
    weights = [rng.lognormvariate(0.0, 1.4) for _ in chosen]
    more = Counter(rng.choices(range(repeaters), weights=weights, k=extra))
    for i, customer in enumerate(chosen):
        counts[customer] = 2 + more[i]
    return counts


def _total(rng: random.Random) -> int:
    """An order total in cents: mostly $15-$150, a long tail, some zero or under a dollar."""
    draw = rng.random()
    if draw < ZERO_VALUE_SHARE:
        return 0
    if draw < ZERO_VALUE_SHARE + SMALL_SHARE:
        return rng.randint(1, 99)
    dollars = min(rng.lognormvariate(math.log(55.0), 0.75), 2500.0)
    cents = max(100, round(dollars * 100))
    ending = rng.random()
    if ending < 0.35:
        return cents // 100 * 100 + 99 - (100 if cents >= 200 else 0)  # "49.99"
    if ending < 0.5:
        return cents // 100 * 100  # "50.00"
    return cents


def _refunds(rng: random.Random, order: _Order, end: int) -> None:
    """One to three refunds adding up to the whole total or part of it, after the order."""
    if order.total <= 0:
        return
    count = rng.choices((1, 2, 3), weights=(70, 22, 8))[0]
    share = 1.0 if rng.random() < 0.35 else rng.uniform(0.1, 0.9)
    refunded = min(order.total, max(1, round(order.total * share)))
    count = min(count, refunded)
    cuts = sorted(rng.sample(range(1, refunded), count - 1)) if count > 1 else []
    bounds = [0, *cuts, refunded]
    at = order.at + round(rng.uniform(1, 30) * SECONDS_PER_DAY)
    for lo, hi in itertools.pairwise(bounds):
        if at > end:
            break  # after the end of the history: never happened
        order.refunds.append((at, hi - lo))
        at += rng.randint(3600, 10 * SECONDS_PER_DAY)


def _cancel(rng: random.Random, order: _Order, end: int) -> None:
    """Cancelled within two days of the order, or after its last refund."""
    after = order.refunds[-1][0] + 3600 if order.refunds else order.at + 600
    at = after + rng.randint(0, 2 * SECONDS_PER_DAY)
    if at <= end:
        order.cancelled_at = at


def _iso(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _cents(amount: str) -> int:
    """A decimal string ("84.5", "84.50", "84") in cents, exactly (no float)."""
    whole, _, fraction = amount.partition(".")
    if len(fraction) > 2:
        raise ValueError(f"{amount!r} has more than 2 decimals")
    return int(whole) * 100 + int((fraction + "00")[:2])


def generate(
    *,
    orders: int = DEFAULT_ORDERS,
    customers: int = DEFAULT_CUSTOMERS,
    seed: int = 0,
    end: date = DEFAULT_END,
    months: int = DEFAULT_MONTHS,
) -> History:
    """The history of a shop over `months` months up to `end` (included), UTC, seeded."""
    if customers < 1 or orders < customers:
        raise ValueError("need at least one customer and at least one order per customer")
    rng = random.Random(seed)
    first_day = _months_before(end, months)
    days = (end - first_day).days + 1
    start_at = int(datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC).timestamp())
    end_at = start_at + days * SECONDS_PER_DAY - 1
    cum_days = _day_weights(first_day, days)
    cum_hours = list(_accumulate(HOUR_WEIGHTS))

    def moment() -> int:
        day = bisect.bisect_right(cum_days, rng.random() * cum_days[-1])
        hour = bisect.bisect_right(cum_hours, rng.random() * cum_hours[-1])
        return start_at + day * SECONDS_PER_DAY + hour * 3600 + rng.randrange(3600)

    placed: list[_Order] = []
    for customer, count in enumerate(_orders_per_customer(rng, orders, customers)):
        times = sorted(moment() for _ in range(count))
        for i in range(1, count):
            if rng.random() < SAME_DAY_SHARE:  # back for something forgotten, hours later
                day_end = times[i - 1] - times[i - 1] % SECONDS_PER_DAY + SECONDS_PER_DAY - 1
                times[i] = min(times[i - 1] + rng.randint(120, 4 * 3600), day_end, end_at)
        times.sort()
        placed.extend(_Order(customer, at, _total(rng)) for at in times)

    for order in placed:
        fate = rng.random()
        if fate < REFUND_SHARE + REFUND_THEN_CANCEL_SHARE:
            _refunds(rng, order, end_at)
            if fate >= REFUND_SHARE:
                _cancel(rng, order, end_at)
        elif fate < REFUND_SHARE + REFUND_THEN_CANCEL_SHARE + CANCEL_SHARE:
            _cancel(rng, order, end_at)

    events = _events(rng, placed)
    expected, outcomes = expected_points(events)
    per_customer = Counter(order.customer for order in placed)
    days_seen: set[tuple[int, int]] = set()  # (customer, day): placed is sorted by time now
    same_day = 0
    for order in placed:
        key = (order.customer, order.at // SECONDS_PER_DAY)
        same_day += key in days_seen
        days_seen.add(key)
    stats = {
        "orders": len(placed),
        "customers": customers,
        "repeat_customers": sum(1 for n in per_customer.values() if n > 1),
        "max_orders_per_customer": max(per_customer.values()),
        "zero_value_orders": sum(1 for o in placed if o.total == 0),
        "same_day_orders": same_day,
        "refunds": sum(len(o.refunds) for o in placed),
        "refunded_orders": sum(1 for o in placed if o.refunds),
        "orders_with_several_refunds": sum(1 for o in placed if len(o.refunds) > 1),
        "fully_refunded_orders": sum(
            1 for o in placed if o.refunds and sum(c for _, c in o.refunds) == o.total
        ),
        "cancellations": sum(1 for o in placed if o.cancelled_at is not None),
        "events": len(events),
    }
    return History(
        events=events,
        expected=expected,
        outcomes=outcomes,
        start=datetime.fromtimestamp(start_at, UTC),
        end=datetime.fromtimestamp(end_at, UTC),
        stats=stats,
    )


def _accumulate(weights: tuple[int, ...]) -> list[int]:
    out: list[int] = []
    total = 0
    for w in weights:
        total += w
        out.append(total)
    return out


def _events(rng: random.Random, placed: list[_Order]) -> list[dict[str, Any]]:
    """Event bodies as the API takes them, sorted by time; ids follow the shop's numbering."""
    placed.sort(key=lambda o: o.at)  # stable: a customer's same-second orders keep their order
    customer_ids: dict[int, str] = {}  # numbered in order of first purchase, like a shop's
    emails: dict[int, bool] = {}
    # (time, sequence, event): the sequence keeps ties in generation order, so an order's
    # placement always precedes its refunds and cancellation (which are strictly later anyway).
    timeline: list[tuple[int, int, dict[str, Any]]] = []
    for number, order in enumerate(placed, start=1001):
        if order.customer not in customer_ids:
            customer_ids[order.customer] = f"cust_{len(customer_ids) + 1:06d}"
            emails[order.customer] = rng.random() < EMAIL_SHARE
        external_id = customer_ids[order.customer]
        order_id = f"#{number}"
        customer: dict[str, str] = {"external_id": external_id}
        if emails[order.customer]:
            customer["email"] = f"{external_id.replace('_', '.')}@example.com"
        body = {
            "type": "order.placed",
            "occurred_at": _iso(order.at),
            "customer": customer,
            "data": {"order_id": order_id, "currency": CURRENCY, "total": _money(order.total)},
        }
        timeline.append((order.at, len(timeline), body))
        for at, cents in order.refunds:
            body = {
                "type": "order.refunded",
                "occurred_at": _iso(at),
                "customer": {"external_id": external_id},
                "data": {"order_id": order_id, "amount": _money(cents)},
            }
            timeline.append((at, len(timeline), body))
        if order.cancelled_at is not None:
            body = {
                "type": "order.cancelled",
                "occurred_at": _iso(order.cancelled_at),
                "customer": {"external_id": external_id},
                "data": {"order_id": order_id},
            }
            timeline.append((order.cancelled_at, len(timeline), body))
    timeline.sort(key=lambda item: (item[0], item[1]))
    return [{"id": f"evt_{n:08d}", **body} for n, (_, _, body) in enumerate(timeline, start=1)]


@dataclass
class _OrderBook:
    customer: str
    total: int  # cents
    earned: int = 0
    refunded: int = 0  # cents
    reversed: int = 0  # points taken back so far
    cancelled: bool = False


def expected_points(events: list[dict[str, Any]]) -> tuple[dict[str, Expected], list[str]]:
    """Each member's balances after `events` (in order), and each event's result status.

    The rules, for the program in PROGRAM with everything vested and nothing redeemed:
    an order of T dollars earns floor(T) points (zero-value and sub-dollar orders earn 0).
    After refunds summing R of T, min(earned, floor(earned x R / T)) points are taken back in
    all, so each refund takes that target minus what was taken back already. A cancellation
    takes back what the order still holds, once. Every customer who ordered is a member.
    """
    orders: dict[str, _OrderBook] = {}
    outcomes: list[str] = []
    for event in events:
        kind, data = event["type"], event["data"]
        if kind == "order.placed":
            if data["order_id"] in orders:
                raise ValueError(f"order {data['order_id']} placed twice")
            order = _OrderBook(event["customer"]["external_id"], _cents(data["total"]))
            order.earned = order.total // 100  # 1 point per whole dollar, rounded down
            orders[data["order_id"]] = order
            outcomes.append("applied" if order.earned > 0 else "no_effect")
            continue
        order = orders[data["order_id"]]
        if kind == "order.refunded":
            order.refunded += _cents(data["amount"])
            if order.refunded > order.total:
                raise ValueError(f"order {data['order_id']} refunded beyond its total")
            target = min(order.earned, order.earned * order.refunded // order.total)
        elif kind == "order.cancelled":
            target = order.earned if not order.cancelled else order.reversed
            order.cancelled = True
        else:
            raise ValueError(f"the model does not know {kind!r} events")
        taken = max(0, target - order.reversed)  # a refund after a cancel takes nothing
        order.reversed += taken
        outcomes.append("applied" if taken > 0 else "no_effect")

    points: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    spent: Counter[str] = Counter()
    for order in orders.values():
        points[order.customer] += order.earned - order.reversed
        counts[order.customer] += 0 if order.cancelled else 1
        spent[order.customer] += 0 if order.cancelled else order.total - order.refunded
    expected = {
        customer: Expected(
            available=points[customer],
            pending=0,
            lifetime_earned=points[customer],
            debt=0,
            orders_count=counts[customer],
            total_spent=_money(spent[customer]),
        )
        for customer in sorted({o.customer for o in orders.values()})
    }
    return expected, outcomes
