import httpx

from patron.db.session import Database
from patron.kit.clock import FrozenClock
from tests.factories import create_shop, order_placed


class TestProgramApi:
    def test_publishing_makes_a_new_version_that_new_postings_record(
        self, client: httpx.Client, clock: FrozenClock
    ) -> None:
        first = client.get("/v1/program").json()
        r = client.put("/v1/program", json={"currency": "USD", "points_per_unit": "3"})
        assert r.status_code == 200, r.text
        assert r.json()["version"] == first["version"] + 1
        assert client.get("/v1/program").json()["points_per_unit"] == "3"
        earned = client.post("/v1/events", json=order_placed("c1", "o1", "10", at=clock.now()))
        assert earned.json()["points"] == 30
        assert earned.json()["postings"][0]["program_version"] == first["version"] + 1

    def test_an_invalid_document_is_refused_and_the_version_stays(
        self, client: httpx.Client
    ) -> None:
        before = client.get("/v1/program").json()
        r = client.put("/v1/program", json={"currency": "USD", "rounding": "sideways"})
        assert r.status_code == 422
        assert [e["field"] for e in r.json()["errors"]] == ["rounding"]
        assert client.get("/v1/program").json() == before

    def test_a_shop_without_a_program_gets_a_clear_conflict(
        self, base_url: str, clock: FrozenClock, db: Database
    ) -> None:
        shop = create_shop(db, now=clock.now(), publish=False)
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {shop.key}"}) as c:
            r = c.get("/v1/program")
        assert r.status_code == 409 and "PUT /v1/program" in r.json()["detail"]
