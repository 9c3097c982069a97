"""Merges at the same moment as each other and as the events of the members they merge, over
real HTTP on PostgreSQL, where row locks decide who waits for whom. A deadlock would surface as
a server error (PostgreSQL aborts one of the transactions): none may happen, and the ledger
must come out exact.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from patron.db.session import Database
from patron.kit.clock import FrozenClock
from patron.ledger.models import Balance
from patron.orders.models import Order
from tests.factories import Shop, order_placed, order_refunded, violations
from tests.ledger.test_concurrency import connect, together  # noqa: F401  (fixture)

pytestmark = pytest.mark.postgres


def merge(c: httpx.Client, target: str, source: str, key: str) -> httpx.Response:
    return c.post(
        f"/v1/members/{target}/merge", json={"from": source}, headers={"Idempotency-Key": key}
    )


def ledger_is_exact(db: Database, shop: Shop) -> None:
    """verify-ledger is clean, and every point of lifetime is an order's, wherever a merge
    moved it."""
    found = violations(db, shop)
    assert found == [], "\n".join(map(str, found))
    with db.unit_of_work() as s:
        lifetime = s.execute(
            select(func.sum(Balance.lifetime)).where(Balance.tenant_id == shop.tenant_id)
        ).scalar_one()
        kept = s.execute(
            select(func.sum(Order.points_earned - Order.points_reversed)).where(
                Order.tenant_id == shop.tenant_id
            )
        ).scalar_one()
    assert lifetime == kept


def test_opposite_merges_of_the_same_pairs_do_not_deadlock(
    client: httpx.Client,
    connect: Callable[[int], list[httpx.Client]],  # noqa: F811
    db: Database,
    shop: Shop,
    clock: FrozenClock,
) -> None:
    """Eight pairs; for each, one request merges a into b and another b into a, all at once.
    Each pair's rows are locked in one order whichever way round: one merge wins, the other
    finds its duplicate or its target merged already."""
    pairs = [(f"a{i}", f"b{i}") for i in range(8)]
    for a, b in pairs:
        for who in (a, b):
            r = client.post(
                "/v1/events", json=order_placed(who, f"o-{who}", "10.00", at=clock.now())
            )
            assert r.status_code == 201, r.text
    calls: list[tuple[str, str]] = [m for a, b in pairs for m in ((b, a), (a, b))]

    responses = together(connect(len(calls)), lambda c, i: merge(c, *calls[i], key=f"opposite-{i}"))

    for i in range(0, len(calls), 2):
        statuses = sorted(r.status_code for r in responses[i : i + 2])
        assert statuses == [201, 409], [r.text for r in responses[i : i + 2]]
        loser = next(r for r in responses[i : i + 2] if r.status_code == 409).json()
        assert loser["type"].endswith("/member-merged")
    for a, b in pairs:
        points = sorted(
            client.get(f"/v1/members/{m}").json()["points"]["available"] for m in (a, b)
        )
        assert points == [0, 20]
    ledger_is_exact(db, shop)


def test_merges_while_the_duplicates_events_and_refunds_arrive(
    client: httpx.Client,
    connect: Callable[[int], list[httpx.Client]],  # noqa: F811
    db: Database,
    shop: Shop,
    clock: FrozenClock,
) -> None:
    """Each survivor's id sorts before its duplicate's, so an event naming the duplicate finds
    the survivor locked after its own row: the case the alias must not deadlock on. At the same
    moment: the merge, a refund of the duplicate's order naming the duplicate, a new order
    naming the duplicate, one naming the survivor, and a batch naming both."""
    r = client.put("/v1/program", json={"currency": "USD", "pending_days": 14})
    assert r.status_code == 200, r.text
    now = clock.now()
    pairs = [(f"a-main-{i}", f"z-dup-{i}") for i in range(4)]
    for main, dup in pairs:
        for who in (main, dup):
            r = client.post("/v1/events", json=order_placed(who, f"o-{who}", "100.00", at=now))
            assert r.status_code == 201, r.text

    def calls(main: str, dup: str) -> list[Callable[[httpx.Client], httpx.Response]]:
        return [
            lambda c: merge(c, main, dup, key=f"m-{dup}"),
            lambda c: c.post("/v1/events", json=order_refunded(dup, f"o-{dup}", "40.00", at=now)),
            lambda c: c.post("/v1/events", json=order_placed(dup, f"n-{dup}", "10.00", at=now)),
            lambda c: c.post("/v1/events", json=order_placed(main, f"n-{main}", "10.00", at=now)),
            lambda c: c.post(
                "/v1/events/batch",
                json={
                    "events": [
                        order_placed(main, f"b-{main}", "1.00", at=now),
                        order_placed(dup, f"b-{dup}", "1.00", at=now),
                    ]
                },
            ),
        ]

    work = [call for main, dup in pairs for call in calls(main, dup)]
    responses = together(connect(len(work)), lambda c, i: work[i](c))

    statuses = Counter(r.status_code for r in responses)
    assert all(s < 500 for s in statuses), [r.text for r in responses if r.status_code >= 500]
    refused = [r.json() for r in responses if r.status_code >= 400]
    # A request may be asked to try again (a lock it could not take in order), never more.
    assert all(p["type"].endswith(("/member-busy", "/event-in-flight")) for p in refused), refused
    merges = [r for r in responses[0::5]]
    assert all(r.status_code in (201, 409) for r in merges)
    for (main, dup), r in zip(pairs, merges, strict=True):
        if r.status_code == 201:
            assert client.get(f"/v1/members/{dup}").json()["merged_into"] == main
    ledger_is_exact(db, shop)


def _members(client: httpx.Client) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get("/v1/members", params={"limit": 200}).json()["items"]
    return items


def test_merges_into_one_survivor_at_once_all_apply(
    client: httpx.Client,
    connect: Callable[[int], list[httpx.Client]],  # noqa: F811
    db: Database,
    shop: Shop,
    clock: FrozenClock,
) -> None:
    dups = [f"dup-{i}" for i in range(6)]
    for who in ("main", *dups):
        r = client.post("/v1/events", json=order_placed(who, f"o-{who}", "10.00", at=clock.now()))
        assert r.status_code == 201, r.text

    responses = together(connect(len(dups)), lambda c, i: merge(c, "main", dups[i], f"k-{i}"))

    assert [r.status_code for r in responses] == [201] * len(dups), [r.text for r in responses]
    main = client.get("/v1/members/main").json()
    assert main["points"]["available"] == 70
    assert main["stats"]["orders_count"] == 7
    assert {m["external_id"] for m in _members(client) if m["status"] == "merged"} == set(dups)
    ledger_is_exact(db, shop)
