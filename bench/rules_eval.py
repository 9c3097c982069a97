"""Rule evaluation: a 20-line order against programs of 0, 50 and 500 active rules, as a
merchant with a large catalog writes them (most rules scoped to products an order does not
contain, which the index skips; some conditions on the member and the order; line filters;
multipliers, rates and bonuses per order, line and unit; a group; limits; schedules).

Prints, per program: the time to compile it (validation included, as at save time), the rules
an order meets after the index, and the calculation's median and p99 per event.

    python bench/rules_eval.py [--events 3000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from patron.programs.schemas import ProgramDocument
from patron.rules.engine import EventIn, LineIn, MemberIn, OrderIn, Usage, calculate

CATEGORIES = [f"cat-{i}" for i in range(200)]
TAGS = [f"tag-{i}" for i in range(300)]


def rule(i: int, rng: random.Random) -> dict[str, Any]:
    kind = i % 20
    base: dict[str, Any] = {"id": f"r{i}", "name": f"Rule {i}"}
    if kind < 7:  # a category multiplier
        return {
            **base,
            "multiplier": rng.choice(["2", "3"]),
            "lines": {"categories": [rng.choice(CATEGORIES)]},
        }
    if kind < 11:  # a SKU rate
        return {**base, "rate": "1", "lines": {"skus": [f"SKU-{rng.randrange(5000)}"]}}
    if kind < 13:  # a tag bonus per unit, with a line filter
        return {
            **base,
            "points": 5,
            "per": "unit",
            "lines": {"tags": [rng.choice(TAGS)], "filter": "line.unit_price >= 10.0"},
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
    return {**base, "rate": "0.5", "lines": {"product_ids": [f"P-{rng.randrange(5000)}"]}}


def program(n: int) -> ProgramDocument:
    rng = random.Random(n)
    return ProgramDocument.model_validate(
        {"name": f"{n} rules", "currency": "USD", "rules": [rule(i, rng) for i in range(n)]}
    )


def order(rng: random.Random) -> OrderIn:
    lines = tuple(
        LineIn(
            str(i),
            sku=f"SKU-{rng.randrange(5000)}",
            product_id=f"P-{rng.randrange(5000)}",
            category=rng.choice(CATEGORIES[:20]),  # the popular categories
            tags=tuple(rng.sample(TAGS[:30], 2)),
            quantity=rng.randint(1, 3),
            unit_price=rng.randint(300, 8000),
        )
        for i in range(1, 21)
    )
    total = sum(line.gross for line in lines)
    return OrderIn("o1", "USD", total, 2, lines=lines)


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
    rng = random.Random(7)
    orders = [order(rng) for _ in range(50)]
    member = MemberIn("m1", email="m1@example.com", orders=4, spend=50_000)
    at = datetime(2026, 11, 28, 15, tzinfo=UTC)  # a Saturday
    usage = {("r13", "month:2026-11"): Usage(1, 25)}
    print("| active rules | compile (ms) | rules met per order | median (ms) | p99 (ms) |")
    print("|---|---|---|---|---|")
    for n in (0, 50, 500):
        start = time.perf_counter()
        rules = program(n).ruleset
        compiled = (time.perf_counter() - start) * 1000
        met = statistics.mean(len(rules.candidates("order.placed", o)) for o in orders)
        for o in orders:  # warm up
            calculate(rules, event=EventIn("e", "order.placed", at), member=member, order=o)
        times = []
        for i in range(args.events):
            o = orders[i % len(orders)]
            start = time.perf_counter()
            calculate(
                rules, event=EventIn("e", "order.placed", at), member=member, order=o, usage=usage
            )
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        p99 = times[int(len(times) * 0.99)]
        print(f"| {n} | {compiled:.0f} | {met:.0f} | {statistics.median(times):.2f} | {p99:.2f} |")


if __name__ == "__main__":
    main()
