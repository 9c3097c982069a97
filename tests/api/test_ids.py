"""Ids are opaque: any printable character, "/" included, round-trips on every route when
percent-encoded; whitespace at the ends and control characters are refused."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from patron.kit.clock import FrozenClock
from tests.factories import order_placed

SHOPIFY = "gid://shopify/Customer/7001"
ODD = ["a/b", "50%off", "a%2Fb", "über kunde", "x?y#z", "..", "a\\b", "名前"]


def seg(value: str) -> str:
    """A path segment; "." and ".." are dot-segments that clients resolve away, so their
    dots are encoded too."""
    encoded = quote(value, safe="")
    return encoded.replace(".", "%2E") if set(value) == {"."} else encoded


def test_a_shopify_customer_id_round_trips_on_every_member_route(
    client: httpx.Client, clock: FrozenClock
) -> None:
    r = client.post(
        "/v1/events",
        json=order_placed(SHOPIFY, "gid://shopify/Order/1", "25.00", at=clock.now(), id="e/1"),
    )
    assert r.status_code == 201, r.text
    member = client.get(f"/v1/members/{seg(SHOPIFY)}")
    assert member.status_code == 200, member.text
    assert member.json()["external_id"] == SHOPIFY
    assert member.json()["points"]["available"] == 25
    history = client.get(f"/v1/members/{seg(SHOPIFY)}/transactions")
    assert history.status_code == 200, history.text
    assert [p["points"] for p in history.json()["items"]] == [25]
    adjusted = client.post(
        f"/v1/members/{seg(SHOPIFY)}/adjustments",
        json={"points": 5, "reason": "goodwill"},
        headers={"Idempotency-Key": "adj/1"},
    )
    assert adjusted.status_code == 201, adjusted.text
    spent = client.post(
        f"/v1/members/{seg(SHOPIFY)}/redemptions",
        json={"points": 10, "description": "coupon"},
        headers={"Idempotency-Key": "red/1"},
    )
    assert spent.status_code == 201, spent.text
    assert client.get(f"/v1/members/{seg(SHOPIFY)}").json()["points"]["available"] == 20
    event = client.get(f"/v1/events/{seg('e/1')}")
    assert event.status_code == 200, event.text
    assert event.json()["member"] == SHOPIFY
    token = client.post(f"/v1/members/{seg(SHOPIFY)}/tokens", json={})
    assert token.status_code in (200, 201), token.text
    exported = client.get(f"/v1/members/{seg(SHOPIFY)}/export")
    assert exported.status_code == 200, exported.text
    assert SHOPIFY in exported.text
    other = "gid://shopify/Customer/7002"
    assert client.put(f"/v1/members/{seg(other)}", json={}).status_code == 201
    merged = client.post(
        f"/v1/members/{seg(SHOPIFY)}/merge",
        json={"from": other},
        headers={"Idempotency-Key": "merge/1"},
    )
    assert merged.status_code == 201, merged.text
    erased = client.delete(f"/v1/members/{seg(SHOPIFY)}")
    assert erased.status_code == 200, erased.text
    assert client.get(f"/v1/members/{seg(SHOPIFY)}").status_code == 404


@pytest.mark.parametrize("external_id", ODD)
def test_odd_but_printable_ids_round_trip(client: httpx.Client, external_id: str) -> None:
    created = client.put(f"/v1/members/{seg(external_id)}", json={})
    assert created.status_code == 201, created.text
    assert created.json()["external_id"] == external_id
    read = client.get(f"/v1/members/{seg(external_id)}")
    assert read.status_code == 200, read.text
    assert read.json()["external_id"] == external_id


def test_a_slash_id_does_not_reach_another_member(client: httpx.Client) -> None:
    assert client.put("/v1/members/a", json={}).status_code == 201
    assert client.get(f"/v1/members/{seg('a/transactions')}").status_code == 404


@pytest.mark.parametrize("bad", ["cust ", " cust", "cu\x00st", "cu\tst", "cust\n"])
def test_ids_with_edge_whitespace_or_control_characters_are_refused(
    client: httpx.Client, clock: FrozenClock, bad: str
) -> None:
    r = client.post("/v1/events", json=order_placed(bad, "o-1", "5.00", at=clock.now()))
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["customer.external_id"]
    r = client.post("/v1/events", json=order_placed("cust", "o-1", "5.00", at=clock.now(), id=bad))
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["id"]
    r = client.put(f"/v1/members/{seg(bad)}", json={})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["external_id"]
    assert client.get("/v1/members", params={"q": "cu"}).json()["items"] == []
