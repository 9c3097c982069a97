"""POST /v1/events and /v1/events/batch over real HTTP."""

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from patron.db.session import Database
from patron.events.models import Event
from patron.kit.clock import FrozenClock
from patron.ledger.models import Posting
from patron.orders.models import Order
from tests.factories import (
    Shop,
    create_shop,
    member_enrolled,
    order_cancelled,
    order_placed,
    order_refunded,
    violations,
)


def count(db: Database, shop: Shop, model: Any) -> int:
    with db.unit_of_work() as s:
        return int(
            s.execute(
                select(func.count()).select_from(model).where(model.tenant_id == shop.tenant_id)
            ).scalar_one()
        )


def member(client: httpx.Client, external_id: str) -> dict[str, Any]:
    r = client.get(f"/v1/members/{external_id}")
    assert r.status_code == 200, r.text
    return r.json()


def problem_fields(r: httpx.Response) -> list[str]:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return [e["field"] for e in r.json().get("errors", [])]


class TestOrderPlaced:
    def test_order_earns_rate_times_total_rounded_down(
        self, client: httpx.Client, clock: FrozenClock, db: Database, shop: Shop
    ) -> None:
        r = client.post("/v1/events", json=order_placed("c1", "o1", "42.99", at=clock.now()))
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["status"] == "applied" and body["points"] == 42 and body["enrolled"]
        [posting] = body["postings"]
        assert posting["kind"] == "earn"
        assert posting["program_version"] == shop.program_version
        assert posting["detail"]["rate"] == "1" and posting["detail"]["base"] == "42.99"
        assert {e["account"]: e["amount"] for e in posting["entries"]} == {
            "available": 42,
            "issued": -42,
        }
        assert "rounded down" in body["message"]
        assert member(client, "c1")["points"] == {
            "available": 42,
            "pending": 0,
            "lifetime_earned": 42,
            "debt": 0,
        }
        assert violations(db, shop) == []

    def test_rate_and_rounding_follow_the_program(
        self, base_url: str, clock: FrozenClock, db: Database
    ) -> None:
        shop = create_shop(
            db, now=clock.now(), program={"points_per_unit": "2.5", "rounding": "half_up"}
        )
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {shop.key}"}) as c:
            r = c.post("/v1/events", json=order_placed("c1", "o1", "10.30", at=clock.now()))
        assert r.json()["points"] == 26  # 25.75 rounds half up

    def test_points_are_pending_inside_the_return_window(
        self, base_url: str, clock: FrozenClock, db: Database
    ) -> None:
        shop = create_shop(db, now=clock.now(), program={"pending_days": 30})
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {shop.key}"}) as c:
            r = c.post("/v1/events", json=order_placed("c1", "o1", "100", at=clock.now()))
            assert r.json()["postings"][0]["entries"][0] == {"account": "pending", "amount": 100}
            assert "pending until 2026-03-31" in r.json()["message"]
            assert member(c, "c1")["points"]["pending"] == 100
            assert member(c, "c1")["points"]["available"] == 0
        assert violations(db, shop) == []

    def test_an_old_order_past_its_window_is_available_at_once(
        self, base_url: str, clock: FrozenClock, db: Database
    ) -> None:
        shop = create_shop(db, now=clock.now(), program={"pending_days": 30})
        old = clock.now() - timedelta(days=45)
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {shop.key}"}) as c:
            c.post("/v1/events", json=order_placed("c1", "o1", "100", at=old))
            assert member(c, "c1")["points"]["available"] == 100

    def test_order_updates_member_stats(self, client: httpx.Client, clock: FrozenClock) -> None:
        client.post("/v1/events", json=order_placed("c1", "o1", "10.00", at=clock.now()))
        later = clock.now() + timedelta(minutes=5)
        clock.advance(minutes=10)
        client.post("/v1/events", json=order_placed("c1", "o2", "5.50", at=later))
        stats = member(client, "c1")["stats"]
        assert stats["orders_count"] == 2 and stats["total_spent"] == "15.50"
        assert stats["currency"] == "USD"

    def test_the_same_order_id_from_another_event_is_a_conflict(
        self, client: httpx.Client, clock: FrozenClock, db: Database, shop: Shop
    ) -> None:
        client.post("/v1/events", json=order_placed("c1", "o1", "10", at=clock.now()))
        r = client.post("/v1/events", json=order_placed("c1", "o1", "10", at=clock.now()))
        assert r.status_code == 409
        assert problem_fields(r) == ["data.order_id"]
        assert count(db, shop, Event) == 1


class TestNonMembers:
    def test_auto_enrolment_enrols_on_first_order(
        self, client: httpx.Client, clock: FrozenClock
    ) -> None:
        event = order_placed("c9", "o1", "5", at=clock.now(), email="Ada@Example.com")
        assert client.post("/v1/events", json=event).json()["enrolled"] is True
        m = member(client, "c9")
        assert m["enrolled_via"] == "checkout" and m["email"] == "Ada@example.com"

    def test_without_auto_enrolment_the_order_is_stored_and_earns_nothing(
        self, base_url: str, clock: FrozenClock, db: Database
    ) -> None:
        shop = create_shop(db, now=clock.now(), program={"auto_enroll": False})
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {shop.key}"}) as c:
            r = c.post("/v1/events", json=order_placed("c1", "o1", "50", at=clock.now()))
            assert r.status_code == 201
            assert r.json()["status"] == "not_member" and r.json()["points"] == 0
            assert c.get("/v1/members/c1").status_code == 404
            # Its refund is accepted too, and awards or takes nothing.
            r = c.post("/v1/events", json=order_refunded("c1", "o1", "10", at=clock.now()))
            assert r.status_code == 201 and r.json()["points"] == 0
            # Once enrolled, the next order earns.
            c.post("/v1/events", json=member_enrolled("c1", at=clock.now()))
            r = c.post("/v1/events", json=order_placed("c1", "o2", "20", at=clock.now()))
            assert r.json()["points"] == 20
        assert count(db, shop, Order) == 2
        assert violations(db, shop) == []

    def test_enrolment_event_creates_the_member_once(
        self, client: httpx.Client, clock: FrozenClock
    ) -> None:
        r = client.post("/v1/events", json=member_enrolled("c1", at=clock.now(), source="account"))
        assert r.json()["status"] == "applied" and r.json()["enrolled"] is True
        r = client.post("/v1/events", json=member_enrolled("c1", at=clock.now()))
        assert r.json()["status"] == "no_effect"
        assert member(client, "c1")["enrolled_via"] == "account"


class TestIdempotency:
    def test_the_same_event_twice_returns_the_first_result_and_applies_once(
        self, client: httpx.Client, clock: FrozenClock, db: Database, shop: Shop
    ) -> None:
        event = order_placed("c1", "o1", "30", at=clock.now())
        first = client.post("/v1/events", json=event)
        clock.advance(hours=1)
        again = client.post("/v1/events", json=event)
        assert first.status_code == 201 and again.status_code == 200
        assert again.json()["duplicate"] is True
        assert again.json()["postings"] == first.json()["postings"]
        assert member(client, "c1")["points"]["available"] == 30
        assert count(db, shop, Posting) == 1

    def test_the_same_id_with_another_body_is_a_conflict(
        self, client: httpx.Client, clock: FrozenClock, db: Database, shop: Shop
    ) -> None:
        client.post("/v1/events", json=order_placed("c1", "o1", "30", at=clock.now(), id="e1"))
        r = client.post("/v1/events", json=order_placed("c1", "o1", "31", at=clock.now(), id="e1"))
        assert r.status_code == 409 and problem_fields(r) == ["id"]
        assert member(client, "c1")["points"]["available"] == 30

    def test_event_ids_are_per_shop(
        self, client: httpx.Client, base_url: str, clock: FrozenClock, db: Database
    ) -> None:
        client.post("/v1/events", json=order_placed("c1", "o1", "30", at=clock.now(), id="e1"))
        other = create_shop(db, now=clock.now())
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {other.key}"}) as c:
            r = c.post("/v1/events", json=order_placed("c1", "o1", "30", at=clock.now(), id="e1"))
            assert r.status_code == 201 and r.json()["duplicate"] is False


class TestRefundsAndCancellations:
    def test_partial_refunds_claw_back_the_refunded_share(
        self, client: httpx.Client, clock: FrozenClock, db: Database, shop: Shop
    ) -> None:
        client.post("/v1/events", json=order_placed("c1", "o1", "100.00", at=clock.now()))
        r = client.post("/v1/events", json=order_refunded("c1", "o1", "33.33", at=clock.now()))
        assert r.json()["points"] == -33
        r = client.post("/v1/events", json=order_refunded("c1", "o1", "33.33", at=clock.now()))
        assert r.json()["points"] == -33
        r = client.post("/v1/events", json=order_refunded("c1", "o1", "33.34", at=clock.now()))
        assert r.json()["points"] == -34  # the full refund takes back exactly what was earned
        m = member(client, "c1")
        assert m["points"]["available"] == 0 and m["points"]["lifetime_earned"] == 0
        assert m["stats"]["total_spent"] == "0.00"
        assert violations(db, shop) == []

    def test_a_refund_beyond_the_order_total_is_refused_and_changes_nothing(
        self, client: httpx.Client, clock: FrozenClock, db: Database, shop: Shop
    ) -> None:
        client.post("/v1/events", json=order_placed("c1", "o1", "10.00", at=clock.now()))
        client.post("/v1/events", json=order_refunded("c1", "o1", "6.00", at=clock.now()))
        r = client.post("/v1/events", json=order_refunded("c1", "o1", "4.01", at=clock.now()))
        assert r.status_code == 422 and problem_fields(r) == ["data.amount"]
        assert member(client, "c1")["points"]["available"] == 4
        assert count(db, shop, Event) == 2

    def test_a_refund_of_an_unknown_order_is_refused(
        self, client: httpx.Client, clock: FrozenClock, db: Database, shop: Shop
    ) -> None:
        r = client.post("/v1/events", json=order_refunded("c1", "nope", "1", at=clock.now()))
        assert r.status_code == 422 and problem_fields(r) == ["data.order_id"]
        assert count(db, shop, Event) == 0

    def test_a_refund_takes_pending_points_first(
        self, base_url: str, clock: FrozenClock, db: Database
    ) -> None:
        shop = create_shop(db, now=clock.now(), program={"pending_days": 14})
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {shop.key}"}) as c:
            c.post(
                "/v1/events",
                json=order_placed("c1", "old", "50", at=clock.now() - timedelta(days=20)),
            )
            c.post("/v1/events", json=order_placed("c1", "new", "40", at=clock.now()))
            r = c.post("/v1/events", json=order_refunded("c1", "new", "40", at=clock.now()))
            assert r.json()["postings"][0]["entries"][0] == {"account": "pending", "amount": -40}
            assert member(c, "c1")["points"] | {} == {
                "available": 50,
                "pending": 0,
                "lifetime_earned": 50,
                "debt": 0,
            }
        assert violations(db, shop) == []

    def test_cancel_reverses_what_the_order_still_holds_once(
        self, client: httpx.Client, clock: FrozenClock, db: Database, shop: Shop
    ) -> None:
        client.post("/v1/events", json=order_placed("c1", "o1", "80", at=clock.now()))
        client.post("/v1/events", json=order_placed("c1", "o2", "20", at=clock.now()))
        client.post("/v1/events", json=order_refunded("c1", "o1", "30", at=clock.now()))
        r = client.post("/v1/events", json=order_cancelled("c1", "o1", at=clock.now()))
        assert r.json()["points"] == -50
        r = client.post("/v1/events", json=order_cancelled("c1", "o1", at=clock.now()))
        assert r.json()["status"] == "no_effect" and r.json()["points"] == 0
        m = member(client, "c1")
        assert m["points"]["available"] == 20
        assert m["stats"]["orders_count"] == 1 and m["stats"]["total_spent"] == "20.00"
        assert violations(db, shop) == []

    def test_forbid_policy_writes_off_what_was_already_spent(
        self, client: httpx.Client, clock: FrozenClock, db: Database, shop: Shop
    ) -> None:
        client.post("/v1/events", json=order_placed("c1", "o1", "100", at=clock.now()))
        r = client.post(
            "/v1/members/c1/redemptions",
            json={"points": 70, "description": "x"},
            headers={"Idempotency-Key": "k1"},
        )
        assert r.status_code == 201, r.text
        r = client.post("/v1/events", json=order_cancelled("c1", "o1", at=clock.now()))
        kinds = {p["kind"]: p for p in r.json()["postings"]}
        assert kinds["claw_back"]["points"] == -30
        assert kinds["write_off"]["detail"]["points"] == 70
        assert member(client, "c1")["points"]["available"] == 0
        assert violations(db, shop) == []

    def test_debt_policy_lets_the_balance_go_below_zero_and_repays_it_first(
        self, base_url: str, clock: FrozenClock, db: Database
    ) -> None:
        shop = create_shop(db, now=clock.now(), program={"negative_balance": "debt"})
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {shop.key}"}) as c:
            c.post("/v1/events", json=order_placed("c1", "o1", "100", at=clock.now()))
            c.post(
                "/v1/members/c1/redemptions",
                json={"points": 70, "description": "x"},
                headers={"Idempotency-Key": "k1"},
            )
            c.post("/v1/events", json=order_cancelled("c1", "o1", at=clock.now()))
            assert member(c, "c1")["points"]["debt"] == 70
            r = c.post("/v1/events", json=order_placed("c1", "o2", "50", at=clock.now()))
            assert r.json()["postings"][0]["detail"]["debt_paid"] == 50
            assert member(c, "c1")["points"]["debt"] == 20
            c.post("/v1/events", json=order_placed("c1", "o3", "25", at=clock.now()))
            assert member(c, "c1")["points"] | {} == {
                "available": 5,
                "pending": 0,
                "lifetime_earned": 75,
                "debt": 0,
            }
        assert violations(db, shop) == []


class TestBadInput:
    @pytest.mark.parametrize(
        ("change", "field"),
        [
            (lambda e: e.update(type="order.shipped"), "type"),
            (lambda e: e.pop("type"), "type"),
            (lambda e: e.pop("id"), "id"),
            (lambda e: e.update(occurred_at="yesterday"), "occurred_at"),
            (lambda e: e.update(occurred_at="2026-03-01T12:00:00"), "occurred_at"),
            (lambda e: e["data"].update(total="-5.00"), "data.total"),
            (lambda e: e["data"].update(total="abc"), "data.total"),
            (lambda e: e["data"].update(total=19.99), "data.total"),
            (lambda e: e["data"].update(total="1.999"), "data.total"),
            (lambda e: e["data"].update(currency="EUR"), "data.currency"),
            (lambda e: e["data"].update(currency="XYZ"), "data.currency"),
            (lambda e: e["data"].pop("order_id"), "data.order_id"),
            (lambda e: e["customer"].update(email="not-an-email"), "customer.email"),
            (lambda e: e["customer"].pop("external_id"), "customer.external_id"),
            (
                lambda e: e["data"].update(lines=[{"sku": "a", "quantity": 0, "unit_price": "1"}]),
                "data.lines.0.quantity",
            ),
            (lambda e: e.update(surprise=1), "surprise"),
        ],
    )
    def test_bad_events_get_a_problem_naming_the_field_and_store_nothing(
        self,
        client: httpx.Client,
        clock: FrozenClock,
        db: Database,
        shop: Shop,
        change: Any,
        field: str,
    ) -> None:
        event = order_placed("c1", "o1", "10.00", at=clock.now())
        change(event)
        r = client.post("/v1/events", json=event)
        assert r.status_code == 422, r.text
        assert field in problem_fields(r)
        assert r.json()["status"] == 422 and r.json()["detail"]
        assert count(db, shop, Event) == 0 and count(db, shop, Order) == 0

    def test_malformed_json_is_a_400_problem(self, client: httpx.Client) -> None:
        r = client.post(
            "/v1/events", content=b'{"id": "x", ', headers={"content-type": "application/json"}
        )
        assert r.status_code == 400
        assert r.json()["title"] == "Malformed JSON"

    def test_a_future_event_is_refused(self, client: httpx.Client, clock: FrozenClock) -> None:
        r = client.post(
            "/v1/events", json=order_placed("c1", "o1", "1", at=clock.now() + timedelta(days=2))
        )
        assert r.status_code == 422 and problem_fields(r) == ["occurred_at"]

    def test_events_need_a_published_program(
        self, base_url: str, clock: FrozenClock, db: Database
    ) -> None:
        shop = create_shop(db, now=clock.now(), publish=False)
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {shop.key}"}) as c:
            r = c.post("/v1/events", json=order_placed("c1", "o1", "1", at=clock.now()))
        assert r.status_code == 409 and "program" in r.json()["detail"]


class TestBatch:
    def test_a_batch_applies_in_order_and_answers_in_order(
        self, client: httpx.Client, clock: FrozenClock, db: Database, shop: Shop
    ) -> None:
        now = clock.now()
        events = [
            order_placed("c1", "o1", "10", at=now),
            order_placed("c2", "o2", "20", at=now),
            order_refunded("c1", "o1", "5", at=now),
            order_placed("c1", "o3", "7", at=now),
        ]
        r = client.post("/v1/events/batch", json={"events": events})
        assert r.status_code == 200, r.text
        assert [x["points"] for x in r.json()["results"]] == [10, 20, -5, 7]
        assert member(client, "c1")["points"]["available"] == 12
        assert violations(db, shop) == []

    def test_one_bad_event_rejects_the_whole_batch(
        self, client: httpx.Client, clock: FrozenClock, db: Database, shop: Shop
    ) -> None:
        now = clock.now()
        events = [
            order_placed("c1", "o1", "10", at=now),
            order_placed("c2", "o2", "20", at=now),
            order_refunded("c1", "missing", "5", at=now),
        ]
        r = client.post("/v1/events/batch", json={"events": events})
        assert r.status_code == 422 and problem_fields(r) == ["events.2.data.order_id"]
        assert count(db, shop, Event) == 0 and client.get("/v1/members/c1").status_code == 404

    def test_schema_errors_name_the_event_index(
        self, client: httpx.Client, clock: FrozenClock
    ) -> None:
        now = clock.now()
        bad = order_placed("c2", "o2", "20", at=now)
        bad["data"]["total"] = "twenty"
        r = client.post(
            "/v1/events/batch", json={"events": [order_placed("c1", "o1", "1", at=now), bad]}
        )
        assert r.status_code == 422 and "events.1.data.total" in problem_fields(r)

    def test_duplicates_inside_a_batch_and_across_batches_apply_once(
        self, client: httpx.Client, clock: FrozenClock, db: Database, shop: Shop
    ) -> None:
        e1 = order_placed("c1", "o1", "10", at=clock.now())
        r = client.post("/v1/events/batch", json={"events": [e1, e1]})
        assert [x["duplicate"] for x in r.json()["results"]] == [False, True]
        e2 = order_placed("c1", "o2", "5", at=clock.now())
        r = client.post("/v1/events/batch", json={"events": [e2, e1]})
        assert [x["duplicate"] for x in r.json()["results"]] == [False, True]
        assert member(client, "c1")["points"]["available"] == 15
        assert count(db, shop, Posting) == 2

    def test_a_batch_over_1000_events_is_refused(
        self, client: httpx.Client, clock: FrozenClock
    ) -> None:
        events = [order_placed("c1", f"o{i}", "1", at=clock.now()) for i in range(1001)]
        r = client.post("/v1/events/batch", json={"events": events})
        assert r.status_code == 422 and "events" in problem_fields(r)

    def test_an_empty_batch_is_refused(self, client: httpx.Client) -> None:
        r = client.post("/v1/events/batch", json={"events": []})
        assert r.status_code == 422


class TestReadingEvents:
    def test_an_event_result_can_be_read_back_by_its_id(
        self, client: httpx.Client, clock: FrozenClock
    ) -> None:
        sent = client.post(
            "/v1/events", json=order_placed("c1", "o1", "12", at=clock.now(), id="evt-read-1")
        ).json()
        r = client.get("/v1/events/evt-read-1")
        assert r.status_code == 200 and r.json() == sent

    def test_an_unknown_event_is_404(self, client: httpx.Client) -> None:
        r = client.get("/v1/events/nope")
        assert r.status_code == 404 and r.json()["title"] == "Event not found"
