"""The demo shop: about a year in the life of a small coffee roaster, generated from a seed.

`plan()` touches no database and reads no clock: the same seed, member count and end time
give the same customers, orders, refunds, cancellations and support actions, so a demo can
be rebuilt and a test can rely on what it contains. `patron demo` replays the plan through
the real services (see patron.cli.demo).

Money is integer cents from a product catalog, never a float; random floats only place
events in time.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import patron.handlers  # noqa: F401  (registers the event types)
from patron.events.schemas import EventBase
from patron.ingest.registry import registry
from patron.programs.examples import example_program

TENANT = "demo"
# Thirteen months rather than twelve so that, with points valid 365 days, the first
# month's unspent points expire before the demo ends.
DAYS = 395
# The coffee roaster's program of docs/programs/: a point per dollar, 14 days pending, a
# year's validity, a welcome bonus and a birthday treat.
PROGRAM = example_program("coffee")
# Points price of each reward, dearest first: a member takes the dearest one they can afford.
REWARDS: tuple[tuple[int, str], ...] = (
    (500, "$25 off your next order"),
    (200, "$10 off your next order"),
    (100, "$5 off your next order"),
)
FREE_SHIPPING_FROM = 50_00
SHIPPING = 5_90


@dataclass(frozen=True)
class Product:
    sku: str
    category: str
    price: int  # cents


CATALOG: tuple[Product, ...] = (
    Product("BEAN-ETH-250", "coffee", 14_50),
    Product("BEAN-COL-250", "coffee", 12_90),
    Product("BEAN-BRA-1000", "coffee", 39_00),
    Product("BEAN-DECAF-250", "coffee", 13_50),
    Product("ESPRESSO-500", "coffee", 22_00),
    Product("TEA-SENCHA-100", "tea", 9_80),
    Product("TEA-ASSAM-100", "tea", 8_50),
    Product("MUG-STONE", "gear", 18_00),
    Product("FILTER-PAPERS", "gear", 6_50),
    Product("DRIPPER-V60", "gear", 27_00),
    Product("GRINDER-HAND", "gear", 79_00),
    Product("GIFT-BOX", "gifts", 45_00),
)
FIRST_NAMES = (  # noqa: SIM905
    "Ada Alan Grace Edsger Barbara Donald Frances Ken Margaret Dennis Radia Linus Guido "
    "Katherine John Sophie Tim Hedy Niklaus Adele Leslie Shafi Anita Jean Carol Fernando "
    "Lynn Bjarne Ruth Vint"
).split()
LAST_NAMES = (  # noqa: SIM905
    "Lovelace Turing Hopper Dijkstra Liskov Knuth Allen Thompson Hamilton Ritchie "
    "Perlman Torvalds Rossum Johnson Backus Wilson Berners Lamarr Wirth Goldberg Lamport "
    "Goldwasser Borg Sammet Shaw Corbato Conway Stroustrup Teitelbaum Cerf"
).split()
# Shopper habits: share of customers, mean days between orders, chance of redeeming at an
# order once they can afford a reward.
SEGMENTS: tuple[tuple[str, float, float, float], ...] = (
    ("loyal", 0.15, 25.0, 0.5),
    ("regular", 0.35, 60.0, 0.35),
    ("occasional", 0.50, 150.0, 0.2),
)
CANCEL_RATE = 0.03
REFUND_RATE = 0.07
SECOND_REFUND_RATE = 0.25
ENROL_FIRST_RATE = 0.10  # join through the shop's account page before ordering
BROWSER_RATE = 0.03  # join and never order
CHURN_RATE = 0.25  # stop ordering at some point in the year


@dataclass(frozen=True)
class Adjustment:
    """A support agent's correction. A negative amount removes at most what the member has:
    under the `forbid` policy a balance may not go below zero."""

    at: datetime
    customer: str
    points: int
    reason: str


@dataclass(frozen=True)
class Redemption:
    """A member spending points at checkout: the dearest reward within `budget` that the
    balance at that moment affords, if any. Balances depend on everything before, so the
    reward is chosen when the plan is replayed, not here."""

    at: datetime
    customer: str
    budget: int
    idempotency_key: str


Action = Adjustment | Redemption


@dataclass
class Plan:
    start: datetime
    end: datetime
    customers: list[str]
    events: list[EventBase] = field(default_factory=list)  # in time order
    actions: list[Action] = field(default_factory=list)  # in time order


def reward_for(budget: int, available: int) -> tuple[int, str] | None:
    """The dearest reward that costs at most `budget` and at most `available` points."""
    limit = min(budget, available)
    return next((r for r in REWARDS if r[0] <= limit), None)


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


@dataclass
class _Customer:
    external_id: str
    name: str
    email: str
    arrival: datetime
    mean_gap: float
    redeem_rate: float
    enrols_first: bool
    browses_only: bool
    leaves_at: datetime | None


@dataclass
class _Draft:
    """An event before it has an id: ids are given in time order once all are drafted."""

    at: datetime
    seq: int
    body: dict[str, Any]


def plan(*, members: int, seed: int, end: datetime) -> Plan:
    """Customers, their orders, refunds and cancellations, sign-ups and support actions over
    the DAYS before `end` (an aware datetime)."""
    if members < 1:
        raise ValueError("the demo needs at least one member")
    rng = random.Random(seed)
    end = end.replace(microsecond=0)
    start = end - timedelta(days=DAYS)
    customers = [_customer(rng, i, members, start, end) for i in range(1, members + 1)]

    drafts: list[_Draft] = []
    placements: list[tuple[datetime, _Customer]] = []
    for c in customers:
        first_order = c.arrival
        if c.enrols_first or c.browses_only:
            drafts.append(_enrolment(rng, c, len(drafts)))
            first_order = c.arrival + timedelta(days=rng.uniform(0.5, 20))
        if c.browses_only:
            continue
        at = min(first_order, end)
        stop = min(c.leaves_at or end, end)
        placements.append((at, c))
        while True:
            at = at + timedelta(days=1 + rng.expovariate(1 / c.mean_gap))
            if at > stop:
                break
            placements.append((at, c))
    placements.sort(key=lambda p: (p[0], p[1].external_id))

    actions: list[Action] = []
    orders_so_far: dict[str, int] = {}
    for number, (at, c) in enumerate(placements, start=1001):
        order_id = f"#{number}"
        drafts += _order_events(rng, c, order_id, _second(at), end, len(drafts))
        orders_so_far[c.external_id] = orders_so_far.get(c.external_id, 0) + 1
        # Points earned are pending for two weeks, so only a returning customer can spend.
        if orders_so_far[c.external_id] >= 2 and rng.random() < c.redeem_rate:
            actions.append(
                Redemption(
                    at=_second(at - timedelta(minutes=2)),
                    customer=c.external_id,
                    budget=rng.choice(REWARDS)[0],
                    idempotency_key=f"demo-checkout-{order_id}",
                )
            )
    actions += _support(rng, placements, end)

    drafts.sort(key=lambda d: (d.at, d.seq))
    events = []
    for n, draft in enumerate(drafts, start=1):
        draft.body["id"] = f"demo-evt-{n:06d}"
        draft.body["occurred_at"] = draft.at.isoformat()
        events.append(registry.adapter().validate_python(draft.body))
    actions.sort(key=lambda a: (a.at, a.customer))
    return Plan(
        start=start,
        end=end,
        customers=[c.external_id for c in customers],
        events=events,
        actions=actions,
    )


def _second(at: datetime) -> datetime:
    return at.replace(microsecond=0)


def _customer(rng: random.Random, i: int, count: int, start: datetime, end: datetime) -> _Customer:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    roll, acc = rng.random(), 0.0
    segment = SEGMENTS[-1]
    for candidate in SEGMENTS:
        acc += candidate[1]
        if roll < acc:
            segment = candidate
            break
    # A third of the customers are there from the start; the rest arrive over the year,
    # early enough to place an order before the end.
    span = (end - start).days - 30
    day = rng.uniform(0, 30) if rng.random() < 0.33 else rng.uniform(0, span)
    arrival = _second(start + timedelta(days=day))
    leaves_at = None
    if rng.random() < CHURN_RATE:
        leaves_at = arrival + timedelta(days=rng.uniform(30, DAYS))
    browses_only = rng.random() < BROWSER_RATE
    return _Customer(
        external_id=f"cust_{i:0{max(4, len(str(count)))}d}",
        name=f"{first} {last}",
        email=f"{first}.{last}.{i}@example.com".lower(),
        arrival=arrival,
        mean_gap=segment[2],
        redeem_rate=segment[3],
        enrols_first=rng.random() < ENROL_FIRST_RATE,
        browses_only=browses_only,
        leaves_at=leaves_at,
    )


def _who(c: _Customer) -> dict[str, Any]:
    return {"external_id": c.external_id, "email": c.email, "name": c.name}


def _enrolment(rng: random.Random, c: _Customer, seq: int) -> _Draft:
    data: dict[str, Any] = {"source": "account", "accepts_marketing": rng.random() < 0.6}
    if rng.random() < 0.5:
        data["birthday"] = (
            f"{rng.randint(1950, 2004)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        )
    body = {"type": "member.enrolled", "customer": _who(c), "data": data}
    return _Draft(c.arrival, seq, body)


def _order_events(
    rng: random.Random, c: _Customer, order_id: str, at: datetime, end: datetime, seq: int
) -> list[_Draft]:
    """The order, and what later happens to it (cancelled, or partly refunded) before `end`."""
    products = rng.sample(CATALOG, k=rng.choice((1, 1, 1, 2, 2, 3)))
    lines = [(p, rng.choice((1, 1, 1, 2, 2, 3))) for p in products]
    subtotal = sum(p.price * qty for p, qty in lines)
    total = subtotal + (0 if subtotal >= FREE_SHIPPING_FROM else SHIPPING)
    placed = {
        "type": "order.placed",
        "customer": _who(c),
        "data": {
            "order_id": order_id,
            "currency": PROGRAM.currency,
            "total": money(total),
            "subtotal": money(subtotal),
            "lines": [
                {
                    "sku": p.sku,
                    "category": p.category,
                    "quantity": qty,
                    "unit_price": money(p.price),
                }
                for p, qty in lines
            ],
        },
    }
    out = [_Draft(at, seq, placed)]
    customer = {"external_id": c.external_id}

    def later(when: datetime, body: dict[str, Any]) -> None:
        if when <= end:
            out.append(_Draft(_second(when), seq + len(out), body))

    if rng.random() < CANCEL_RATE:
        later(
            at + timedelta(hours=rng.uniform(0.5, 48)),
            {
                "type": "order.cancelled",
                "customer": customer,
                "data": {"order_id": order_id, "reason": "customer changed their mind"},
            },
        )
        return out
    if rng.random() >= REFUND_RATE:
        return out
    # A returned item, or part of its price when the order is a single item: refunds in the
    # demo are partial, so the claw-back is a share of what the order earned.
    refunds: list[int] = []
    units = [p.price for p, qty in lines for _ in range(qty)]
    rng.shuffle(units)
    first = units[0] if len(units) > 1 else units[0] // 2
    refunds.append(first)
    if len(units) > 2 and rng.random() < SECOND_REFUND_RATE:
        refunds.append(units[1])
    when = at
    for amount in refunds:
        # Some refunds land inside the 14-day return window (taken from pending points),
        # most after it (taken from available points).
        when = when + timedelta(days=rng.uniform(3, 30))
        later(
            when,
            {
                "type": "order.refunded",
                "customer": customer,
                "data": {"order_id": order_id, "amount": money(amount), "reason": "item returned"},
            },
        )
    return out


def _support(
    rng: random.Random, placements: Sequence[tuple[datetime, _Customer]], end: datetime
) -> list[Action]:
    """Two goodwill gestures and one correction, each a day or more after an order, so the
    customer is a member by then."""
    if not placements:
        return []
    chosen = rng.sample(list(placements), k=min(3, len(placements)))
    reasons = (
        (100, "Goodwill: the parcel arrived two weeks late"),
        (50, "Goodwill: the wrong grind was shipped"),
        (-30, "Correction: points for a test order placed by staff"),
    )
    out: list[Action] = []
    for (at, c), (points, reason) in zip(chosen, reasons, strict=False):
        when = min(at + timedelta(days=rng.uniform(1, 10)), end)
        out.append(
            Adjustment(at=_second(when), customer=c.external_id, points=points, reason=reason)
        )
    return out
