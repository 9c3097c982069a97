"""Erasure, export and merges of members, over real HTTP (docs/privacy.md).

Erasure is checked in the database itself: every text and JSON column of every one of the
shop's rows is searched for the customer's id, emails, name and birthday, which must all have
been there before. The ledger must stay exact (verify-ledger clean, balances unchanged), and a
replay of an erased event must apply nothing. Merges move available, pending and debt lot by
lot, a later refund of the duplicate's order takes back from the survivor, and one
Idempotency-Key merges once.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from patron.db.session import Database
from patron.events.models import Event
from patron.kit.clock import FrozenClock
from patron.ledger.models import Balance, Posting
from patron.members.models import Member
from patron.models import metadata
from patron.orders.models import Order
from tests.factories import (
    Shop,
    event_id,
    order_cancelled,
    order_placed,
    order_refunded,
    violations,
)
from tests.members.test_api import assert_problem
from tests.scenarios.journey import Journey, held

ADA = "cust-ada-1042"
ADA_EMAIL = "ada.lovelace@example.com"
ADA_OLD_EMAIL = "old.ada@example.com"
ADA_NAME = "Ada Lovelace"
ADA_BIRTHDAY = "1815-12-10"
NEEDLES = (ADA, ADA_EMAIL, ADA_OLD_EMAIL, ADA_NAME, ADA_BIRTHDAY)


@pytest.fixture
def j(client: httpx.Client, db: Database, clock: FrozenClock, shop: Shop) -> Journey:
    return Journey(client, db, clock, shop)


# -- helpers -------------------------------------------------------------------------------


def mentions(db: Database, shop: Shop, needles: tuple[str, ...]) -> dict[str, list[str]]:
    """Every column of the shop's rows, in every table, that holds one of `needles` (any
    case): table.column -> the needles found there."""
    found: dict[str, list[str]] = {}
    with db.unit_of_work() as session:
        for table in metadata.sorted_tables:
            if "tenant_id" not in table.c:
                continue
            rows = session.execute(select(table).where(table.c.tenant_id == shop.tenant_id))
            for row in rows.mappings():
                for column, value in row.items():
                    text = (
                        json.dumps(value, default=str)
                        if isinstance(value, dict | list)
                        else str(value)
                    ).lower()
                    for needle in needles:
                        if needle.lower() in text:
                            found.setdefault(f"{table.name}.{column}", []).append(needle)
    return found


def member_row(db: Database, shop: Shop, member_id: uuid.UUID) -> Member:
    with db.unit_of_work() as session:
        found = session.get(Member, (shop.tenant_id, member_id))
        assert found is not None
        session.expunge(found)
        return found


def member_id(db: Database, shop: Shop, external_id: str) -> uuid.UUID:
    with db.unit_of_work() as session:
        return session.execute(
            select(Member.id).where(
                Member.tenant_id == shop.tenant_id, Member.external_id == external_id
            )
        ).scalar_one()


def balance(db: Database, shop: Shop, wallet_id: uuid.UUID) -> tuple[int, int, int]:
    with db.unit_of_work() as session:
        b = session.get(Balance, (shop.tenant_id, wallet_id))
        assert b is not None
        return (b.available, b.pending, b.lifetime)


def postings_count(db: Database, shop: Shop) -> int:
    with db.unit_of_work() as session:
        return len(
            session.execute(select(Posting.id).where(Posting.tenant_id == shop.tenant_id)).all()
        )


def clean(db: Database, shop: Shop) -> None:
    found = violations(db, shop)
    assert found == [], "\n".join(map(str, found))


def merge(client: httpx.Client, target: str, source: str, key: str | None = None) -> httpx.Response:
    return client.post(
        f"/v1/members/{target}/merge",
        json={"from": source},
        headers={"Idempotency-Key": key or f"merge-{uuid.uuid4().hex[:8]}"},
    )


def enrolled(customer: str, *, at: Any, email: str, name: str, **data: Any) -> dict[str, Any]:
    return {
        "id": event_id(),
        "type": "member.enrolled",
        "occurred_at": at.isoformat(),
        "customer": {"external_id": customer, "email": email, "name": name},
        "data": data,
    }


def ada_and_her_history(j: Journey) -> dict[str, Any]:
    """Ada joins with her old email, changes it, orders, gets part of it refunded, a support
    agent writes her name and email into an adjustment's reason, and she spends points on a
    redemption whose description and key carry her customer id. Bob shops beside her."""
    now = j.clock.now()
    events = {
        "joined": enrolled(
            ADA,
            at=now,
            email=ADA_OLD_EMAIL,
            name=ADA_NAME,
            source="account",
            birthday=ADA_BIRTHDAY,
            accepts_marketing=True,
        ),
        "placed": order_placed(ADA, "o-1", "100.00", at=now, email=ADA_OLD_EMAIL),
        "refunded": order_refunded(
            ADA, "o-1", "25.00", at=now, reason=f"{ADA_NAME} returned a cup"
        ),
    }
    events["placed"]["customer"]["name"] = ADA_NAME
    j.send(events["joined"])
    r = j.client.put(f"/v1/members/{ADA}", json={"email": ADA_EMAIL})
    assert r.status_code == 200, r.text
    assert j.send(events["placed"])["points"] == 100
    assert j.send(events["refunded"])["points"] == -25
    r = j.client.post(
        f"/v1/members/{ADA}/adjustments",
        json={"points": 10, "reason": f"Sorry {ADA_NAME} ({ADA_EMAIL})"},
    )
    assert r.status_code == 201, r.text
    r = j.client.post(
        f"/v1/members/{ADA}/redemptions",
        json={"points": 20, "description": f"Gift for {ADA}"},
        headers={"Idempotency-Key": f"redeem-{ADA}"},
    )
    assert r.status_code == 201, r.text
    j.send(order_placed("cust-bob", "o-2", "40.00", at=now, email="bob@example.com"))
    return events


# -- erasure -------------------------------------------------------------------------------


class TestErase:
    def test_removes_the_customers_data_from_every_table_and_keeps_the_ledger_exact(
        self, j: Journey, db: Database, shop: Shop
    ) -> None:
        ada_and_her_history(j)
        ada = member_id(db, shop, ADA)
        before = mentions(db, shop, NEEDLES)
        # The search can fail: Ada is written all over the shop's rows before.
        assert {k.split(".")[0] for k in before} >= {
            "members",
            "events",
            "orders",
            "postings",
            "redemptions",
        }
        points = balance(db, shop, ada)
        bob = j.member("cust-bob")

        r = j.client.delete(f"/v1/members/{ADA}")

        assert r.status_code == 200, r.text
        receipt = r.json()
        assert {k: receipt[k] for k in ("external_id", "members", "events", "orders", "texts")} == {
            "external_id": ADA,
            "members": 1,
            "events": 3,
            "orders": 1,
            "texts": 3,  # the adjustment's and the redemption's reasons; the redemption row
        }
        assert mentions(db, shop, NEEDLES) == {}
        clean(db, shop)
        assert balance(db, shop, ada) == points
        erased = member_row(db, shop, ada)
        assert erased.status == "erased"
        assert erased.external_id.startswith("erased:")
        assert (erased.email, erased.email_key, erased.name, erased.birthday) == (None,) * 4
        assert erased.accepts_marketing is False
        assert erased.orders_count == 1  # the statistics are no one's personal data now
        assert j.member("cust-bob") == bob
        assert bob["email"] == "bob@example.com"
        assert_problem(j.client.get(f"/v1/members/{ADA}"), 404)

    def test_stored_events_keep_their_facts_under_the_anonymous_id(
        self, j: Journey, db: Database, shop: Shop
    ) -> None:
        events = ada_and_her_history(j)
        ada = member_id(db, shop, ADA)
        assert j.client.delete(f"/v1/members/{ADA}").status_code == 200
        anonymous = member_row(db, shop, ada).external_id
        with db.unit_of_work() as session:
            stored = {
                e.external_id: e
                for e in session.execute(
                    select(Event).where(Event.tenant_id == shop.tenant_id)
                ).scalars()
            }
            order = session.execute(
                select(Order).where(Order.tenant_id == shop.tenant_id, Order.order_id == "o-1")
            ).scalar_one()
        placed = stored[events["placed"]["id"]]
        assert placed.payload["customer"] == {"external_id": anonymous}
        assert placed.payload["data"] == {
            "order_id": "o-1",
            "currency": "USD",
            "total": "100.00",
            "subtotal": None,
            "lines": [],
        }
        assert placed.customer_external_id == anonymous
        assert placed.result["member"] == anonymous
        assert placed.body_hash == "erased"
        assert stored[events["refunded"]["id"]].payload["data"] == {
            "order_id": "o-1",
            "amount": "25.00",
            "currency": None,
        }
        assert stored[events["joined"]["id"]].payload["data"] == {"source": "account"}
        assert order.customer_external_id == anonymous
        assert (order.total, order.refunded, order.points_earned) == (10000, 2500, 100)

    def test_a_replay_of_an_erased_event_applies_nothing(
        self, j: Journey, db: Database, shop: Shop
    ) -> None:
        events = ada_and_her_history(j)
        ada = member_id(db, shop, ADA)
        assert j.client.delete(f"/v1/members/{ADA}").status_code == 200
        points, count = balance(db, shop, ada), postings_count(db, shop)

        replays = [
            j.client.post("/v1/events", json=events["placed"]),
            j.client.post("/v1/events", json=events["refunded"]),
            # Other content under the same id: there is no hash left to compare with.
            j.client.post(
                "/v1/events",
                json={**events["placed"], "data": {**events["placed"]["data"], "total": "999.00"}},
            ),
        ]

        for r in replays:
            assert r.status_code == 200, r.text
            assert r.json()["duplicate"] is True
        assert replays[0].json()["points"] == 100
        assert replays[0].json()["member"].startswith("erased:")
        assert balance(db, shop, ada) == points
        assert postings_count(db, shop) == count
        assert mentions(db, shop, NEEDLES) == {}
        assert_problem(j.client.get(f"/v1/members/{ADA}"), 404)
        clean(db, shop)

    def test_a_later_event_naming_the_old_id_enrols_a_fresh_member(
        self, j: Journey, db: Database, shop: Shop
    ) -> None:
        ada_and_her_history(j)
        old = member_id(db, shop, ADA)
        assert j.client.delete(f"/v1/members/{ADA}").status_code == 200

        result = j.send(order_placed(ADA, "o-3", "30.00", at=j.clock.now()))

        assert (result["enrolled"], result["points"], result["member"]) == (True, 30, ADA)
        fresh = j.member(ADA)
        assert (fresh["email"], fresh["name"], fresh["birthday"]) == (None, None, None)
        assert fresh["points"] == held(30, 0, 30)
        assert fresh["stats"]["orders_count"] == 1
        assert member_id(db, shop, ADA) != old
        export = j.client.get(f"/v1/members/{ADA}/export").json()
        assert [e["payload"]["data"]["order_id"] for e in export["events"]] == ["o-3"]
        assert mentions(db, shop, (ADA_EMAIL, ADA_OLD_EMAIL, ADA_NAME, ADA_BIRTHDAY)) == {}
        clean(db, shop)

    def test_a_refund_naming_the_old_id_of_an_erased_order_is_refused(self, j: Journey) -> None:
        ada_and_her_history(j)
        assert j.client.delete(f"/v1/members/{ADA}").status_code == 200
        r = j.client.post("/v1/events", json=order_refunded(ADA, "o-1", "10.00", at=j.clock.now()))
        body = assert_problem(r, 422)
        assert body["errors"][0]["field"] == "customer.external_id"

    def test_erasing_again_or_an_unknown_customer_is_404(self, j: Journey) -> None:
        ada_and_her_history(j)
        assert j.client.delete(f"/v1/members/{ADA}").status_code == 200
        for customer in (ADA, "never-seen"):
            body = assert_problem(j.client.delete(f"/v1/members/{customer}"), 404)
            assert body["errors"][0]["field"] == "external_id"

    def test_a_customer_who_never_was_a_member_is_erased_too(
        self, j: Journey, db: Database, shop: Shop
    ) -> None:
        j.publish(auto_enroll=False)
        guest = order_placed(
            "guest-7", "g-1", "12.00", at=j.clock.now(), email="guest7@example.com"
        )
        assert j.send(guest)["status"] == "not_member"
        assert mentions(db, shop, ("guest-7", "guest7@example.com"))

        r = j.client.delete("/v1/members/guest-7")

        assert r.status_code == 200, r.text
        assert (r.json()["members"], r.json()["events"], r.json()["orders"]) == (0, 1, 1)
        assert mentions(db, shop, ("guest-7", "guest7@example.com")) == {}
        assert j.client.post("/v1/events", json=guest).json()["duplicate"] is True
        assert_problem(j.client.delete("/v1/members/guest-7"), 404)
        clean(db, shop)

    def test_erasing_the_survivor_of_a_merge_erases_its_duplicates(
        self, j: Journey, db: Database, shop: Shop
    ) -> None:
        ada_and_her_history(j)
        dup_email = "ada.second@example.com"
        j.send(order_placed("ada-dup", "o-9", "50.00", at=j.clock.now(), email=dup_email))
        assert merge(j.client, ADA, "ada-dup").status_code == 201

        r = j.client.delete(f"/v1/members/{ADA}")

        assert r.status_code == 200, r.text
        assert r.json()["members"] == 2
        assert mentions(db, shop, (*NEEDLES, "ada-dup", dup_email)) == {}
        assert_problem(j.client.get("/v1/members/ada-dup"), 404)
        clean(db, shop)

    def test_erasing_a_merged_duplicate_erases_only_what_its_own_id_holds(
        self, j: Journey, db: Database, shop: Shop
    ) -> None:
        ada_and_her_history(j)
        dup_email = "ada.second@example.com"
        j.send(order_placed("ada-dup", "o-9", "50.00", at=j.clock.now(), email=dup_email))
        assert merge(j.client, ADA, "ada-dup").status_code == 201
        survivor = j.member(ADA)

        r = j.client.delete("/v1/members/ada-dup")

        assert r.status_code == 200, r.text
        assert (r.json()["members"], r.json()["events"], r.json()["orders"]) == (1, 1, 1)
        assert mentions(db, shop, ("ada-dup", dup_email)) == {}
        after = j.member(ADA)
        assert after["email"] == ADA_EMAIL
        assert (after["points"], after["stats"]) == (survivor["points"], survivor["stats"])
        # The alias is gone with the id: a later event naming it is someone new.
        result = j.send(order_placed("ada-dup", "o-10", "5.00", at=j.clock.now()))
        assert (result["member"], result["enrolled"]) == ("ada-dup", True)
        # The order keeps its member: the survivor's own id still reverses it.
        refund = j.send(order_refunded(ADA, "o-9", "50.00", at=j.clock.now()))
        assert (refund["member"], refund["points"]) == (ADA, -50)
        clean(db, shop)


# -- export --------------------------------------------------------------------------------


class TestExport:
    def test_holds_every_posting_order_lot_event_redemption_and_adjustment(
        self, j: Journey, db: Database, shop: Shop
    ) -> None:
        events = ada_and_her_history(j)
        ada = member_id(db, shop, ADA)

        r = j.client.get(f"/v1/members/{ADA}/export")

        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["format"] == "patron.member-export.v1"
        member = j.member(ADA)
        assert doc["member"] == member
        assert member["email"] == ADA_EMAIL and member["birthday"] == ADA_BIRTHDAY
        assert doc["merged_members"] == [] and doc["merges"] == []
        assert doc["wallets"] == [
            {
                "wallet_id": str(ada),
                "asset": "points",
                "available": member["points"]["available"],
                "pending": member["points"]["pending"],
                "lifetime": member["points"]["lifetime_earned"],
                "debt": 0,
            }
        ]
        with db.unit_of_work() as session:
            stored = session.execute(
                select(Posting.id).where(
                    Posting.tenant_id == shop.tenant_id, Posting.wallet_id == ada
                )
            ).scalars()
            expected = sorted(str(p) for p in stored)
        assert sorted(p["id"] for p in doc["postings"]) == expected
        assert [p["kind"] for p in doc["postings"]] == ["earn", "claw_back", "adjust", "redeem"]
        for p in doc["postings"]:
            assert len(p["entries"]) >= 2 and sum(e["amount"] for e in p["entries"]) == 0
        [order] = doc["orders"]
        assert order | {"placed_at": None} == {
            "order_id": "o-1",
            "customer": ADA,
            "currency": "USD",
            "total": "100.00",
            "subtotal": None,
            "refunded": "25.00",
            "status": "placed",
            "points_earned": 100,
            "points_reversed": 25,
            "placed_at": None,
        }
        assert [(lot["amount"], lot["remaining"]) for lot in doc["lots"]] == [(100, 55), (10, 10)]
        [redemption] = doc["redemptions"]
        assert (redemption["points"], redemption["description"]) == (20, f"Gift for {ADA}")
        [adjustment] = doc["adjustments"]
        assert (adjustment["points"], adjustment["reason"]) == (
            10,
            f"Sorry {ADA_NAME} ({ADA_EMAIL})",
        )
        assert [e["id"] for e in doc["events"]] == [
            events["joined"]["id"],
            events["placed"]["id"],
            events["refunded"]["id"],
        ]
        assert doc["events"][0]["payload"]["customer"]["email"] == ADA_OLD_EMAIL
        assert doc["events"][0]["payload"]["data"]["birthday"] == ADA_BIRTHDAY
        assert "bob" not in json.dumps(doc)

    def test_of_a_survivor_holds_its_duplicates_and_both_wallets(
        self, j: Journey, db: Database, shop: Shop
    ) -> None:
        j.send(order_placed("main", "m-1", "10.00", at=j.clock.now(), email="main@example.com"))
        j.send(order_placed("dup", "d-1", "30.00", at=j.clock.now(), email="dup@example.com"))
        made = merge(j.client, "main", "dup").json()

        doc = j.client.get("/v1/members/main/export").json()

        assert [m["external_id"] for m in doc["merged_members"]] == ["dup"]
        assert doc["merged_members"][0]["email"] == "dup@example.com"
        assert doc["merged_members"][0]["status"] == "merged"
        assert doc["merged_members"][0]["merged_into"] == "main"
        assert {o["order_id"] for o in doc["orders"]} == {"m-1", "d-1"}
        assert len(doc["wallets"]) == 2
        transfers = [p["id"] for p in doc["postings"] if p["kind"] == "transfer"]
        assert sorted(transfers) == sorted(made["transactions"])
        assert {e["customer"] for e in doc["events"]} == {"main", "dup"}
        assert [(m["merged"], m["into"], m["moved"]["available"]) for m in doc["merges"]] == [
            ("dup", "main", 30)
        ]

    def test_an_unknown_member_is_404(self, client: httpx.Client) -> None:
        assert_problem(client.get("/v1/members/nobody/export"), 404)


# -- merges --------------------------------------------------------------------------------


class TestMerge:
    def test_moves_available_and_pending_keeping_each_lots_dates(
        self, j: Journey, db: Database, shop: Shop
    ) -> None:
        j.publish(pending_days=14, expiry_days=365)
        t0 = j.clock.now()
        j.send(order_placed("dup", "d-1", "100.00", at=t0))
        j.clock.advance(days=20)
        t20 = j.clock.now()
        j.send(order_placed("dup", "d-2", "50.00", at=t20))
        j.run_jobs()
        j.send(order_placed("main", "m-1", "10.00", at=t20))
        assert j.points("dup") == held(100, 50, 150)

        r = merge(j.client, "main", "dup")

        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["target"], body["merged"], body["replayed"]) == ("main", "dup", False)
        assert body["moved"] == {"available": 100, "pending": 50, "debt": 0, "lifetime": 150}
        assert body["orders"] == 2 and len(body["transactions"]) == 2
        main = j.member("main")
        assert body["member"] == main
        assert main["points"] == held(100, 60, 160)
        assert main["stats"]["orders_count"] == 3
        assert main["stats"]["total_spent"] == "160.00"
        assert main["stats"]["first_order_at"].startswith(t0.date().isoformat())
        dup = j.member("dup")
        assert (dup["status"], dup["merged_into"]) == ("merged", "main")
        assert dup["points"] == held(0, 0, 0)
        assert dup["stats"]["orders_count"] == 0
        lots = {
            lot["order_id"]: lot
            for lot in j.client.get("/v1/members/main/export").json()["lots"]
            if lot["remaining"] > 0
        }
        assert lots["d-1"]["state"] == "available"
        assert lots["d-1"]["expires_at"].startswith((t0 + timedelta(days=365)).date().isoformat())
        assert lots["d-2"]["state"] == "pending"
        assert lots["d-2"]["vests_at"].startswith((t20 + timedelta(days=14)).date().isoformat())
        clean(db, shop)

        # Pending until the moment the duplicate's points would have vested, not before.
        j.clock.advance(days=13)
        j.run_jobs()
        assert j.points("main") == held(100, 60, 160)
        j.clock.advance(days=2)
        j.run_jobs()
        assert j.points("main") == held(160, 0, 160)
        clean(db, shop)

    def test_a_later_refund_of_the_duplicates_order_takes_back_from_the_survivor(
        self, j: Journey, db: Database, shop: Shop
    ) -> None:
        j.publish(pending_days=14)
        now = j.clock.now()
        j.send(order_placed("dup", "d-1", "100.00", at=now))
        j.send(order_placed("main", "m-1", "20.00", at=now))
        assert merge(j.client, "main", "dup").status_code == 201

        # Naming the duplicate, as the shop's old account does: its pending points go first.
        by_old_id = j.send(order_refunded("dup", "d-1", "50.00", at=now))
        assert (by_old_id["member"], by_old_id["points"]) == ("main", -50)
        [claw] = by_old_id["postings"]
        assert claw["detail"]["from_pending"] == 50
        assert j.points("main") == held(0, 70, 70)
        # Naming the survivor, which the order now belongs to.
        by_new_id = j.send(order_refunded("main", "d-1", "25.00", at=now))
        assert (by_new_id["member"], by_new_id["points"]) == ("main", -25)
        cancelled = j.send(order_cancelled("main", "d-1", at=now))
        assert cancelled["points"] == -25
        assert j.points("main") == held(0, 20, 20)
        assert j.member("main")["stats"]["orders_count"] == 1
        assert j.points("dup") == held(0, 0, 0)
        # Someone else still may not.
        r = j.client.post("/v1/events", json=order_refunded("eve", "m-1", "1.00", at=now))
        assert assert_problem(r, 422)["errors"][0]["field"] == "customer.external_id"
        clean(db, shop)

    def test_later_events_naming_the_duplicate_reach_the_survivor(
        self, j: Journey, db: Database, shop: Shop
    ) -> None:
        j.send(order_placed("dup", "d-1", "10.00", at=j.clock.now()))
        j.send(order_placed("main", "m-1", "10.00", at=j.clock.now()))
        assert merge(j.client, "main", "dup").status_code == 201
        members = len(j.client.get("/v1/members").json()["items"])

        result = j.send(
            order_placed("dup", "d-2", "30.00", at=j.clock.now(), email="dup@example.com")
        )
        assert (result["member"], result["enrolled"], result["points"]) == ("main", False, 30)
        batch = j.client.post(
            "/v1/events/batch",
            json={
                "events": [
                    order_placed("dup", "d-3", "5.00", at=j.clock.now()),
                    order_placed("main", "m-2", "7.00", at=j.clock.now()),
                ]
            },
        )
        assert batch.status_code == 200, batch.text
        assert [x["member"] for x in batch.json()["results"]] == ["main", "main"]

        assert j.points("main") == held(62, 0, 62)
        assert j.points("dup") == held(0, 0, 0)
        assert len(j.client.get("/v1/members").json()["items"]) == members
        assert j.member("main")["stats"]["orders_count"] == 5
        clean(db, shop)

    def test_a_debt_moves_and_the_survivor_pays_it(
        self, j: Journey, db: Database, shop: Shop
    ) -> None:
        j.publish(negative_balance="debt")
        now = j.clock.now()
        j.send(order_placed("dup", "d-1", "100.00", at=now))
        assert j.redeem("dup", 90, "spend-1").status_code == 201
        j.send(order_refunded("dup", "d-1", "100.00", at=now))
        assert j.points("dup") == held(0, 0, 0, debt=90)
        j.send(order_placed("main", "m-1", "50.00", at=now))

        r = merge(j.client, "main", "dup")

        assert r.status_code == 201, r.text
        assert r.json()["moved"] == {"available": 0, "pending": 0, "debt": 90, "lifetime": 0}
        assert j.points("main") == held(0, 0, 50, debt=40)
        assert j.points("dup") == held(0, 0, 0)
        clean(db, shop)
        paying = j.send(order_placed("main", "m-2", "60.00", at=now))
        assert paying["postings"][0]["detail"]["debt_paid"] == 40
        assert j.points("main") == held(20, 0, 110)
        clean(db, shop)

    def test_points_moved_into_a_survivor_in_debt_pay_its_debt_first(
        self, j: Journey, db: Database, shop: Shop
    ) -> None:
        j.publish(negative_balance="debt")
        now = j.clock.now()
        j.send(order_placed("main", "m-1", "30.00", at=now))
        assert j.redeem("main", 30, "spend-1").status_code == 201
        j.send(order_refunded("main", "m-1", "30.00", at=now))
        j.send(order_placed("dup", "d-1", "100.00", at=now))

        r = merge(j.client, "main", "dup")

        assert r.status_code == 201, r.text
        assert j.points("main") == held(70, 0, 100)
        clean(db, shop)

    def test_the_same_key_merges_once(self, j: Journey, db: Database, shop: Shop) -> None:
        j.send(order_placed("dup", "d-1", "10.00", at=j.clock.now()))
        j.send(order_placed("main", "m-1", "10.00", at=j.clock.now()))
        first = merge(j.client, "main", "dup", key="merge-key-1")
        assert first.status_code == 201, first.text
        count = postings_count(db, shop)

        again = merge(j.client, "main", "dup", key="merge-key-1")

        assert again.status_code == 200, again.text
        assert again.json() == {**first.json(), "replayed": True}
        assert postings_count(db, shop) == count
        assert j.points("main") == held(20, 0, 20)
        other = merge(j.client, "main", "someone-else", key="merge-key-1")
        assert assert_problem(other, 409)["errors"][0]["field"] == "Idempotency-Key"
        clean(db, shop)

    def test_merging_an_already_merged_duplicate_is_409_naming_it(self, j: Journey) -> None:
        for customer in ("dup", "main", "third"):
            j.client.put(f"/v1/members/{customer}", json={})
        assert merge(j.client, "main", "dup").status_code == 201

        again = assert_problem(merge(j.client, "third", "dup"), 409)
        assert again["type"].endswith("/member-merged")
        assert "'dup'" in again["detail"] and "'main'" in again["detail"]
        assert again["errors"][0]["field"] == "from"
        into_merged = assert_problem(merge(j.client, "dup", "third"), 409)
        assert into_merged["errors"][0]["field"] == "external_id"

    def test_merging_a_member_into_itself_is_422(self, j: Journey) -> None:
        j.client.put("/v1/members/main", json={})
        body = assert_problem(merge(j.client, "main", "main"), 422)
        assert body["errors"][0]["field"] == "from"

    def test_unknown_members_are_404_naming_which(self, j: Journey) -> None:
        j.client.put("/v1/members/main", json={})
        assert assert_problem(merge(j.client, "main", "ghost"), 404)["errors"][0]["field"] == "from"
        missing = assert_problem(merge(j.client, "ghost", "main"), 404)
        assert missing["errors"][0]["field"] == "external_id"

    def test_a_bad_body_or_no_key_is_refused(self, j: Journey) -> None:
        j.client.put("/v1/members/main", json={})
        for body in ({}, {"from": ""}, {"from": "a", "into": "b"}, {"from": 7}):
            r = j.client.post("/v1/members/main/merge", json=body, headers={"Idempotency-Key": "k"})
            assert_problem(r, 422)
        r = j.client.post("/v1/members/main/merge", json={"from": "x"})
        assert assert_problem(r, 422)["errors"][0]["field"] == "Idempotency-Key"

    def test_a_merged_member_changes_no_more(self, j: Journey) -> None:
        j.send(order_placed("dup", "d-1", "10.00", at=j.clock.now()))
        j.client.put("/v1/members/main", json={})
        assert merge(j.client, "main", "dup").status_code == 201
        refused = [
            j.client.post("/v1/members/dup/adjustments", json={"points": 5, "reason": "x"}),
            j.redeem("dup", 1, "r-1"),
            j.client.put("/v1/members/dup", json={"status": "active"}),
        ]
        for r in refused:
            assert assert_problem(r, 409)["type"].endswith("/member-merged")
        assert j.member("dup")["status"] == "merged"

    def test_a_chain_of_merges_routes_to_the_last_survivor(
        self, j: Journey, db: Database, shop: Shop
    ) -> None:
        for customer, order in (("a", "o-a"), ("b", "o-b"), ("c", "o-c")):
            j.send(order_placed(customer, order, "10.00", at=j.clock.now()))
        assert merge(j.client, "b", "a").status_code == 201
        assert merge(j.client, "c", "b").status_code == 201

        assert j.member("a")["merged_into"] == "c"
        result = j.send(order_placed("a", "o-a2", "5.00", at=j.clock.now()))
        assert result["member"] == "c"
        assert j.points("c") == held(35, 0, 35)
        refund = j.send(order_refunded("a", "o-a", "10.00", at=j.clock.now()))
        assert (refund["member"], refund["points"]) == ("c", -10)
        clean(db, shop)
