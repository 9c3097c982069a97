"""Editing a live program safely: drafts, publishing, the version history, previews of events
against the live program or the draft, YAML in and out."""

from typing import Any

import httpx
import yaml
from sqlalchemy import func, select

from patron.db.session import Database
from patron.events.models import Event
from patron.kit.clock import FrozenClock
from patron.ledger.models import Posting
from tests.factories import Shop, order_placed, violations

DOUBLE = {"currency": "USD", "points_per_unit": "2", "name": "Double"}


def rows(db: Database, shop: Shop, model: Any) -> int:
    with db.unit_of_work() as s:
        return int(
            s.execute(
                select(func.count()).select_from(model).where(model.tenant_id == shop.tenant_id)
            ).scalar_one()
        )


class TestDrafts:
    def test_a_draft_changes_nothing_until_published(
        self, client: httpx.Client, shop: Shop, clock: FrozenClock
    ) -> None:
        live = client.get("/v1/program").json()
        r = client.put("/v1/program", params={"draft": "true"}, json=DOUBLE)
        assert r.status_code == 200, r.text
        assert r.json()["based_on"] == live["version"] and r.json()["name"] == "Double"
        assert client.get("/v1/program").json() == live
        assert client.get("/v1/program/draft").json()["points_per_unit"] == "2"
        # Orders still earn under the live program.
        r = client.post("/v1/events", json=order_placed("c1", "o1", "10.00", at=clock.now()))
        assert r.json()["points"] == 10
        published = client.post("/v1/program/publish", json={"version": live["version"]})
        assert published.status_code == 200, published.text
        assert published.json()["version"] == live["version"] + 1
        assert client.get("/v1/program").json()["name"] == "Double"
        assert client.get("/v1/program/draft").status_code == 404
        r = client.post("/v1/events", json=order_placed("c1", "o2", "10.00", at=clock.now()))
        assert r.json()["points"] == 20

    def test_a_bad_draft_is_refused_like_a_publish(self, client: httpx.Client) -> None:
        bad = {**DOUBLE, "rules": [{"id": "x", "name": "X", "points": 1, "when": "order.totl"}]}
        r = client.put("/v1/program", params={"draft": "true"}, json=bad)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "rules.0.when"
        assert client.get("/v1/program/draft").status_code == 404

    def test_publishing_a_draft_edited_from_an_old_version_is_refused(
        self, client: httpx.Client
    ) -> None:
        live = client.get("/v1/program").json()
        client.put("/v1/program", params={"draft": "true"}, json=DOUBLE)
        assert client.put("/v1/program", json={**DOUBLE, "name": "Other"}).status_code == 200
        r = client.post("/v1/program/publish", json={"version": live["version"]})
        assert r.status_code == 409 and r.json()["errors"][0]["field"] == "version"
        assert client.get("/v1/program/draft").status_code == 200  # kept

    def test_discarding_and_publishing_without_a_draft(self, client: httpx.Client) -> None:
        assert client.delete("/v1/program/draft").status_code == 404
        assert client.post("/v1/program/publish").status_code == 404
        client.put("/v1/program", params={"draft": "true"}, json=DOUBLE)
        assert client.delete("/v1/program/draft").status_code == 204
        assert client.get("/v1/program/draft").status_code == 404


class TestVersions:
    def test_every_version_is_listed_and_readable(self, client: httpx.Client) -> None:
        first = client.get("/v1/program").json()["version"]
        for n in range(3):
            client.put("/v1/program", json={**DOUBLE, "name": f"v{n}"})
        page = client.get("/v1/program/versions", params={"limit": 2}).json()
        assert [v["version"] for v in page["items"]] == [first + 3, first + 2]
        rest = client.get("/v1/program/versions", params={"before": page["next_before"]}).json()
        assert [v["version"] for v in rest["items"]] == [first + 1, first]
        assert rest["next_before"] is None
        old = client.get(f"/v1/program/versions/{first + 1}").json()
        assert old["name"] == "v0" and old["version"] == first + 1
        assert client.get("/v1/program/versions/999").status_code == 404


class TestYaml:
    def test_a_program_round_trips_through_yaml(self, client: httpx.Client) -> None:
        document = {
            **DOUBLE,
            "rules": [{"id": "x", "name": "X", "multiplier": "1.5", "lines": {"tags": ["a"]}}],
        }
        r = client.put(
            "/v1/program",
            content=yaml.safe_dump(document),
            headers={"Content-Type": "application/yaml"},
        )
        assert r.status_code == 200, r.text
        r = client.get("/v1/program", headers={"Accept": "application/yaml"})
        assert r.headers["content-type"].startswith("application/yaml")
        read = yaml.safe_load(r.text)
        assert read["points_per_unit"] == "2" and read["rules"][0]["multiplier"] == "1.5"
        again = client.put(
            "/v1/program", content=r.text, headers={"Content-Type": "application/yaml"}
        )
        assert again.status_code == 200, again.text
        assert {**again.json(), "version": 0, "published_at": 0} == {
            **client.get("/v1/program").json(),
            "version": 0,
            "published_at": 0,
        }

    def test_broken_yaml_names_the_line(self, client: httpx.Client) -> None:
        r = client.put(
            "/v1/program",
            content="currency: USD\nrules: [\n  - id: x\n",
            headers={"Content-Type": "application/yaml"},
        )
        assert r.status_code == 422 and "line" in r.json()["detail"]


class TestPreview:
    def test_a_preview_writes_nothing_and_matches_the_real_thing(
        self, client: httpx.Client, db: Database, shop: Shop, clock: FrozenClock
    ) -> None:
        event = order_placed("c1", "o1", "10.00", at=clock.now())
        events, postings = rows(db, shop, Event), rows(db, shop, Posting)
        r = client.post("/v1/events/preview", json=event)
        assert r.status_code == 200, r.text
        preview = r.json()
        assert preview["preview"] is True and preview["points"] == 10 and preview["postings"]
        assert (rows(db, shop, Event), rows(db, shop, Posting)) == (events, postings)
        assert client.get("/v1/members/c1").status_code == 404
        real = client.post("/v1/events", json=event).json()
        assert real["points"] == preview["points"] and real["message"] == preview["message"]
        assert violations(db, shop) == []

    def test_the_draft_gives_its_own_points(self, client: httpx.Client, clock: FrozenClock) -> None:
        client.put("/v1/program", params={"draft": "true"}, json=DOUBLE)
        event = order_placed("c1", "o1", "10.00", at=clock.now())
        live = client.post("/v1/events/preview", json=event).json()
        draft = client.post("/v1/events/preview", params={"program": "draft"}, json=event).json()
        assert (live["points"], draft["points"]) == (10, 20)
        assert draft["program_version"] == live["program_version"] + 1

    def test_an_invalid_event_gets_the_same_error(
        self, client: httpx.Client, clock: FrozenClock
    ) -> None:
        bad = order_placed("c1", "o1", "-1", at=clock.now())
        preview = client.post("/v1/events/preview", json=bad)
        real = client.post("/v1/events", json=bad)
        assert preview.status_code == real.status_code == 422
        assert preview.json()["errors"] == real.json()["errors"]
