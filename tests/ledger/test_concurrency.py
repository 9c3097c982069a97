"""Many requests at the same moment, over real HTTP against the real server.

Each test starts its requests from several threads behind a barrier, so they reach the
server together and contend for the same member, order and event rows. On PostgreSQL that
exercises the row locks and the unique indexes; on SQLite, the write lock that BEGIN
IMMEDIATE takes. Either way the outcome must be what one-at-a-time would give.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import func, select

from patron.db.session import Database
from patron.events.models import Event
from patron.kit.clock import FrozenClock
from patron.ledger.models import Entry, Posting
from patron.ledger.tasks import tasks
from patron.orders.models import Order
from patron.programs.service import programs
from tests.factories import Shop, create_shop, order_placed, order_refunded, violations

T = TypeVar("T")
SPEND = "/v1/members/racer/redemptions"
ADJUST = "/v1/members/racer/adjustments"


@pytest.fixture
def connect(base_url: str, shop: Shop) -> Iterator[Callable[[int], list[httpx.Client]]]:
    """Open `n` clients of `shop`, each with its connection already made, so that the
    requests released by the barrier start at once."""
    opened: list[httpx.Client] = []

    def open_clients(n: int) -> list[httpx.Client]:
        clients = [
            httpx.Client(
                base_url=base_url, headers={"Authorization": f"Bearer {shop.key}"}, timeout=120
            )
            for _ in range(n)
        ]
        for c in clients:
            assert c.get("/v1/program").status_code == 200
        opened.extend(clients)
        return clients

    yield open_clients
    for c in opened:
        c.close()


def together(clients: list[httpx.Client], call: Callable[[httpx.Client, int], T]) -> list[T]:
    """Run `call(client, i)` from one thread per client, all released at the same moment."""
    barrier = threading.Barrier(len(clients))

    def run(i: int) -> T:
        barrier.wait(timeout=30)
        return call(clients[i], i)

    with ThreadPoolExecutor(len(clients)) as pool:
        return list(pool.map(run, range(len(clients))))


def post(
    path: str, bodies: list[Any], headers: list[dict[str, str]] | None = None
) -> Callable[[httpx.Client, int], httpx.Response]:
    """A call for `together`: client i posts bodies[i] (with headers[i])."""

    def call(c: httpx.Client, i: int) -> httpx.Response:
        return c.post(path, json=bodies[i], headers=headers[i] if headers else None)

    return call


def member(client: httpx.Client, external_id: str) -> dict[str, Any]:
    r = client.get(f"/v1/members/{external_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def count(db: Database, shop: Shop, model: Any, *where: Any) -> int:
    with db.unit_of_work() as session:
        stmt = select(func.count()).select_from(model).where(model.tenant_id == shop.tenant_id)
        return int(session.execute(stmt.where(*where)).scalar_one())


def without_duplicate_flag(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "duplicate"}


class TestConcurrentRedemptions:
    def test_sixteen_spends_of_one_balance_never_overdraw(
        self,
        client: httpx.Client,
        connect: Callable[[int], list[httpx.Client]],
        db: Database,
        shop: Shop,
    ) -> None:
        r = client.put("/v1/members/spender", json={"email": "spender@example.com"})
        assert r.status_code == 201, r.text
        r = client.post(
            "/v1/members/spender/adjustments", json={"points": 1000, "reason": "Opening balance"}
        )
        assert r.status_code == 201, r.text

        responses = together(
            connect(16),
            lambda c, i: c.post(
                "/v1/members/spender/redemptions",
                json={"points": 100, "description": f"Reward {i}"},
                headers={"Idempotency-Key": f"spend-{i}"},
            ),
        )

        statuses = Counter(r.status_code for r in responses)
        assert statuses == {201: 10, 409: 6}, [r.text for r in responses]
        refused = [r.json() for r in responses if r.status_code == 409]
        assert all(p["title"] == "Insufficient points" for p in refused)
        # Each success saw the balance its predecessors left: 900, 800, ... 0, once each.
        left = sorted(r.json()["available"] for r in responses if r.status_code == 201)
        assert left == list(range(0, 1000, 100))
        points = member(client, "spender")["points"]
        assert points["available"] == 0
        assert points["debt"] == 0
        assert count(db, shop, Posting, Posting.kind == "redeem") == 10
        assert violations(db, shop) == []

    def test_one_idempotency_key_from_eight_threads_spends_once(
        self,
        client: httpx.Client,
        connect: Callable[[int], list[httpx.Client]],
        db: Database,
        shop: Shop,
    ) -> None:
        assert client.put("/v1/members/spender", json={}).status_code == 201
        r = client.post("/v1/members/spender/adjustments", json={"points": 500, "reason": "Gift"})
        assert r.status_code == 201, r.text

        responses = together(
            connect(8),
            lambda c, _: c.post(
                "/v1/members/spender/redemptions",
                json={"points": 300, "description": "Reward"},
                headers={"Idempotency-Key": "one-key"},
            ),
        )

        assert sorted(r.status_code for r in responses) == [200] * 7 + [201], [
            r.text for r in responses
        ]
        bodies = [r.json() for r in responses]
        assert len({(b["id"], b["transaction_id"]) for b in bodies}) == 1
        assert [b["replayed"] for b in bodies].count(False) == 1
        assert member(client, "spender")["points"]["available"] == 200
        assert count(db, shop, Posting, Posting.kind == "redeem") == 1
        assert violations(db, shop) == []


class TestConcurrentEvents:
    @pytest.mark.parametrize("round_", range(4))
    def test_the_same_event_from_eight_threads_is_applied_once(
        self,
        round_: int,
        client: httpx.Client,
        connect: Callable[[int], list[httpx.Client]],
        clock: FrozenClock,
        db: Database,
        shop: Shop,
    ) -> None:
        clients = connect(8)
        for n in range(3):  # a few rounds in one shop: each new event earns once more
            body = order_placed("racer", f"order-{n}", "40.00", at=clock.now())
            responses = together(clients, post("/v1/events", [body] * 8))

            statuses = Counter(r.status_code for r in responses)
            assert statuses == {201: 1, 200: 7}, [r.text for r in responses]
            results = [r.json() for r in responses]
            first = next(x for x, r in zip(results, responses, strict=True) if r.status_code == 201)
            assert first["duplicate"] is False
            assert first["points"] == 40
            assert [x["duplicate"] for x in results].count(True) == 7
            # Every reply tells the same story: the first result, postings and all.
            assert all(without_duplicate_flag(x) == without_duplicate_flag(first) for x in results)

            assert member(client, "racer")["points"]["available"] == 40 * (n + 1)
            assert count(db, shop, Event, Event.external_id == body["id"]) == 1
            assert count(db, shop, Posting) == n + 1
        assert violations(db, shop) == []

    @pytest.mark.parametrize("round_", range(3))
    def test_overlapping_batches_from_many_threads_apply_each_event_once(
        self,
        round_: int,
        client: httpx.Client,
        connect: Callable[[int], list[httpx.Client]],
        clock: FrozenClock,
        db: Database,
        shop: Shop,
    ) -> None:
        customers = [f"shopper-{i}" for i in range(5)]
        bodies = [
            order_placed(customers[i % 5], f"order-{round_}-{i}", f"{10 + i}.00", at=clock.now())
            for i in range(18)
        ]
        # Two batches sharing six events and every customer; each thread sends one of them
        # with its events in an order of its own.
        batches = [bodies[:12], bodies[6:]]
        rng = random.Random(round_)
        sends = []
        for i in range(8):
            events = list(batches[i % 2])
            rng.shuffle(events)
            sends.append(events)

        responses = together(
            connect(8), lambda c, i: c.post("/v1/events/batch", json={"events": sends[i]})
        )

        assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
        by_id: dict[str, list[dict[str, Any]]] = {}
        for r in responses:
            for result in r.json()["results"]:
                by_id.setdefault(result["id"], []).append(result)
        assert set(by_id) == {b["id"] for b in bodies}
        for eid, results in by_id.items():
            # Applied by exactly one request; every other reply is its replay.
            assert [x["duplicate"] for x in results].count(False) == 1, eid
            first = without_duplicate_flag(results[0])
            assert all(without_duplicate_flag(x) == first for x in results), eid
            assert results[0]["status"] == "applied", results[0]
        # Each customer was enrolled by one event, whichever request got there first.
        enrolled = Counter(
            x["member"] for results in by_id.values() for x in results[:1] if x["enrolled"]
        )
        assert enrolled == dict.fromkeys(customers, 1)

        earned: Counter[str] = Counter()
        for i, b in enumerate(bodies):
            earned[b["customer"]["external_id"]] += 10 + i
        for c in customers:
            assert member(client, c)["points"]["available"] == earned[c]
        assert count(db, shop, Event) == 18
        assert count(db, shop, Posting, Posting.kind == "earn") == 18
        assert count(db, shop, Order) == 18
        assert violations(db, shop) == []

    @pytest.mark.parametrize("round_", range(2))
    def test_overlapping_batches_of_refunds_and_orders_lock_without_deadlock(
        self,
        round_: int,
        client: httpx.Client,
        connect: Callable[[int], list[httpx.Client]],
        clock: FrozenClock,
        db: Database,
        shop: Shop,
    ) -> None:
        customers = [f"shopper-{i}" for i in range(4)]
        placed = [
            order_placed(customers[i % 4], f"order-{i}", "20.00", at=clock.now()) for i in range(12)
        ]
        r = client.post("/v1/events/batch", json={"events": placed})
        assert r.status_code == 200, r.text
        # Refunds of half of each order (10 points back each), shared by the two batches in
        # the middle; and new orders (20 points each) for the same customers.
        refunds = [
            order_refunded(customers[i % 4], f"order-{i}", "10.00", at=clock.now())
            for i in range(12)
        ]
        more = [
            order_placed(customers[i % 4], f"more-{i}", "20.00", at=clock.now()) for i in range(8)
        ]
        batches = [refunds[:8] + more[:4], refunds[4:] + more[4:]]
        rng = random.Random(100 + round_)
        sends = []
        for i in range(8):
            events = list(batches[i % 2])
            rng.shuffle(events)
            sends.append(events)

        responses = together(
            connect(8), lambda c, i: c.post("/v1/events/batch", json={"events": sends[i]})
        )

        assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
        applied = Counter(
            x["id"] for r in responses for x in r.json()["results"] if not x["duplicate"]
        )
        assert applied == dict.fromkeys([e["id"] for e in refunds + more], 1)
        for c in customers:  # 3 orders of 20, each half refunded, and 2 more orders of 20
            assert member(client, c)["points"]["available"] == 3 * 20 - 3 * 10 + 2 * 20
        assert count(db, shop, Posting, Posting.kind == "claw_back") == 12
        assert violations(db, shop) == []


class TestConcurrentRefunds:
    @pytest.mark.parametrize("spent", [0, 60])
    def test_refunds_of_one_order_take_back_what_it_earned_never_more(
        self,
        spent: int,
        client: httpx.Client,
        connect: Callable[[int], list[httpx.Client]],
        clock: FrozenClock,
        db: Database,
        shop: Shop,
    ) -> None:
        clients = connect(5)
        for n in range(3):
            order_id = f"refunded-{n}"
            r = client.post(
                "/v1/events", json=order_placed("refundee", order_id, "99.99", at=clock.now())
            )
            assert r.status_code == 201, r.text
            assert r.json()["points"] == 99
            if spent:  # under forbid, what was spent cannot be recovered: it is written off
                r = client.post(
                    "/v1/members/refundee/redemptions",
                    json={"points": spent, "description": "Reward"},
                    headers={"Idempotency-Key": f"spend-{n}"},
                )
                assert r.status_code == 201, r.text
            refunds = [
                order_refunded("refundee", order_id, amount, at=clock.now())
                for amount in ("20.00", "20.00", "20.00", "20.00", "19.99")
            ]
            responses = together(clients, post("/v1/events", refunds))

            assert [r.status_code for r in responses] == [201] * 5, [r.text for r in responses]
            with db.unit_of_work() as session:
                order = session.execute(
                    select(Order).where(
                        Order.tenant_id == shop.tenant_id, Order.order_id == order_id
                    )
                ).scalar_one()
                assert (order.refunded, order.points_earned, order.points_reversed) == (
                    9999,
                    99,
                    99,
                )
                taken = session.execute(
                    select(func.sum(Entry.amount))
                    .join(
                        Posting,
                        (Posting.tenant_id == Entry.tenant_id) & (Posting.id == Entry.posting_id),
                    )
                    .where(
                        Posting.tenant_id == shop.tenant_id,
                        Posting.order_id == order_id,
                        Posting.kind.in_(("claw_back", "write_off")),
                        Entry.account == "issued",
                    )
                ).scalar_one()
            assert taken == 99
            assert sum(r.json()["points"] for r in responses) == -(99 - spent)
            # One more cent is more than was paid: refused, nothing taken.
            r = client.post(
                "/v1/events", json=order_refunded("refundee", order_id, "0.01", at=clock.now())
            )
            assert r.status_code == 422, r.text
        points = member(client, "refundee")["points"]
        assert points["available"] == 0
        assert points["debt"] == 0
        assert violations(db, shop) == []


class TestEverythingAtOnce:
    def test_refunds_spends_adjustments_and_the_jobs_racing_on_one_member_keep_the_ledger(
        self, base_url: str, clock: FrozenClock, db: Database
    ) -> None:
        """Points due to vest, a job vesting them, refunds clawing them back, spends and
        adjustments: whatever order they land in, nothing fails but for want of points
        and every invariant holds."""
        shop = create_shop(db, now=clock.now(), program={"pending_days": 1, "expiry_days": 5})
        headers = {"Authorization": f"Bearer {shop.key}"}
        with httpx.Client(base_url=base_url, headers=headers, timeout=120) as client:
            placed = [
                order_placed("racer", f"order-{i}", "50.00", at=clock.now()) for i in range(6)
            ]
            assert client.post("/v1/events/batch", json={"events": placed}).status_code == 200
            r = client.post("/v1/members/racer/adjustments", json={"points": 100, "reason": "Hi"})
            assert r.status_code == 201, r.text
            clock.advance(days=1, hours=1)  # the 300 pending points are due to vest

            # (path, body, idempotency key); None: run the jobs instead.
            work: list[tuple[str, dict[str, Any], str] | None] = [None, None]
            for i in range(4):
                refund = order_refunded("racer", f"order-{i}", "30.00", at=clock.now())
                spend = {"points": 60, "description": "Reward"}
                work += [("/v1/events", refund, ""), (SPEND, spend, f"spend-{i}")]
            for points in (-40, 25):
                work.append((ADJUST, {"points": points, "reason": "Fix"}, ""))

            def call(c: httpx.Client, i: int) -> httpx.Response | None:
                if (item := work[i]) is None:
                    tasks.run_due(db, now=clock.now(), terms_for=programs.terms_for, chunk=1)
                    return None
                path, body, key = item
                return c.post(path, json=body, headers={"Idempotency-Key": key} if key else {})

            clients = [httpx.Client(base_url=base_url, headers=headers, timeout=120) for _ in work]
            try:
                responses = together(clients, call)
            finally:
                for c in clients:
                    c.close()

            for item, response in zip(work, responses, strict=True):
                if item is None or response is None:
                    continue
                # Refunds always apply; spends and removals may only lack points.
                allowed = {201} if item[0] == "/v1/events" else {201, 409}
                assert response.status_code in allowed, response.text
                if response.status_code == 409:
                    assert response.json()["title"] == "Insufficient points"
            tasks.run_due(db, now=clock.now(), terms_for=programs.terms_for)
            points = member(client, "racer")["points"]
            assert points["pending"] == 0
            assert points["lifetime_earned"] == 300 - 4 * 30
        assert violations(db, shop) == []
