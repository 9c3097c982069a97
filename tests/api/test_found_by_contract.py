"""Faults the contract test (tests/api/test_contract.py) found, pinned down: each answered 500
before it was fixed."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from patron.kit.clock import FrozenClock
from patron.kit.opaque import MAX_ID
from tests.factories import member_enrolled, order_placed


def assert_refused(response: httpx.Response, field: str) -> str:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    [error] = response.json()["errors"]
    assert error["field"] == field
    return str(error["message"])


class TestAnIdInThePathIsAtMost255Characters:
    """The path segment may be up to three times longer, for its escapes; the id it decodes
    to may not. PostgreSQL refused the longer id (500); SQLite stored it."""

    def test_a_longer_id_is_refused_and_nothing_is_stored(self, client: httpx.Client) -> None:
        long = "0" * (MAX_ID + 1)
        response = client.put(f"/v1/members/{long}", json={"name": "Ada"})
        assert "at most 255 characters" in assert_refused(response, "external_id")
        assert client.get("/v1/members", params={"q": "000"}).json()["items"] == []

    @pytest.mark.parametrize("route", ["", "/transactions"])
    def test_reads_refuse_it_too(self, client: httpx.Client, route: str) -> None:
        long = "x" * (MAX_ID + 1)
        assert_refused(client.get(f"/v1/members/{long}{route}"), "external_id")

    def test_an_id_of_255_characters_escaped_in_the_path_is_taken(
        self, client: httpx.Client
    ) -> None:
        id = "a/" * (MAX_ID // 2) + "a"  # 255 characters, 127 of them sent as %2F
        encoded = id.replace("/", "%2F")
        assert len(id) == MAX_ID and len(encoded) > MAX_ID
        response = client.put(f"/v1/members/{encoded}", json={"name": "Ada"})
        assert response.status_code == 201, response.text
        assert response.json()["external_id"] == id


class TestAMemberTokenLastsAtMostAYear:
    def test_a_huge_expires_in_is_refused(self, client: httpx.Client) -> None:
        response = client.post("/v1/members/cust_1042/tokens", json={"expires_in": 326425740540868})
        assert "less than or equal to 31536000" in assert_refused(response, "expires_in")

    def test_past_the_servers_limit_is_refused_in_words(self, client: httpx.Client) -> None:
        response = client.post("/v1/members/cust_1042/tokens", json={"expires_in": 86401})
        assert "at most 86400 s on this server" in assert_refused(response, "expires_in")

    @pytest.mark.parametrize("value", ["3600", 3600.0])
    def test_expires_in_is_a_json_integer(self, client: httpx.Client, value: object) -> None:
        response = client.post("/v1/members/cust_1042/tokens", json={"expires_in": value})
        assert_refused(response, "expires_in")


class TestAnEventsTimeZoneOffsetIsOneTimeZonesUse:
    """Python takes offsets up to 24 hours; PostgreSQL refused one of -21:01 (500)."""

    @pytest.mark.parametrize("offset", ["-21:01", "+15:00", "-12:01", "+14:01"])
    def test_an_offset_no_time_zone_uses_is_refused(
        self, client: httpx.Client, offset: str
    ) -> None:
        event = member_enrolled("cust_1042", at=datetime(2026, 2, 1, tzinfo=UTC))
        event["occurred_at"] = "2026-02-01T10:00:00" + offset
        response = client.post("/v1/events/batch", json={"events": [event]})
        assert "-12:00 and +14:00" in assert_refused(response, "events.0.occurred_at")
        assert client.get("/v1/members/cust_1042").status_code == 404

    @pytest.mark.parametrize("offset", ["-12:00", "+14:00", "+05:45", "Z"])
    def test_the_offsets_time_zones_use_are_taken(self, client: httpx.Client, offset: str) -> None:
        event = member_enrolled("cust_1042", at=datetime(2026, 2, 1, tzinfo=UTC))
        event["occurred_at"] = "2026-02-01T10:00:00" + offset
        assert client.post("/v1/events", json=event).status_code == 201


class TestTextHasNoControlCharacters:
    """PostgreSQL cannot store NUL in text: a NUL in a search answered 500 there, and so would
    one in any free text. Control characters other than tab and line breaks are refused too:
    they are never meant, and they hide in what a support agent reads."""

    def test_a_reason_with_one_is_refused(self, client: httpx.Client) -> None:
        client.put("/v1/members/cust_1042", json={})
        response = client.post(
            "/v1/members/cust_1042/adjustments", json={"points": 5, "reason": "a\x00b"}
        )
        assert "U+0000" in assert_refused(response, "reason")
        assert client.get("/v1/members/cust_1042/transactions").json()["items"] == []

    def test_a_program_name_with_one_is_refused(self, client: httpx.Client) -> None:
        response = client.put("/v1/program", json={"currency": "USD", "name": "Bean\x1bClub"})
        assert "U+001B" in assert_refused(response, "name")

    def test_an_order_with_one_in_its_texts_is_refused(
        self, client: httpx.Client, clock: FrozenClock
    ) -> None:
        event = order_placed("cust_1042", "#1001", "10.00", at=clock.now())
        event["customer"]["name"] = "Ada\x00"
        assert_refused(client.post("/v1/events", json=event), "customer.name")
        event = order_placed("cust_1042", "#1001", "10.00", at=clock.now())
        event["data"]["lines"] = [
            {"sku": "BEAN-250", "category": "co\x00ffee", "quantity": 1, "unit_price": "10.00"}
        ]
        assert_refused(client.post("/v1/events", json=event), "data.lines.0.category")
        assert client.get("/v1/members/cust_1042").status_code == 404

    def test_tabs_and_line_breaks_are_text(self, client: httpx.Client) -> None:
        client.put("/v1/members/cust_1042", json={})
        reason = "Goodwill:\n\tparcel late"
        response = client.post(
            "/v1/members/cust_1042/adjustments", json={"points": 5, "reason": reason}
        )
        assert response.status_code == 201, response.text
        assert response.json()["transaction"]["reason"] == reason
