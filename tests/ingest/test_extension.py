"""Extending ingestion without touching the pipeline: a NEW event type and a SECOND handler of
an existing one, registered by this module only for the duration of a `with registry.added`
block, run through the real pipeline on the real database.

This is the promise of the registry (patron/ingest/registry.py): a domain takes part in
ingestion with a schema and handlers, and nothing in src/ is edited for it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import httpx
import pytest
from pydantic import Field, ValidationError
from sqlalchemy import func, select

import patron.handlers  # noqa: F401  (registers the built-in handlers)
from patron.db.session import Database
from patron.events.schemas import EventBase, Id, Strict
from patron.ingest.batch import Batch, Item, Outcome, Status
from patron.ingest.books import BOOKS
from patron.ingest.pipeline import pipeline
from patron.ingest.registry import Handler, registry
from patron.kit.clock import FrozenClock
from patron.kit.money import to_minor
from patron.ledger import engine as ledger
from patron.ledger.models import Posting
from patron.members.handlers import MEMBERS, customer
from patron.orders.schemas import OrderPlaced
from patron.programs.service import programs
from tests.factories import Shop, event_id, order_placed, violations

REVIEW_POINTS = 25
BONUS_POINTS = 10
BONUS_FROM = 5000  # minor units: orders of 50.00 and more


class ReviewData(Strict):
    product_id: Id
    stars: int = Field(ge=1, le=5)


class ReviewWritten(EventBase):
    """A new event type, unknown to src/: a customer reviewed a product."""

    type: Literal["poll.answered"]
    data: ReviewData


def review_written(
    customer_id: str, product_id: str, *, at: datetime, stars: int = 5, id: str | None = None
) -> dict[str, Any]:
    return {
        "id": id or event_id(),
        "type": "poll.answered",
        "occurred_at": at.isoformat(),
        "customer": {"external_id": customer_id},
        "data": {"product_id": product_id, "stars": stars},
    }


def _reviewer_wallet(batch: Batch, item: Item) -> Iterable[uuid.UUID]:
    """The reviewer's points wallet, once the members part has locked the reviewer."""
    state = batch.part(MEMBERS).states.get(item.event.customer.external_id)
    return [state.book.wallet_id] if state else []


@dataclass
class Extension:
    """The two handlers this module adds, and what each was applied to (event ids)."""

    reviews: list[str] = field(default_factory=list)
    bonuses: list[str] = field(default_factory=list)

    def review(self, batch: Batch, item: Item) -> Outcome:
        event = item.event
        assert isinstance(event, ReviewWritten)
        self.reviews.append(event.id)
        who = event.customer.external_id
        member = batch.part(MEMBERS).visible(batch, who)
        if member is None:
            return Outcome(Status.NOT_MEMBER, f"{who} is not a member: no points for reviews")
        posting = ledger.earn(
            member.book,
            REVIEW_POINTS,
            now=batch.now,
            earned_at=event.occurred_at,
            vests_at=None,
            expires_at=None,
            reason=f"Review of {event.data.product_id}",
            terms=batch.terms,
            event_id=item.row_id,
            detail={"rule": "review", "stars": event.data.stars},
        )
        batch.part(BOOKS).post(member.book, posting)
        return Outcome(
            Status.APPLIED,
            f"{REVIEW_POINTS} points for reviewing {event.data.product_id}",
            member=who,
            postings=[posting],
        )

    def bonus(self, batch: Batch, item: Item) -> Outcome | None:
        event = item.event
        assert isinstance(event, OrderPlaced)
        self.bonuses.append(event.id)
        member = batch.part(MEMBERS).visible(batch, event.customer.external_id)
        if member is None or member.status != "active":
            return None  # nothing to say: the order handler said it
        if to_minor(event.data.total, event.data.currency) < BONUS_FROM:
            return Outcome(Status.NO_EFFECT, "no basket bonus under 50.00")
        posting = ledger.earn(
            member.book,
            BONUS_POINTS,
            now=batch.now,
            earned_at=event.occurred_at,
            vests_at=None,
            expires_at=None,
            reason="Basket bonus",
            terms=batch.terms,
            event_id=item.row_id,
            detail={"rule": "basket_bonus"},
        )
        batch.part(BOOKS).post(member.book, posting)
        return Outcome(
            Status.APPLIED,
            f"{BONUS_POINTS} bonus points for a basket of 50.00 or more",
            member=member.external_id,
            postings=[posting],
        )

    def handlers(self) -> tuple[Handler, Handler]:
        """The review handler reads the reviewer (no enrolment) and her wallet; the bonus
        handler reads the order's customer, whom the built-in handler may enrol."""
        return (
            Handler(
                "poll.answered",
                apply=self.review,
                needs={MEMBERS: customer, BOOKS: _reviewer_wallet},
                schema=ReviewWritten,
            ),
            Handler("order.placed", apply=self.bonus, needs={MEMBERS: customer}),
        )


def snapshot() -> dict[str, list[Handler]]:
    return {t: list(registry.handlers(t)) for t in registry.event_types()}


@pytest.fixture
def extension() -> Iterator[Extension]:
    """The extension registered for the test, and the registry checked restored after."""
    before = snapshot()
    ext = Extension()
    with registry.added(*ext.handlers()):
        yield ext
    assert snapshot() == before


def ingest(
    db: Database, shop: Shop, events: list[dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    """Validate with the live registry and ingest in one unit of work, as the API does."""
    with db.unit_of_work() as session:
        program = programs.get(session, tenant_id=shop.tenant_id, version=shop.program_version)
        return pipeline.ingest(
            session,
            tenant_id=shop.tenant_id,
            program=program,
            events=[registry.adapter().validate_python(e) for e in events],
            now=now,
        )


def points(client: httpx.Client, external_id: str) -> dict[str, int]:
    r = client.get(f"/v1/members/{external_id}")
    assert r.status_code == 200, r.text
    found: dict[str, int] = r.json()["points"]
    return found


def count_postings(db: Database, shop: Shop) -> int:
    with db.unit_of_work() as session:
        return int(
            session.execute(
                select(func.count()).select_from(Posting).where(Posting.tenant_id == shop.tenant_id)
            ).scalar_one()
        )


def mixed_batch(now: datetime) -> list[dict[str, Any]]:
    """A review before its author is a member, the order that enrols her (with a bonus),
    a review after it, a small order of another customer, and the big order sent twice."""
    big = order_placed("ada", "o-1", "80.00", at=now)
    return [
        review_written("ada", "mug", at=now),
        big,
        review_written("ada", "beans", at=now, stars=4),
        order_placed("bob", "o-2", "20.00", at=now),
        big,
    ]


class TestBothHandlersApply:
    def test_a_batch_mixing_the_new_type_and_orders_runs_every_handler(
        self,
        extension: Extension,
        db: Database,
        shop: Shop,
        clock: FrozenClock,
        client: httpx.Client,
    ) -> None:
        events = mixed_batch(clock.now())
        results = ingest(db, shop, events, clock.now())

        assert [r["type"] for r in results] == [e["type"] for e in events]
        assert [r["status"] for r in results] == [
            "not_member",
            "applied",
            "applied",
            "applied",
            "applied",
        ]
        assert [r["points"] for r in results] == [0, 80 + 10, 25, 20, 90]
        assert [r["duplicate"] for r in results] == [False, False, False, False, True]
        assert results[1]["enrolled"] is True and results[1]["member"] == "ada"

        order_message, bonus_message = results[1]["message"].split("; ")
        assert order_message.startswith("80 points for order o-1")
        assert bonus_message == "10 bonus points for a basket of 50.00 or more"
        assert [(p["kind"], p["reason"]) for p in results[1]["postings"]] == [
            ("earn", "Order o-1"),
            ("earn", "Basket bonus"),
        ]
        assert results[2]["message"] == "25 points for reviewing beans"
        assert results[2]["postings"][0]["detail"] == {
            "rule": "review",
            "stars": 4,
            "account": "available",
        }
        assert results[3]["message"].endswith("; no basket bonus under 50.00")
        assert results[0]["message"] == "ada is not a member: no points for reviews"

        # The duplicate of the big order was applied once, by both handlers.
        assert extension.bonuses == [events[1]["id"], events[3]["id"]]
        assert extension.reviews == [events[0]["id"], events[2]["id"]]

        assert points(client, "ada") == {
            "available": 80 + 10 + 25,
            "pending": 0,
            "lifetime_earned": 115,
            "debt": 0,
        }
        assert points(client, "bob")["available"] == 20
        history = client.get("/v1/members/ada/transactions").json()["items"]
        assert sorted(row["reason"] for row in history) == [
            "Basket bonus",
            "Order o-1",
            "Review of beans",
        ]
        assert violations(db, shop) == []

    def test_a_handler_that_returns_nothing_adds_nothing_to_the_result(
        self, extension: Extension, db: Database, shop: Shop, clock: FrozenClock
    ) -> None:
        # Without auto-enrolment a new customer's order is a non-member's: the bonus handler
        # runs and says nothing (None), so the order handler's outcome is the whole result.
        with db.unit_of_work() as session:
            program = programs.get(session, tenant_id=shop.tenant_id, version=shop.program_version)
        closed = program.model_copy(update={"auto_enroll": False})
        event = order_placed("carol", "o-9", "90.00", at=clock.now())
        with db.unit_of_work() as session:
            [result] = pipeline.ingest(
                session,
                tenant_id=shop.tenant_id,
                program=closed,
                events=[registry.adapter().validate_python(event)],
                now=clock.now(),
            )
        assert extension.bonuses == [event["id"]]
        assert (result["status"], result["points"], result["postings"]) == ("not_member", 0, [])
        assert result["message"] == "carol is not a member: order stored, no points"


class TestReplays:
    def test_replaying_the_batch_returns_the_first_results_and_changes_nothing(
        self,
        extension: Extension,
        db: Database,
        shop: Shop,
        clock: FrozenClock,
        client: httpx.Client,
    ) -> None:
        events = mixed_batch(clock.now())
        first = ingest(db, shop, events, clock.now())
        applied = (list(extension.reviews), list(extension.bonuses))
        stored = count_postings(db, shop)
        clock.advance(hours=2)

        again = ingest(db, shop, events, clock.now())

        assert [r["duplicate"] for r in again] == [True] * len(events)
        assert [{**r, "duplicate": False} for r in again] == [
            {**r, "duplicate": False} for r in first
        ]
        assert (extension.reviews, extension.bonuses) == applied
        assert count_postings(db, shop) == stored
        assert points(client, "ada")["available"] == 115
        assert violations(db, shop) == []

    def test_a_batch_of_replays_and_new_events_applies_only_the_new_ones(
        self,
        extension: Extension,
        db: Database,
        shop: Shop,
        clock: FrozenClock,
        client: httpx.Client,
    ) -> None:
        events = mixed_batch(clock.now())
        ingest(db, shop, events, clock.now())
        fresh = review_written("ada", "grinder", at=clock.now())
        results = ingest(db, shop, [events[1], fresh], clock.now())
        assert [(r["duplicate"], r["points"]) for r in results] == [(True, 90), (False, 25)]
        assert extension.bonuses.count(events[1]["id"]) == 1
        assert points(client, "ada")["available"] == 115 + 25
        assert violations(db, shop) == []


class TestAfterTheBlock:
    def test_the_registry_is_as_before_and_the_extra_handlers_no_longer_run(
        self, db: Database, shop: Shop, clock: FrozenClock, client: httpx.Client
    ) -> None:
        before = snapshot()
        ext = Extension()
        inside = order_placed("ada", "o-1", "80.00", at=clock.now())
        with registry.added(*ext.handlers()):
            ingest(db, shop, [inside], clock.now())
        assert snapshot() == before
        with pytest.raises(LookupError):
            registry.handlers("poll.answered")
        with pytest.raises(ValidationError):
            registry.adapter().validate_python(review_written("ada", "mug", at=clock.now()))

        [result] = ingest(
            db, shop, [order_placed("ada", "o-2", "60.00", at=clock.now())], clock.now()
        )
        assert (result["points"], len(result["postings"])) == (60, 1)
        assert "bonus" not in result["message"]
        assert ext.bonuses == [inside["id"]]
        assert points(client, "ada")["available"] == 80 + 10 + 60
        assert violations(db, shop) == []
