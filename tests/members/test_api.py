"""The members API over real HTTP: enrolment and updates, validation, reading, listing and
searching, and what a suspended member may not do."""

from __future__ import annotations

from typing import Any

import httpx

from patron.db.session import Database
from patron.kit.clock import FrozenClock
from tests.factories import Shop, order_placed, violations


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    for key in ("type", "title", "detail"):
        assert isinstance(body[key], str) and body[key], key
    return body


def error_fields(response: httpx.Response) -> list[str]:
    body = assert_problem(response, 422)
    return [e["field"] for e in body["errors"]]


def put(client: httpx.Client, external_id: str, **fields: Any) -> httpx.Response:
    return client.put(f"/v1/members/{external_id}", json=fields)


class TestPutCreatesThenUpdates:
    def test_first_put_creates_the_member_with_201(self, client: httpx.Client) -> None:
        r = put(
            client,
            "cust-1",
            email="ada@example.com",
            name="Ada",
            birthday="1990-12-10",
            enrolled_via="checkout",
            accepts_marketing=True,
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["external_id"] == "cust-1"
        assert body["email"] == "ada@example.com"
        assert body["name"] == "Ada"
        assert body["birthday"] == "1990-12-10"
        assert body["enrolled_via"] == "checkout"
        assert body["status"] == "active"
        assert body["accepts_marketing"] is True
        assert client.get("/v1/members/cust-1").json() == body

    def test_second_put_updates_only_the_fields_sent_with_200(
        self, client: httpx.Client, clock: FrozenClock
    ) -> None:
        created = put(
            client,
            "cust-1",
            email="ada@example.com",
            name="Ada",
            birthday="1990-12-10",
            enrolled_via="checkout",
            accepts_marketing=True,
        ).json()
        clock.advance(hours=1)
        r = put(client, "cust-1", name="Ada Lovelace")
        assert r.status_code == 200, r.text
        updated = r.json()
        assert updated["name"] == "Ada Lovelace"
        for unchanged in ("email", "birthday", "enrolled_via", "status", "accepts_marketing"):
            assert updated[unchanged] == created[unchanged], unchanged
        assert updated["enrolled_at"] == created["enrolled_at"]
        assert updated["updated_at"] != created["updated_at"]
        assert client.get("/v1/members/cust-1").json() == updated

    def test_enrolled_via_is_kept_from_creation(self, client: httpx.Client) -> None:
        put(client, "cust-1", enrolled_via="checkout")
        r = put(client, "cust-1", enrolled_via="import", name="Ada")
        assert r.status_code == 200, r.text
        assert r.json()["enrolled_via"] == "checkout"
        assert r.json()["name"] == "Ada"

    def test_null_clears_a_field(self, client: httpx.Client) -> None:
        put(client, "cust-1", email="ada@example.com", name="Ada")
        r = put(client, "cust-1", name=None)
        assert r.status_code == 200, r.text
        assert r.json()["name"] is None
        assert r.json()["email"] == "ada@example.com"

    def test_changing_the_email_changes_what_search_finds(self, client: httpx.Client) -> None:
        put(client, "cust-1", email="old@example.com")
        put(client, "cust-1", email="new@example.com")
        old = client.get("/v1/members", params={"email": "old@example.com"}).json()
        new = client.get("/v1/members", params={"email": "new@example.com"}).json()
        assert old["items"] == []
        assert [m["external_id"] for m in new["items"]] == ["cust-1"]


class TestPutValidation:
    def test_an_invalid_email_is_422_naming_email(self, client: httpx.Client) -> None:
        r = put(client, "cust-1", email="not-an-email")
        assert error_fields(r) == ["email"]
        assert client.get("/v1/members/cust-1").status_code == 404

    def test_an_impossible_birthday_is_422_naming_birthday(self, client: httpx.Client) -> None:
        r = put(client, "cust-1", birthday="1990-13-45")
        assert error_fields(r) == ["birthday"]
        assert client.get("/v1/members/cust-1").status_code == 404

    def test_an_unknown_field_is_422_naming_it(self, client: httpx.Client) -> None:
        r = put(client, "cust-1", nickname="Ada")
        assert error_fields(r) == ["nickname"]
        assert client.get("/v1/members/cust-1").status_code == 404

    def test_an_unknown_status_is_422_naming_status(self, client: httpx.Client) -> None:
        r = put(client, "cust-1", status="banned")
        assert error_fields(r) == ["status"]

    def test_an_invalid_update_leaves_the_member_unchanged(self, client: httpx.Client) -> None:
        before = put(client, "cust-1", email="ada@example.com").json()
        r = put(client, "cust-1", email="nope", name="Changed")
        assert error_fields(r) == ["email"]
        assert client.get("/v1/members/cust-1").json() == before


class TestGetMember:
    def test_returns_balances_and_order_stats(
        self, client: httpx.Client, clock: FrozenClock, db: Database, shop: Shop
    ) -> None:
        put(client, "cust-1", email="ada@example.com")
        at = clock.now()
        r = client.post("/v1/events", json=order_placed("cust-1", "o-1", "42.50", at=at))
        assert r.status_code == 201, r.text
        body = client.get("/v1/members/cust-1").json()
        assert body["points"] == {"available": 42, "pending": 0, "lifetime_earned": 42, "debt": 0}
        stats = body["stats"]
        assert stats["orders_count"] == 1
        assert stats["total_spent"] == "42.50"
        assert stats["currency"] == "USD"
        assert stats["first_order_at"] == stats["last_order_at"]
        assert stats["first_order_at"].replace("Z", "+00:00") == at.isoformat()
        assert violations(db, shop) == []

    def test_a_new_member_has_zero_balances(self, client: httpx.Client) -> None:
        put(client, "cust-1")
        body = client.get("/v1/members/cust-1").json()
        assert body["points"] == {"available": 0, "pending": 0, "lifetime_earned": 0, "debt": 0}
        assert body["stats"]["orders_count"] == 0
        assert body["stats"]["first_order_at"] is None

    def test_an_unknown_member_is_404_problem_json(self, client: httpx.Client) -> None:
        body = assert_problem(client.get("/v1/members/nobody"), 404)
        assert "nobody" in body["detail"]
        assert body["type"].startswith("https://")


def list_all(client: httpx.Client, limit: int, **params: str) -> list[dict[str, Any]]:
    """Every page, in order; each page checked for its size."""
    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query: dict[str, Any] = {"limit": limit, **params}
        if cursor:
            query["cursor"] = cursor
        r = client.get("/v1/members", params=query)
        assert r.status_code == 200, r.text
        page = r.json()
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50, "paging does not end"


class TestListMembers:
    def test_pages_with_limit_and_cursor_without_duplicates(self, client: httpx.Client) -> None:
        ids = [f"m-{i}" for i in range(7)]
        for external_id in ids:
            assert put(client, external_id).status_code == 201
        pages = list_all(client, 3)
        assert [len(p["items"]) for p in pages] == [3, 3, 1]
        seen = [m["external_id"] for p in pages for m in p["items"]]
        assert sorted(seen) == sorted(ids)
        assert len(set(seen)) == len(seen)
        assert [p["next_cursor"] is None for p in pages] == [False, False, True]

    def test_a_full_last_page_has_no_next_cursor(self, client: httpx.Client) -> None:
        for i in range(3):
            put(client, f"m-{i}")
        pages = list_all(client, 3)
        assert len(pages) == 1
        assert len(pages[0]["items"]) == 3

    def test_searches_by_email_exactly_in_any_case(self, client: httpx.Client) -> None:
        put(client, "ada", email="Ada@Example.com")
        put(client, "adam", email="ada.m@example.com")
        put(client, "bob", email="bob@example.com")
        found = client.get("/v1/members", params={"email": "ADA@example.COM"}).json()
        assert [m["external_id"] for m in found["items"]] == ["ada"]
        partial = client.get("/v1/members", params={"email": "ada@example.co"}).json()
        assert partial["items"] == []

    def test_q_matches_a_prefix_of_the_external_id_or_the_email(self, client: httpx.Client) -> None:
        put(client, "ext-alpha", email="zed@example.com")
        put(client, "ext-beta", email="yan@example.com")
        put(client, "m-3", email="ext-fan@example.com")
        put(client, "m-4", email="no@example.com")
        put(client, "x-ext", email="inner-ext@example.com")
        found = client.get("/v1/members", params={"q": "ext-"}).json()
        assert sorted(m["external_id"] for m in found["items"]) == ["ext-alpha", "ext-beta", "m-3"]

    def test_q_treats_sql_wildcards_literally(self, client: httpx.Client) -> None:
        put(client, "abc")
        put(client, "a_c")
        assert client.get("/v1/members", params={"q": "%"}).json()["items"] == []
        underscore = client.get("/v1/members", params={"q": "a_"}).json()
        assert [m["external_id"] for m in underscore["items"]] == ["a_c"]

    def test_a_garbage_cursor_is_422_naming_cursor(self, client: httpx.Client) -> None:
        put(client, "m-1")
        r = client.get("/v1/members", params={"cursor": "garbage"})
        assert error_fields(r) == ["cursor"]

    def test_a_limit_out_of_range_is_422_naming_limit(self, client: httpx.Client) -> None:
        assert error_fields(client.get("/v1/members", params={"limit": 0})) == ["limit"]
        assert error_fields(client.get("/v1/members", params={"limit": 201})) == ["limit"]


class TestSuspendedMember:
    def suspend_with_points(self, client: httpx.Client, clock: FrozenClock) -> None:
        put(client, "cust-1")
        r = client.post("/v1/events", json=order_placed("cust-1", "o-1", "100.00", at=clock.now()))
        assert r.json()["points"] == 100
        r = put(client, "cust-1", status="suspended")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "suspended"

    def test_an_order_earns_nothing(
        self, client: httpx.Client, clock: FrozenClock, db: Database, shop: Shop
    ) -> None:
        self.suspend_with_points(client, clock)
        r = client.post("/v1/events", json=order_placed("cust-1", "o-2", "50.00", at=clock.now()))
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "member_suspended"
        assert r.json()["points"] == 0
        assert r.json()["postings"] == []
        member = client.get("/v1/members/cust-1").json()
        assert member["points"]["available"] == 100
        assert member["points"]["lifetime_earned"] == 100
        assert violations(db, shop) == []

    def test_a_redemption_is_refused_with_409(
        self, client: httpx.Client, clock: FrozenClock, db: Database, shop: Shop
    ) -> None:
        self.suspend_with_points(client, clock)
        r = client.post(
            "/v1/members/cust-1/redemptions",
            json={"points": 10, "description": "coffee"},
            headers={"Idempotency-Key": "k-1"},
        )
        body = assert_problem(r, 409)
        assert body["type"].endswith("/member-suspended")
        assert client.get("/v1/members/cust-1").json()["points"]["available"] == 100
        history = client.get("/v1/members/cust-1/transactions").json()["items"]
        assert [t["kind"] for t in history] == ["earn"]
        assert violations(db, shop) == []

    def test_an_adjustment_is_refused_with_409(
        self, client: httpx.Client, clock: FrozenClock, db: Database, shop: Shop
    ) -> None:
        self.suspend_with_points(client, clock)
        r = client.post("/v1/members/cust-1/adjustments", json={"points": 50, "reason": "goodwill"})
        body = assert_problem(r, 409)
        assert body["type"].endswith("/member-suspended")
        assert client.get("/v1/members/cust-1").json()["points"]["available"] == 100
        history = client.get("/v1/members/cust-1/transactions").json()["items"]
        assert [t["kind"] for t in history] == ["earn"]
        assert violations(db, shop) == []

    def test_reactivating_lets_the_member_earn_again(
        self, client: httpx.Client, clock: FrozenClock
    ) -> None:
        self.suspend_with_points(client, clock)
        assert put(client, "cust-1", status="active").json()["status"] == "active"
        r = client.post("/v1/events", json=order_placed("cust-1", "o-2", "5.00", at=clock.now()))
        assert r.json()["status"] == "applied"
        assert client.get("/v1/members/cust-1").json()["points"]["available"] == 105
