"""A shop seen from outside, for the end-to-end journeys: every call over real HTTP, the
server's clock moved by the test, the scheduled jobs run when the test says."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from patron.db.session import Database
from patron.kit.clock import FrozenClock
from patron.ledger.tasks import JobReport, tasks
from patron.programs.service import programs
from tests.factories import Shop, violations


@dataclass
class Journey:
    client: httpx.Client
    db: Database
    clock: FrozenClock
    shop: Shop

    def publish(self, **program: Any) -> dict[str, Any]:
        r = self.client.put("/v1/program", json={"currency": "USD", **program})
        assert r.status_code == 200, r.text
        published: dict[str, Any] = r.json()
        return published

    def send(self, event: dict[str, Any]) -> dict[str, Any]:
        """Send one new event; its stored result must read back exactly as it was returned."""
        r = self.client.post("/v1/events", json=event)
        assert r.status_code == 201, r.text
        result: dict[str, Any] = r.json()
        assert result["duplicate"] is False
        stored = self.client.get(f"/v1/events/{event['id']}")
        assert stored.status_code == 200, stored.text
        assert stored.json() == result
        return result

    def redeem(self, customer: str, points: int, key: str) -> httpx.Response:
        return self.client.post(
            f"/v1/members/{customer}/redemptions",
            json={"points": points, "description": f"{points} points off"},
            headers={"Idempotency-Key": key},
        )

    def member(self, customer: str) -> dict[str, Any]:
        r = self.client.get(f"/v1/members/{customer}")
        assert r.status_code == 200, r.text
        found: dict[str, Any] = r.json()
        return found

    def points(self, customer: str) -> dict[str, int]:
        found: dict[str, int] = self.member(customer)["points"]
        return found

    def history(self, customer: str) -> list[dict[str, Any]]:
        """Every posting of the member, oldest first, read page by page."""
        rows: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 4} | ({"cursor": cursor} if cursor else {})
            r = self.client.get(f"/v1/members/{customer}/transactions", params=params)
            assert r.status_code == 200, r.text
            page = r.json()
            rows += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return rows[::-1]

    def run_jobs(self) -> JobReport:
        return tasks.run_due(self.db, now=self.clock.now(), terms_for=programs.terms_for)

    def consistent(self) -> bool:
        found = violations(self.db, self.shop)
        assert found == [], "\n".join(str(v) for v in found)
        return True


def held(available: int, pending: int, lifetime: int, debt: int = 0) -> dict[str, int]:
    """A member's points as GET /v1/members/{id} shows them."""
    return {"available": available, "pending": pending, "lifetime_earned": lifetime, "debt": debt}


def story(rows: list[dict[str, Any]]) -> list[tuple[str, str | None, int]]:
    """A history as (kind, order, points) lines; vests show the points they moved."""

    def line(row: dict[str, Any]) -> tuple[str, str | None, int]:
        moved = row["detail"]["points"] if row["kind"] == "vest" else row["points"]
        return (row["kind"], row["order_id"], moved)

    return [line(row) for row in rows]
