"""A shop changes its terms mid-way: orders earn under the version in force when they
arrive, every posting records that version, and a refund takes back what its order actually
earned, not what the new rate would have given."""

from __future__ import annotations

import httpx

from patron.db.session import Database
from patron.kit.clock import FrozenClock
from tests.factories import Shop, order_placed, order_refunded
from tests.scenarios.journey import Journey, held


class TestANewProgramVersion:
    def test_applies_to_new_orders_and_refunds_follow_what_each_order_earned(
        self, client: httpx.Client, db: Database, clock: FrozenClock, shop: Shop
    ) -> None:
        j = Journey(client, db, clock, shop)
        before = j.send(order_placed("cy", "o-1", "10.00", at=clock.now()))
        assert (before["points"], before["postings"][0]["program_version"]) == (10, 1)

        clock.advance(days=1)
        published = j.publish(name="Double Days", points_per_unit="2")
        assert published["version"] == 2
        assert client.get("/v1/program").json()["name"] == "Double Days"

        after = j.send(order_placed("cy", "o-2", "10.00", at=clock.now()))
        assert (after["points"], after["postings"][0]["program_version"]) == (20, 2)
        assert "program v2" in after["message"]

        refund = j.send(order_refunded("cy", "o-1", "10.00", at=clock.now()))
        assert refund["points"] == -10
        assert refund["postings"][0]["program_version"] == 2
        assert j.points("cy") == held(20, 0, 20)
        assert j.consistent()
