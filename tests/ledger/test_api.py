"""The ledger over HTTP: a member's history, manual adjustments and idempotent redemptions.
Every scenario ends with the ledger's invariants checked (what `patron verify-ledger` runs)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from patron.db.session import Database
from patron.kit.clock import FrozenClock
from tests.factories import Shop, order_placed, violations

MEMBER = "cust-1"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def error_fields(response: httpx.Response) -> list[str]:
    return [e["field"] for e in assert_problem(response, 422)["errors"]]


def earn(client: httpx.Client, clock: FrozenClock, total: str, order_id: str = "o-1") -> None:
    r = client.post("/v1/events", json=order_placed(MEMBER, order_id, total, at=clock.now()))
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "applied"


def available(client: httpx.Client, external_id: str = MEMBER) -> int:
    points: int = client.get(f"/v1/members/{external_id}").json()["points"]["available"]
    return points


def history(client: httpx.Client, external_id: str = MEMBER, **params: Any) -> list[Any]:
    r = client.get(f"/v1/members/{external_id}/transactions", params=params)
    assert r.status_code == 200, r.text
    items: list[Any] = r.json()["items"]
    return items


def adjust(client: httpx.Client, points: int, reason: str = "Goodwill") -> httpx.Response:
    return client.post(
        f"/v1/members/{MEMBER}/adjustments", json={"points": points, "reason": reason}
    )


def redeem(
    client: httpx.Client,
    points: int,
    key: str | None,
    description: str = "$5 off",
    external_id: str = MEMBER,
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(
        f"/v1/members/{external_id}/redemptions",
        json={"points": points, "description": description},
        headers=headers,
    )


@pytest.fixture
def funded(client: httpx.Client, clock: FrozenClock) -> httpx.Client:
    """`client`, with MEMBER holding 100 available points from one order."""
    earn(client, clock, "100.00")
    assert available(client) == 100
    return client


class TestHistory:
    @pytest.fixture
    def three_kinds(self, funded: httpx.Client, clock: FrozenClock) -> httpx.Client:
        clock.advance(minutes=1)
        assert adjust(funded, 250, "Parcel arrived late").status_code == 201
        clock.advance(minutes=1)
        assert redeem(funded, 30, "k-1", "Free coffee").status_code == 201
        return funded

    def test_lists_newest_first(self, three_kinds: httpx.Client) -> None:
        rows = history(three_kinds)
        assert [r["kind"] for r in rows] == ["redeem", "adjust", "earn"]
        assert [r["points"] for r in rows] == [-30, 250, 100]
        assert [r["reason"] for r in rows[:2]] == ["Free coffee", "Parcel arrived late"]
        created = [r["created_at"] for r in rows]
        assert created == sorted(created, reverse=True)

    def test_each_row_explains_itself(
        self, three_kinds: httpx.Client, shop: Shop, db: Database
    ) -> None:
        for row in history(three_kinds):
            assert {"kind", "points", "reason", "entries", "program_version", "created_at"} <= set(
                row
            )
            assert row["program_version"] == shop.program_version
            assert sum(e["amount"] for e in row["entries"]) == 0
            assert len(row["entries"]) >= 2
        redeem_row = history(three_kinds)[0]
        assert sorted((e["account"], e["amount"]) for e in redeem_row["entries"]) == [
            ("available", -30),
            ("redeemed", 30),
        ]
        assert violations(db, shop) == []

    def test_pages_with_a_cursor(self, three_kinds: httpx.Client) -> None:
        r = three_kinds.get(f"/v1/members/{MEMBER}/transactions", params={"limit": 2})
        first = r.json()
        assert [t["kind"] for t in first["items"]] == ["redeem", "adjust"]
        assert first["next_cursor"]
        second = history(three_kinds, limit=2, cursor=first["next_cursor"])
        assert [t["kind"] for t in second] == ["earn"]
        last = three_kinds.get(
            f"/v1/members/{MEMBER}/transactions",
            params={"limit": 2, "cursor": first["next_cursor"]},
        ).json()
        assert last["next_cursor"] is None
        ids = [t["id"] for t in first["items"]] + [t["id"] for t in last["items"]]
        assert len(set(ids)) == 3

    def test_filters_by_kind(self, three_kinds: httpx.Client) -> None:
        rows = history(three_kinds, kind="adjust")
        assert [(r["kind"], r["points"]) for r in rows] == [("adjust", 250)]
        assert history(three_kinds, kind="expire") == []

    def test_an_unknown_kind_is_422_naming_kind(self, three_kinds: httpx.Client) -> None:
        r = three_kinds.get(f"/v1/members/{MEMBER}/transactions", params={"kind": "gift"})
        assert error_fields(r) == ["kind"]

    def test_a_garbage_cursor_is_422_naming_cursor(self, three_kinds: httpx.Client) -> None:
        r = three_kinds.get(f"/v1/members/{MEMBER}/transactions", params={"cursor": "zzz"})
        assert error_fields(r) == ["cursor"]

    def test_an_unknown_member_is_404(self, client: httpx.Client) -> None:
        assert_problem(client.get("/v1/members/nobody/transactions"), 404)


class TestAdjustments:
    def test_a_positive_adjustment_adds_available_points_with_its_reason(
        self, funded: httpx.Client, db: Database, shop: Shop
    ) -> None:
        r = adjust(funded, 250, "Goodwill: parcel arrived late")
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["available"] == 350
        assert body["debt"] == 0
        assert body["transaction"]["kind"] == "adjust"
        assert body["transaction"]["points"] == 250
        assert available(funded) == 350
        [row] = history(funded, kind="adjust")
        assert row["reason"] == "Goodwill: parcel arrived late"
        assert row["id"] == body["transaction"]["id"]
        assert sorted((e["account"], e["amount"]) for e in row["entries"]) == [
            ("adjusted", -250),
            ("available", 250),
        ]
        assert violations(db, shop) == []

    def test_a_negative_adjustment_within_the_balance_removes_points(
        self, funded: httpx.Client, db: Database, shop: Shop
    ) -> None:
        r = adjust(funded, -40, "Duplicate credit")
        assert r.status_code == 201, r.text
        assert r.json()["available"] == 60
        assert available(funded) == 60
        assert violations(db, shop) == []

    def test_removing_more_than_the_balance_under_forbid_is_409_and_changes_nothing(
        self, funded: httpx.Client, db: Database, shop: Shop
    ) -> None:
        before = funded.get(f"/v1/members/{MEMBER}").content
        body = assert_problem(adjust(funded, -101, "Too much"), 409)
        assert body["type"].endswith("/insufficient-points")
        assert funded.get(f"/v1/members/{MEMBER}").content == before
        assert [r["kind"] for r in history(funded)] == ["earn"]
        assert violations(db, shop) == []

    @pytest.mark.parametrize("points", [0, None])
    def test_zero_or_missing_points_is_422_naming_points(
        self, funded: httpx.Client, points: int | None, db: Database, shop: Shop
    ) -> None:
        payload: dict[str, Any] = {"reason": "Why not"}
        if points is not None:
            payload["points"] = points
        r = funded.post(f"/v1/members/{MEMBER}/adjustments", json=payload)
        assert error_fields(r) == ["points"]
        assert available(funded) == 100
        assert violations(db, shop) == []

    @pytest.mark.parametrize("reason", [None, ""])
    def test_a_missing_or_empty_reason_is_422_naming_reason(
        self, funded: httpx.Client, reason: str | None, db: Database, shop: Shop
    ) -> None:
        payload: dict[str, Any] = {"points": 10}
        if reason is not None:
            payload["reason"] = reason
        r = funded.post(f"/v1/members/{MEMBER}/adjustments", json=payload)
        assert error_fields(r) == ["reason"]
        assert available(funded) == 100
        assert [r["kind"] for r in history(funded)] == ["earn"]
        assert violations(db, shop) == []

    def test_an_adjustment_for_an_unknown_member_is_404(self, client: httpx.Client) -> None:
        r = client.post("/v1/members/nobody/adjustments", json={"points": 5, "reason": "x"})
        assert_problem(r, 404)


class TestRedemptions:
    def test_a_redemption_debits_available_points_with_201(
        self, funded: httpx.Client, db: Database, shop: Shop
    ) -> None:
        r = redeem(funded, 30, "k-1", "$3 off order #7")
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["replayed"] is False
        assert body["points"] == 30
        assert body["available"] == 70
        assert available(funded) == 70
        [row] = history(funded, kind="redeem")
        assert row["id"] == body["transaction_id"]
        assert row["reason"] == "$3 off order #7"
        assert violations(db, shop) == []

    def test_the_same_key_and_body_replays_with_200_and_debits_once(
        self, funded: httpx.Client, db: Database, shop: Shop
    ) -> None:
        first = redeem(funded, 30, "k-1")
        again = redeem(funded, 30, "k-1")
        assert first.status_code == 201, first.text
        assert again.status_code == 200, again.text
        assert again.json()["replayed"] is True
        assert again.json()["id"] == first.json()["id"]
        assert again.json()["transaction_id"] == first.json()["transaction_id"]
        assert available(funded) == 70
        assert len(history(funded, kind="redeem")) == 1
        assert violations(db, shop) == []

    def test_the_same_key_with_another_body_is_409_and_changes_nothing(
        self, funded: httpx.Client, db: Database, shop: Shop
    ) -> None:
        assert redeem(funded, 30, "k-1").status_code == 201
        body = assert_problem(redeem(funded, 31, "k-1"), 409)
        assert body["type"].endswith("/idempotency-key-reused")
        assert_problem(redeem(funded, 30, "k-1", description="Other"), 409)
        assert available(funded) == 70
        assert len(history(funded, kind="redeem")) == 1
        assert violations(db, shop) == []

    def test_a_missing_idempotency_key_is_422_naming_it(
        self, funded: httpx.Client, db: Database, shop: Shop
    ) -> None:
        r = redeem(funded, 30, None)
        assert error_fields(r) == ["Idempotency-Key"]
        assert available(funded) == 100
        assert violations(db, shop) == []

    def test_more_points_than_available_is_409_and_changes_nothing(
        self, funded: httpx.Client, db: Database, shop: Shop
    ) -> None:
        before = funded.get(f"/v1/members/{MEMBER}").content
        body = assert_problem(redeem(funded, 101, "k-1"), 409)
        assert body["type"].endswith("/insufficient-points")
        assert body["available"] == 100
        assert funded.get(f"/v1/members/{MEMBER}").content == before
        assert history(funded, kind="redeem") == []
        assert violations(db, shop) == []

    def test_a_refused_redemption_does_not_use_up_its_key(
        self, funded: httpx.Client, clock: FrozenClock, db: Database, shop: Shop
    ) -> None:
        assert_problem(redeem(funded, 150, "k-1"), 409)
        earn(funded, clock, "50.00", order_id="o-2")
        r = redeem(funded, 150, "k-1")
        assert r.status_code == 201, r.text
        assert available(funded) == 0
        assert violations(db, shop) == []

    def test_one_key_for_two_members_is_two_redemptions(
        self, funded: httpx.Client, clock: FrozenClock, db: Database, shop: Shop
    ) -> None:
        r = funded.post("/v1/events", json=order_placed("cust-2", "o-2", "40.00", at=clock.now()))
        assert r.status_code == 201, r.text
        assert redeem(funded, 10, "k-1").status_code == 201
        assert redeem(funded, 10, "k-1", external_id="cust-2").status_code == 201
        assert available(funded) == 90
        assert available(funded, "cust-2") == 30
        assert violations(db, shop) == []

    def test_spending_everything_then_one_more_is_refused(
        self, funded: httpx.Client, db: Database, shop: Shop
    ) -> None:
        assert redeem(funded, 100, "k-1").status_code == 201
        assert available(funded) == 0
        assert_problem(redeem(funded, 1, "k-2"), 409)
        assert available(funded) == 0
        assert violations(db, shop) == []
