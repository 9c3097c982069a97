import httpx

from tests.factories import Shop, order_placed, violations


def test_order_placed_earns_points(client: httpx.Client, shop: Shop, clock, db) -> None:
    r = client.post("/v1/events", json=order_placed("c1", "o1", "42.50", at=clock.now()))
    assert r.status_code == 201, r.text
    assert r.json()["points"] == 42
    m = client.get("/v1/members/c1").json()
    assert m["points"]["available"] == 42
    assert violations(db, shop) == []
