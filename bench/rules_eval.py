"""Rule evaluation: a 20-line order against programs of 0, 50 and 500 active rules, as a
merchant with a large catalog writes them (most rules scoped to products an order does not
contain, which the index skips; some conditions on the member and the order; line filters;
multipliers, rates and bonuses per order, line and unit; a group; limits; schedules).

Prints, per program: the time to compile it (validation included, as at save time), the rules
an order meets after the index, and the calculation's median and p99 per event.

The orders are those `bench/ingest.py --lines 20` sends (its catalog, its templates), read
as the server reads them (`OrderPlacedData`, then `order_input`), so that this measures the
calculation of the orders the ingestion benchmark sends, under the same programs.

    python bench/rules_eval.py [--events 3000]
    python bench/rules_eval.py --write-program 50 rules50.json   # for ingest.py --program
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from typing import Any

import orjson

from patron.orders.earning import order_input
from patron.orders.schemas import OrderPlacedData
from patron.programs.schemas import ProgramDocument
from patron.rules.engine import EventIn, MemberIn, OrderIn, Usage, calculate

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ingest  # bench/ingest.py: its catalog and its events

CATEGORIES = [f"cat-{i}" for i in range(ingest.CATEGORIES)]
TAGS = [f"tag-{i}" for i in range(ingest.TAGS)]


def rule(i: int, rng: random.Random) -> dict[str, Any]:
    """The i-th rule of a program: 20 kinds in turn. Scoped rules name any product, category
    or tag of the catalog: most name ones a given order does not contain."""
    kind = i % 20
    base: dict[str, Any] = {"id": f"r{i}", "name": f"Rule {i}"}
    if kind < 7:  # a category multiplier
        return {
            **base,
            "multiplier": rng.choice(["2", "3"]),
            "lines": {"categories": [rng.choice(CATEGORIES)]},
        }
    if kind < 11:  # a SKU rate
        return {**base, "rate": "1", "lines": {"skus": [f"SKU-{rng.randrange(ingest.CATALOG)}"]}}
    if kind < 12:  # a tag bonus per unit, with a line filter
        return {
            **base,
            "points": 5,
            "per": "unit",
            "lines": {"tags": [rng.choice(TAGS)], "filter": "line.unit_price >= 10.0"},
        }
    if kind < 13:  # a category bonus per line, multiplied
        return {
            **base,
            "points": 10,
            "per": "line",
            "multiplied": True,
            "lines": {"categories": [rng.choice(CATEGORIES)]},
        }
    if kind < 15:  # a member condition with a monthly limit
        return {
            **base,
            "points": 25,
            "when": "member.orders >= 3 && order.base > 50.0",
            "limits": [{"per": "month", "count": 2}],
        }
    if kind < 16:  # a campaign on weekends
        return {
            **base,
            "multiplier": "2",
            "schedule": {"weekdays": ["sat", "sun"]},
            "lines": {"categories": [rng.choice(CATEGORIES)]},
        }
    if kind < 18:  # best of a group
        return {
            **base,
            "points": rng.choice([20, 40, 60]),
            "group": "welcome",
            "when": "member.orders < 5",
        }
    if kind < 19:  # a bonus from an expression
        return {
            **base,
            "points": "order.lines.size() > 10 ? 30 : 10",
            "when": 'now.weekday <= 5 && member.email.endsWith("@example.com")',
        }
    return {
        **base,
        "rate": "0.5",
        "lines": {"product_ids": [f"P-{rng.randrange(ingest.CATALOG)}"]},
    }


def document(n: int) -> dict[str, Any]:
    rng = random.Random(n)
    return {"name": f"{n} rules", "currency": "USD", "rules": [rule(i, rng) for i in range(n)]}


def program(n: int) -> ProgramDocument:
    return ProgramDocument.model_validate(document(n))


def orders(count: int, lines: int = 20) -> list[OrderIn]:
    """`count` orders as bench/ingest.py --lines sends them, read as the server reads them."""
    factory = ingest.EventFactory("bench", "USD", 10_000, "c-", seed=7, lines=lines)
    return [order_input(data) for data in order_data(factory, count)]


def order_data(factory: ingest.EventFactory, count: int) -> list[OrderPlacedData]:
    return [
        OrderPlacedData.model_validate(orjson.loads(factory.single_body(seq)[0])["data"])
        for seq in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument(
        "--write-program",
        nargs=2,
        metavar=("RULES", "FILE"),
        help="write a program of RULES rules as JSON to FILE (for bench/ingest.py --program), "
        "and exit",
    )
    args = parser.parse_args()
    if args.write_program:
        count, path = int(args.write_program[0]), args.write_program[1]
        with open(path, "w", encoding="utf-8") as f:
            f.write(program(count).model_dump_json(exclude_defaults=True))
        return
    sample = orders(50)
    member = MemberIn(  # as the database gives it: with its dates
        "m1",
        email="m1@example.com",
        orders=4,
        spend=50_000,
        first_order_at=datetime(2026, 3, 1, tzinfo=UTC),
        last_order_at=datetime(2026, 11, 2, tzinfo=UTC),
        enrolled_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    at = datetime(2026, 11, 28, 15, tzinfo=UTC)  # a Saturday
    usage = {("r13", "month:2026-11"): Usage(1, 25)}
    print("| active rules | compile (ms) | rules met per order | median (ms) | p99 (ms) |")
    print("|---|---|---|---|---|")
    for n in (0, 50, 500):
        doc = document(n)
        start = time.perf_counter()
        rules = ProgramDocument.model_validate(doc).ruleset  # compiled when validated
        compiled = (time.perf_counter() - start) * 1000
        met = statistics.mean(len(rules.candidates("order.placed", o)) for o in sample)
        for o in sample:  # warm up
            calculate(rules, event=EventIn("e", "order.placed", at), member=member, order=o)
        times = []
        for i in range(args.events):
            o = sample[i % len(sample)]
            start = time.perf_counter()
            calculate(
                rules, event=EventIn("e", "order.placed", at), member=member, order=o, usage=usage
            )
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        p99 = times[int(len(times) * 0.99)]
        print(f"| {n} | {compiled:.0f} | {met:.0f} | {statistics.median(times):.2f} | {p99:.2f} |")
    factory = ingest.EventFactory("bench", "USD", 10_000, "c-", seed=7, lines=20)
    data = order_data(factory, 50)
    start = time.perf_counter()
    for _ in range(20):
        for d in data:
            order_input(d)
    each = (time.perf_counter() - start) * 1000 / (20 * len(data))
    print(f"\nThe order's input (`order_input` of a 20-line order): {each:.3f} ms")


if __name__ == "__main__":
    main()
