"""What a new user tripped on, each refused or answered as a shop's developer would expect.
Every test here failed on the API before it was fixed."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from patron.db.session import Database
from patron.kit.clock import FrozenClock
from tests.factories import (
    Shop,
    create_shop,
    order_cancelled,
    order_placed,
    order_refunded,
    violations,
)


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    assert body["errors"], "every problem lists at least one error"
    return body


def fields(r: httpx.Response, status: int = 422) -> list[str]:
    return [e["field"] for e in problem(r, status)["errors"]]


def points(client: httpx.Client, customer: str) -> int:
    r = client.get(f"/v1/members/{customer}")
    assert r.status_code == 200, r.text
    return int(r.json()["points"]["available"])


class TestReversals:
    def test_a_refund_naming_another_customer_is_refused_and_takes_nothing(
        self, client: httpx.Client, clock: FrozenClock, db: Database, shop: Shop
    ) -> None:
        assert client.post("/v1/events", json=order_placed("y", "o1", "50", at=clock.now()))
        assert client.post("/v1/events", json=order_placed("x", "o2", "5", at=clock.now()))
        refund = order_refunded("x", "o1", "50", at=clock.now())
        assert fields(client.post("/v1/events", json=refund)) == ["customer.external_id"]
        cancel = order_cancelled("x", "o1", at=clock.now())
        assert fields(client.post("/v1/events", json=cancel)) == ["customer.external_id"]
        assert points(client, "y") == 50
        detail = client.post("/v1/events", json=refund).json()["detail"]
        assert "y" not in detail.replace("by", "")  # the other customer is not named
        assert violations(db, shop) == []

    def test_a_refund_dated_before_its_order_is_refused(
        self, client: httpx.Client, clock: FrozenClock
    ) -> None:
        client.post("/v1/events", json=order_placed("c", "o1", "20", at=clock.now()))
        early = clock.now() - timedelta(days=800)
        r = client.post("/v1/events", json=order_refunded("c", "o1", "5", at=early))
        assert fields(r) == ["occurred_at"]
        r = client.post("/v1/events", json=order_cancelled("c", "o1", at=early))
        assert fields(r) == ["occurred_at"]
        assert points(client, "c") == 20
        ok = client.post("/v1/events", json=order_refunded("c", "o1", "5", at=clock.now()))
        assert ok.status_code == 201, ok.text

    def test_in_a_batch_the_refused_event_is_named_by_index(
        self, client: httpx.Client, clock: FrozenClock
    ) -> None:
        events = [
            order_placed("a", "o1", "10", at=clock.now()),
            order_refunded("b", "o1", "10", at=clock.now()),
        ]
        r = client.post("/v1/events/batch", json={"events": events})
        assert fields(r) == ["events.1.customer.external_id"]


class TestAmountsAndDates:
    def test_a_negative_total_says_so_in_words(
        self, client: httpx.Client, clock: FrozenClock
    ) -> None:
        r = client.post("/v1/events", json=order_placed("c", "o1", "-5.00", at=clock.now()))
        body = problem(r, 422)
        assert [e["field"] for e in body["errors"]] == ["data.total"]
        assert "negative" in body["errors"][0]["message"]
        assert "^" not in body["detail"] and "pattern" not in body["detail"]

    @pytest.mark.parametrize(
        ("total", "words"), [("1.234", "decimal places"), ("999999999999999", "too large")]
    )
    def test_amount_errors_name_the_amount_field(
        self, client: httpx.Client, clock: FrozenClock, total: str, words: str
    ) -> None:
        r = client.post("/v1/events", json=order_placed("c", "o1", total, at=clock.now()))
        body = problem(r, 422)
        assert [e["field"] for e in body["errors"]] == ["data.total"]
        assert words in body["errors"][0]["message"]

    def test_a_line_price_error_names_the_line(
        self, client: httpx.Client, clock: FrozenClock
    ) -> None:
        lines = [
            {"sku": "A", "quantity": 1, "unit_price": "1.00"},
            {"sku": "B", "quantity": 1, "unit_price": "1.001"},
        ]
        event = order_placed("c", "o1", "2.00", at=clock.now(), lines=lines)
        r = client.post("/v1/events", json=event)
        assert fields(r) == ["data.lines.1.unit_price"]

    def test_year_0001_is_refused(self, client: httpx.Client, clock: FrozenClock) -> None:
        event = order_placed("c", "o1", "5", at=clock.now())
        event["occurred_at"] = "0001-01-01T00:00:00Z"
        assert fields(client.post("/v1/events", json=event)) == ["occurred_at"]

    def test_the_explanation_writes_numbers_plainly(
        self, client: httpx.Client, clock: FrozenClock
    ) -> None:
        r = client.post("/v1/events", json=order_placed("c", "o1", "10.00", at=clock.now()))
        assert r.status_code == 201, r.text
        message = r.json()["message"]
        assert "E+" not in message
        detail = r.json()["postings"][0]["detail"]
        assert detail["raw"] == "10" and detail["rate"] == "1"


class TestErrorShapes:
    def test_401_403_405_404_and_409_list_their_errors(
        self, anon: httpx.Client, client: httpx.Client, db: Database, clock: FrozenClock
    ) -> None:
        assert fields(anon.get("/v1/program"), 401) == ["Authorization"]
        shop = create_shop(db, now=clock.now(), scopes=["events:read"])
        reader = {"Authorization": f"Bearer {shop.key}"}
        assert fields(client.get("/v1/program", headers=reader), 403) == ["Authorization"]
        r = client.delete("/v1/program")
        assert fields(r, 405) == ["method"]
        assert "PUT" in r.headers["allow"] and "PUT" in r.json()["detail"]
        assert fields(client.get("/v1/nothing-here"), 404) == ["path"]
        event = order_placed("c", "o1", "5", at=clock.now())
        client.post("/v1/events", json=event)
        assert fields(client.post("/v1/events", json={**event, "id": "other"}), 409) == [
            "data.order_id"
        ]
        reused = {**event, "data": {**event["data"], "total": "6"}}
        assert fields(client.post("/v1/events", json=reused), 409) == ["id"]
        none = create_shop(db, now=clock.now(), publish=False)
        r = client.get("/v1/program", headers={"Authorization": f"Bearer {none.key}"})
        assert problem(r, 409)["errors"] == [{"field": None, "message": r.json()["detail"]}]

    def test_deeply_nested_json_says_so(self, client: httpx.Client) -> None:
        deep = "[" * 100_000 + "]" * 100_000
        r = client.post("/v1/events", content=deep, headers={"content-type": "application/json"})
        body = problem(r, 400)
        assert "nested too deeply" in body["detail"]

    def test_a_body_over_the_limit_is_413_and_is_not_parsed(
        self, client: httpx.Client, clock: FrozenClock, db: Database, shop: Shop
    ) -> None:
        event = order_placed("c", "o1", "5", at=clock.now())
        big = json.dumps({"events": [event] + [{"pad": "x" * 1000}] * 5000})
        assert len(big) > 4 * 1024 * 1024
        r = client.post(
            "/v1/events/batch", content=big, headers={"content-type": "application/json"}
        )
        assert fields(r, 413) == ["body"]
        assert client.get("/v1/members/c").status_code == 404

    def test_a_chunked_body_over_the_limit_is_413(self, client: httpx.Client) -> None:
        def chunks() -> Any:
            for _ in range(5000):
                yield b" " * 1024

        r = client.post(
            "/v1/events/batch", content=chunks(), headers={"content-type": "application/json"}
        )
        assert fields(r, 413) == ["body"]

    def test_a_body_that_is_not_json_is_415(self, client: httpx.Client, clock: FrozenClock) -> None:
        body = json.dumps(order_placed("c", "o1", "5", at=clock.now()))
        r = client.post("/v1/events", content=body, headers={"content-type": "text/plain"})
        assert fields(r, 415) == ["Content-Type"]
        r = client.put("/v1/members/c", content="{}", headers={"content-type": "text/plain"})
        assert fields(r, 415) == ["Content-Type"]
        assert client.get("/v1/members/c").status_code == 404
        ok = client.post(
            "/v1/events",
            content=body,
            headers={"content-type": "application/json; charset=utf-8"},
        )
        assert ok.status_code == 201, ok.text


class TestProgramEdits:
    def test_a_program_read_with_get_can_be_sent_back_with_put(self, client: httpx.Client) -> None:
        read = client.get("/v1/program").json()
        r = client.put("/v1/program", json={**read, "points_per_unit": "2"})
        assert r.status_code == 200, r.text
        assert r.json()["version"] == read["version"] + 1
        assert r.json()["points_per_unit"] == "2"

    def test_an_edit_from_a_stale_version_is_a_conflict(self, client: httpx.Client) -> None:
        read = client.get("/v1/program").json()
        assert client.put("/v1/program", json={**read, "name": "First"}).status_code == 200
        r = client.put("/v1/program", json={**read, "name": "Second"})
        assert fields(r, 409) == ["version"]
        assert client.get("/v1/program").json()["name"] == "First"

    def test_the_currency_cannot_change_once_orders_exist(
        self, client: httpx.Client, clock: FrozenClock
    ) -> None:
        assert client.put("/v1/program", json={"currency": "EUR"}).status_code == 200
        assert client.put("/v1/program", json={"currency": "USD"}).status_code == 200
        client.post("/v1/events", json=order_placed("c", "o1", "5", at=clock.now()))
        r = client.put("/v1/program", json={"currency": "EUR"})
        assert fields(r) == ["currency"]
        assert client.get("/v1/program").json()["currency"] == "USD"


def test_a_redemption_needs_no_description(client: httpx.Client, clock: FrozenClock) -> None:
    client.post("/v1/events", json=order_placed("c", "o1", "50", at=clock.now()))
    r = client.post(
        "/v1/members/c/redemptions", json={"points": 10}, headers={"Idempotency-Key": "k1"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["description"] == "Points redeemed"
    assert points(client, "c") == 40
