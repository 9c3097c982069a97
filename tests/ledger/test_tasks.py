"""The clock's jobs: pending points vest when the return window closes, lots expire, and
refunds after either take back what they can, as debt or a write-off as the program says.

The program under test keeps points pending 14 days and lets them expire 30 days after the
order. Time moves only when a test moves the clock; the jobs run when a test runs them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from patron.db.session import Database
from patron.kit.clock import FrozenClock
from patron.ledger.models import Posting
from patron.ledger.tasks import JobReport, tasks
from patron.programs.service import programs
from tests.factories import Shop, create_shop, order_placed, order_refunded, violations

WINDOWED = {"pending_days": 14, "expiry_days": 30}
MEMBER = "cust-1"

OpenShop = Callable[..., tuple[Shop, httpx.Client]]


@pytest.fixture
def open_shop(base_url: str, db: Database, clock: FrozenClock) -> Iterator[OpenShop]:
    """Make a shop with the windowed program (plus any overrides) and a client for it."""
    clients: list[httpx.Client] = []

    def make(**program: Any) -> tuple[Shop, httpx.Client]:
        shop = create_shop(db, now=clock.now(), program={**WINDOWED, **program})
        client = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {shop.key}"}, timeout=30
        )
        clients.append(client)
        return shop, client

    yield make
    for c in clients:
        c.close()


@pytest.fixture
def windowed(open_shop: OpenShop) -> tuple[Shop, httpx.Client]:
    return open_shop()


def earn(
    client: httpx.Client, clock: FrozenClock, order_id: str, total: str, customer: str = MEMBER
) -> dict[str, Any]:
    r = client.post("/v1/events", json=order_placed(customer, order_id, total, at=clock.now()))
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    assert result["status"] == "applied", result
    return result


def refund(client: httpx.Client, clock: FrozenClock, order_id: str, amount: str) -> dict[str, Any]:
    r = client.post("/v1/events", json=order_refunded(MEMBER, order_id, amount, at=clock.now()))
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def points(client: httpx.Client, customer: str = MEMBER) -> dict[str, int]:
    r = client.get(f"/v1/members/{customer}")
    assert r.status_code == 200, r.text
    found: dict[str, int] = r.json()["points"]
    return found


def redeem(client: httpx.Client, amount: int, key: str) -> httpx.Response:
    return client.post(
        f"/v1/members/{MEMBER}/redemptions",
        json={"points": amount, "description": "Reward"},
        headers={"Idempotency-Key": key},
    )


def history(client: httpx.Client, kind: str) -> list[dict[str, Any]]:
    r = client.get(f"/v1/members/{MEMBER}/transactions", params={"kind": kind})
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()["items"]
    return rows


def entries(row: dict[str, Any]) -> list[tuple[str, int]]:
    return sorted((e["account"], e["amount"]) for e in row["entries"])


def run_jobs(db: Database, clock: FrozenClock) -> JobReport:
    return tasks.run_due(db, now=clock.now(), terms_for=programs.terms_for)


def count_postings(db: Database, shop: Shop, kind: str) -> int:
    with db.unit_of_work() as session:
        return int(
            session.execute(
                select(func.count())
                .select_from(Posting)
                .where(Posting.tenant_id == shop.tenant_id, Posting.kind == kind)
            ).scalar_one()
        )


class TestVesting:
    def test_points_stay_pending_and_unspendable_inside_the_return_window(
        self, windowed: tuple[Shop, httpx.Client], clock: FrozenClock, db: Database
    ) -> None:
        shop, client = windowed
        result = earn(client, clock, "o-1", "100.00")
        assert result["postings"][0]["detail"]["account"] == "pending"
        assert points(client)["pending"] == 100
        assert points(client)["available"] == 0

        r = redeem(client, 10, "too-soon")
        assert r.status_code == 409, r.text
        clock.advance(days=13)
        run_jobs(db, clock)
        assert points(client)["pending"] == 100
        assert history(client, "vest") == []
        assert violations(db, shop) == []

    def test_points_vest_once_the_return_window_closes(
        self, windowed: tuple[Shop, httpx.Client], clock: FrozenClock, db: Database
    ) -> None:
        shop, client = windowed
        earn(client, clock, "o-1", "100.00")
        clock.advance(days=15)
        run_jobs(db, clock)

        assert points(client) == {"available": 100, "pending": 0, "lifetime_earned": 100, "debt": 0}
        [vest] = history(client, "vest")
        assert vest["points"] == 0
        assert vest["order_id"] == "o-1"
        assert entries(vest) == [("available", 100), ("pending", -100)]
        r = redeem(client, 100, "now-you-can")
        assert r.status_code == 201, r.text
        assert violations(db, shop) == []

    def test_running_the_jobs_again_does_nothing(
        self, windowed: tuple[Shop, httpx.Client], clock: FrozenClock, db: Database
    ) -> None:
        shop, client = windowed
        earn(client, clock, "o-1", "100.00")
        clock.advance(days=15)
        first = run_jobs(db, clock)
        assert first.vested_lots >= 1
        assert first.vested_points >= 100

        second = run_jobs(db, clock)
        assert second == JobReport()
        assert count_postings(db, shop, "vest") == 1
        assert points(client)["available"] == 100
        clock.advance(days=16)  # past expiry: expires once, however often the job runs
        run_jobs(db, clock)
        assert run_jobs(db, clock) == JobReport()
        assert count_postings(db, shop, "expire") == 1
        assert points(client)["available"] == 0
        assert violations(db, shop) == []


class TestExpiry:
    def test_points_expire_when_their_lot_does(
        self, windowed: tuple[Shop, httpx.Client], clock: FrozenClock, db: Database
    ) -> None:
        shop, client = windowed
        earn(client, clock, "o-1", "100.00")
        clock.advance(days=15)
        run_jobs(db, clock)
        clock.advance(days=14, hours=23)  # a hour before the 30 days are up
        run_jobs(db, clock)
        assert points(client)["available"] == 100
        assert history(client, "expire") == []

        clock.advance(hours=1)
        run_jobs(db, clock)
        [expire] = history(client, "expire")
        assert expire["points"] == -100
        assert entries(expire) == [("available", -100), ("expired", 100)]
        assert points(client) == {"available": 0, "pending": 0, "lifetime_earned": 100, "debt": 0}
        assert violations(db, shop) == []

    def test_spending_uses_the_soonest_expiring_lot_so_expiry_takes_what_is_left(
        self, windowed: tuple[Shop, httpx.Client], clock: FrozenClock, db: Database
    ) -> None:
        shop, client = windowed
        earn(client, clock, "o-1", "100.00")  # day 0: vests day 14, expires day 30
        clock.advance(days=10)
        earn(client, clock, "o-2", "50.00")  # day 10: vests day 24, expires day 40
        clock.advance(days=15)
        run_jobs(db, clock)
        assert points(client)["available"] == 150

        assert redeem(client, 60, "spend-60").status_code == 201  # all from o-1's lot
        clock.advance(days=6)  # day 31
        run_jobs(db, clock)
        [first] = history(client, "expire")
        assert (first["order_id"], first["points"]) == ("o-1", -40)
        assert points(client)["available"] == 50

        clock.advance(days=10)  # day 41
        run_jobs(db, clock)
        assert [(r["order_id"], r["points"]) for r in history(client, "expire")] == [
            ("o-2", -50),
            ("o-1", -40),
        ]
        assert points(client)["available"] == 0
        assert violations(db, shop) == []

    def test_pending_lots_never_expire_before_they_vest_even_if_the_job_ran_late(
        self, windowed: tuple[Shop, httpx.Client], clock: FrozenClock, db: Database
    ) -> None:
        shop, client = windowed
        earn(client, clock, "o-1", "100.00")
        clock.advance(days=45)  # the job missed both dates: one run vests, then expires
        report = run_jobs(db, clock)
        assert report.vested_points >= 100
        assert report.expired_points >= 100
        assert [
            r["kind"] for r in client.get(f"/v1/members/{MEMBER}/transactions").json()["items"]
        ] == ["expire", "vest", "earn"]
        assert points(client) == {"available": 0, "pending": 0, "lifetime_earned": 100, "debt": 0}
        assert violations(db, shop) == []


class TestRefundsAfterTheJobs:
    def test_a_refund_after_vesting_claws_back_from_available(
        self, windowed: tuple[Shop, httpx.Client], clock: FrozenClock, db: Database
    ) -> None:
        shop, client = windowed
        earn(client, clock, "o-1", "100.00")
        clock.advance(days=15)
        run_jobs(db, clock)

        result = refund(client, clock, "o-1", "40.00")
        [claw] = result["postings"]
        assert claw["kind"] == "claw_back"
        assert claw["points"] == -40
        assert entries(claw) == [("available", -40), ("issued", 40)]
        assert claw["detail"]["from_available"] == 40
        assert claw["detail"]["from_pending"] == 0
        assert points(client) == {"available": 60, "pending": 0, "lifetime_earned": 60, "debt": 0}
        assert violations(db, shop) == []

    def test_a_refund_inside_the_window_claws_back_from_pending(
        self, windowed: tuple[Shop, httpx.Client], clock: FrozenClock, db: Database
    ) -> None:
        shop, client = windowed
        earn(client, clock, "o-1", "100.00")
        result = refund(client, clock, "o-1", "25.00")
        assert entries(result["postings"][0]) == [("issued", 25), ("pending", -25)]
        clock.advance(days=15)
        run_jobs(db, clock)
        assert points(client) == {"available": 75, "pending": 0, "lifetime_earned": 75, "debt": 0}
        assert violations(db, shop) == []

    def test_under_debt_a_refund_after_spending_leaves_a_debt_the_next_order_pays(
        self, open_shop: OpenShop, clock: FrozenClock, db: Database
    ) -> None:
        shop, client = open_shop(negative_balance="debt")
        earn(client, clock, "o-1", "100.00")
        clock.advance(days=15)
        run_jobs(db, clock)
        assert redeem(client, 80, "spend-80").status_code == 201

        result = refund(client, clock, "o-1", "100.00")
        [claw] = result["postings"]
        assert claw["detail"] == {
            **claw["detail"],
            "from_pending": 0,
            "from_available": 20,
            "into_debt": 80,
        }
        assert points(client) == {"available": 0, "pending": 0, "lifetime_earned": 0, "debt": 80}
        assert redeem(client, 1, "in-debt").status_code == 409

        earn(client, clock, "o-2", "120.00")  # pending: the debt waits for the window
        assert points(client)["debt"] == 80
        assert points(client)["pending"] == 120
        clock.advance(days=15)
        run_jobs(db, clock)
        [vest, *_] = history(client, "vest")
        assert vest["detail"]["debt_paid"] == 80
        assert points(client) == {"available": 40, "pending": 0, "lifetime_earned": 120, "debt": 0}
        # The debt took 80 of o-2's lot: only 40 are left to expire on day 45.
        clock.advance(days=16)
        run_jobs(db, clock)
        [expire] = history(client, "expire")
        assert (expire["order_id"], expire["points"]) == ("o-2", -40)
        assert points(client)["available"] == 0
        assert violations(db, shop) == []

    def test_under_forbid_what_cannot_be_recovered_is_written_off(
        self, windowed: tuple[Shop, httpx.Client], clock: FrozenClock, db: Database
    ) -> None:
        shop, client = windowed
        earn(client, clock, "o-1", "100.00")
        clock.advance(days=15)
        run_jobs(db, clock)
        assert redeem(client, 80, "spend-80").status_code == 201

        result = refund(client, clock, "o-1", "100.00")
        claw, write_off = result["postings"]
        assert claw["kind"] == "claw_back"
        assert entries(claw) == [("available", -20), ("issued", 20)]
        assert write_off["kind"] == "write_off"
        assert write_off["points"] == 0
        assert write_off["detail"]["points"] == 80
        assert entries(write_off) == [("issued", 80), ("written_off", -80)]
        assert result["points"] == -20
        assert points(client) == {"available": 0, "pending": 0, "lifetime_earned": 0, "debt": 0}
        assert [r["kind"] for r in history(client, "write_off")] == ["write_off"]
        assert violations(db, shop) == []


@pytest.mark.postgres
class TestConcurrentWorkers:
    def test_two_workers_at_once_vest_and_expire_every_lot_exactly_once(
        self, windowed: tuple[Shop, httpx.Client], clock: FrozenClock, db: Database
    ) -> None:
        shop, client = windowed
        customers = [f"cust-{i:02d}" for i in range(60)]
        batch = [
            order_placed(c, f"o-{c}", f"{10 + i}.00", at=clock.now())
            for i, c in enumerate(customers)
        ]
        r = client.post("/v1/events/batch", json={"events": batch})
        assert r.status_code == 200, r.text

        def both_workers() -> list[JobReport]:
            barrier = threading.Barrier(2)

            def work(_: int) -> JobReport:
                barrier.wait(timeout=30)
                return tasks.run_due(db, now=clock.now(), terms_for=programs.terms_for, chunk=7)

            with ThreadPoolExecutor(2) as pool:
                return list(pool.map(work, range(2)))

        clock.advance(days=15)
        both_workers()
        assert count_postings(db, shop, "vest") == 60
        for i, c in enumerate(customers[::7]):
            assert points(client, c)["available"] == 10 + i * 7
        assert violations(db, shop) == []

        clock.advance(days=16)
        both_workers()
        assert count_postings(db, shop, "expire") == 60
        assert all(points(client, c)["available"] == 0 for c in customers[::7])
        assert violations(db, shop) == []


class TestSettlingBeforeADebit:
    """Debits bring the member's book to now first, so a late job changes nothing a shopper
    can see at checkout."""

    def test_expired_points_cannot_be_spent_even_before_the_job_runs(
        self, windowed: tuple[Shop, httpx.Client], clock: FrozenClock, db: Database
    ) -> None:
        shop, client = windowed
        earn(client, clock, "o1", "100")
        clock.advance(days=31)  # vested on day 14, expired on day 30; no job has run
        r = redeem(client, 10, "k-expired")
        assert r.status_code == 409, r.text
        assert [row["points"] for row in history(client, "expire")] == []  # rolled back
        assert run_jobs(db, clock).expired_points >= 100
        assert points(client)["available"] == 0
        assert violations(db, shop) == []

    def test_vested_points_can_be_spent_before_the_job_runs(
        self, windowed: tuple[Shop, httpx.Client], clock: FrozenClock, db: Database
    ) -> None:
        shop, client = windowed
        earn(client, clock, "o1", "100")
        clock.advance(days=15)
        assert points(client) == {"available": 0, "pending": 100, "lifetime_earned": 100, "debt": 0}
        r = redeem(client, 60, "k-vested")
        assert r.status_code == 201, r.text
        assert r.json()["available"] == 40
        assert [entries(row) for row in history(client, "vest")] == [
            [("available", 100), ("pending", -100)]
        ]
        assert count_postings(db, shop, "vest") == 1
        assert violations(db, shop) == []

    def test_a_refund_settles_the_book_before_clawing_back(
        self, windowed: tuple[Shop, httpx.Client], clock: FrozenClock, db: Database
    ) -> None:
        shop, client = windowed
        earn(client, clock, "o1", "50")
        earn(client, clock, "o2", "30")
        clock.advance(days=15)
        result = refund(client, clock, "o2", "30")
        [claw] = result["postings"]
        assert entries(claw) == [("available", -30), ("issued", 30)]
        assert points(client) == {"available": 50, "pending": 0, "lifetime_earned": 50, "debt": 0}
        assert violations(db, shop) == []
