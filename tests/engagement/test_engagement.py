"""Engagement events, the shop's custom events and the birthday job, over real HTTP: each
pays what the program's rules say, within their limits, and nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from patron.db.session import Database
from patron.engagement.schemas import (
    BirthdayData,
    NewsletterSubscribedData,
    ProfileCompletedData,
    ReviewWrittenData,
    SocialSharedData,
    SurveyCompletedData,
)
from patron.engagement.tasks import birthdays, celebrated
from patron.kit.clock import FrozenClock
from patron.programs.examples import example_document
from patron.rules.schemas import BUILTIN_DATA
from tests.factories import Shop, create_shop, event_id, violations


def engage(customer: str, type_: str, at: datetime, **data: Any) -> dict[str, Any]:
    return {
        "id": event_id(),
        "type": type_,
        "occurred_at": at.isoformat(),
        "customer": {"external_id": customer},
        "data": data,
    }


@pytest.fixture
def crew(db: Database, clock: FrozenClock) -> Shop:
    return create_shop(db, now=clock.now(), program=example_document("engagement"))


@pytest.fixture
def c(base_url: str, crew: Shop) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {crew.key}"}) as cl:
        yield cl


def send(c: httpx.Client, event: dict[str, Any], status: int = 201) -> dict[str, Any]:
    r = c.post("/v1/events", json=event)
    assert r.status_code == status, r.text
    return r.json()  # type: ignore[no-any-return]


def test_the_event_schemas_carry_what_rules_read() -> None:
    models = {
        "birthday": BirthdayData,
        "review.written": ReviewWrittenData,
        "social.shared": SocialSharedData,
        "survey.completed": SurveyCompletedData,
        "newsletter.subscribed": NewsletterSubscribedData,
        "profile.completed": ProfileCompletedData,
    }
    for event_type, model in models.items():
        assert set(model.model_fields) == set(BUILTIN_DATA[event_type]), event_type


class TestEngagement:
    def test_joining_then_each_kind_of_engagement(
        self, c: httpx.Client, clock: FrozenClock, db: Database, crew: Shop
    ) -> None:
        at = clock.now()
        joined = send(c, engage("ana", "account.created", at, accepts_marketing=True))
        assert joined["enrolled"] and joined["points"] == 100
        assert send(c, engage("ana", "account.created", at))["points"] == 0  # once
        review = send(
            c, engage("ana", "review.written", at, review_id="r1", rating=5, words=40, photos=2)
        )
        assert review["points"] == 75 and "+50 by review" in review["message"]
        assert send(c, engage("ana", "survey.completed", at, survey_id="s1"))["points"] == 30
        assert send(c, engage("ana", "survey.completed", at, survey_id="s1"))["points"] == 0
        assert send(c, engage("ana", "survey.completed", at, survey_id="s2"))["points"] == 30
        assert send(c, engage("ana", "newsletter.subscribed", at))["points"] == 25
        assert send(c, engage("ana", "profile.completed", at, fields=["birthday"]))["points"] == 40
        assert violations(db, crew) == []

    def test_reviews_are_limited_per_month_in_the_shops_time_zone(
        self, c: httpx.Client, clock: FrozenClock
    ) -> None:
        # 2025-03-31 23:00 in Denver is already April in UTC: the shop's month counts.
        end_of_march = datetime.fromisoformat("2025-03-31T23:00:00-06:00")
        send(c, engage("bo", "account.created", end_of_march - timedelta(days=20)))
        points = [
            send(
                c,
                engage(
                    "bo",
                    "review.written",
                    end_of_march - timedelta(hours=i),
                    review_id=f"r{i}",
                    rating=4,
                    words=30,
                ),
            )["points"]
            for i in range(4)
        ]
        assert points == [50, 50, 50, 0]
        fourth = send(
            c,
            engage(
                "bo",
                "review.written",
                end_of_march - timedelta(hours=9),
                review_id="r9",
                rating=4,
                words=30,
            ),
        )
        assert fourth["status"] == "no_effect" and "limit reached" in fourth["message"]
        april = send(
            c,
            engage(
                "bo",
                "review.written",
                end_of_march + timedelta(hours=2),
                review_id="r10",
                rating=4,
                words=30,
            ),
        )
        assert april["points"] == 50

    def test_a_share_pays_once_per_network(self, c: httpx.Client, clock: FrozenClock) -> None:
        at = clock.now()
        send(c, engage("cy", "account.created", at))
        networks = ["instagram", "instagram", "facebook"]
        got = [send(c, engage("cy", "social.shared", at, network=n))["points"] for n in networks]
        assert got == [20, 0, 20]
        r = c.post("/v1/events", json=engage("cy", "social.shared", at, network="myspace"))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "data.network"

    def test_a_non_member_earns_nothing(self, c: httpx.Client, clock: FrozenClock) -> None:
        body = send(c, engage("nobody", "review.written", clock.now(), review_id="r", rating=5))
        assert body["status"] == "not_member" and body["points"] == 0


class TestCustomEvents:
    def test_the_declared_fields_are_typed_for_the_rules(
        self, c: httpx.Client, clock: FrozenClock, db: Database, crew: Shop
    ) -> None:
        at = clock.now()
        send(c, engage("di", "account.created", at))
        body = send(
            c, engage("di", "custom.trail_report", at, trail="Bear Lake", photos=3, words=80)
        )
        assert body["points"] == 25 and "+25 by trail-report" in body["message"]
        # Once a day.
        again = send(c, engage("di", "custom.trail_report", at, trail="Flattop", words=80))
        assert again["points"] == 0
        assert violations(db, crew) == []

    @pytest.mark.parametrize(
        ("data", "field"),
        [
            ({"photos": 1}, "data.trail"),  # required
            ({"trail": "x", "photos": "3"}, "data.photos"),  # wrong type
            ({"trail": "x", "mood": "happy"}, "data.mood"),  # not declared
        ],
    )
    def test_a_custom_event_that_breaks_its_declaration_is_refused(
        self, c: httpx.Client, clock: FrozenClock, data: dict[str, Any], field: str
    ) -> None:
        send(c, engage("ed", "account.created", clock.now()))
        event = engage("ed", "custom.trail_report", clock.now(), **data)
        r = c.post("/v1/events", json=event)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
        assert c.get(f"/v1/events/{event['id']}").status_code == 404

    def test_an_undeclared_custom_event_is_refused(
        self, c: httpx.Client, clock: FrozenClock
    ) -> None:
        r = c.post("/v1/events", json=engage("ed", "custom.unknown", clock.now()))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "type"


class TestBirthdays:
    def test_29_february_is_celebrated_on_the_28th_in_other_years(self) -> None:
        assert celebrated(datetime(2027, 2, 28).date()) == [(2, 28), (2, 29)]
        assert celebrated(datetime(2028, 2, 28).date()) == [(2, 28)]
        assert celebrated(datetime(2028, 2, 29).date()) == [(2, 29)]

    def test_the_job_pays_on_the_day_in_the_shops_time_zone_once_a_year(
        self, db: Database, c: httpx.Client, clock: FrozenClock, crew: Shop
    ) -> None:
        send(c, engage("fay", "account.created", clock.now(), birthday="1990-06-02"))
        send(c, engage("gus", "account.created", clock.now()))  # no birthday given
        # 1 June, 20:00 in Denver is 2 June in UTC: not yet her birthday in the shop.
        eve = datetime.fromisoformat("2026-06-01T20:00:00-06:00")
        assert birthdays(db, now=eve) == 0
        day = datetime.fromisoformat("2026-06-02T08:00:00-06:00")
        assert birthdays(db, now=day) == 1
        assert birthdays(db, now=day + timedelta(hours=5)) == 0  # the same day again
        fay = c.get("/v1/members/fay").json()
        assert fay["points"]["available"] == 100 + 150
        gus = c.get("/v1/members/gus").json()
        assert gus["points"]["available"] == 100
        # Next year, again.
        assert birthdays(db, now=day.replace(year=2027)) == 1
        assert violations(db, crew) == []
