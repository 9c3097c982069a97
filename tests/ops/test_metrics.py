"""`/metrics` over real HTTP, parsed as Prometheus parses it: every counter moves by exactly
what was sent, labels stay bounded, and each app counts for itself."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from patron.app import create_app
from patron.config import Settings
from patron.db.migrate import upgrade
from patron.db.session import Database
from patron.kit.clock import FrozenClock
from tests.factories import Shop, create_shop, order_placed
from tests.ops.helpers import Samples, delta, samples, value
from tests.servers import serving

JSON = {"Content-Type": "application/json"}


def member_enrolled(customer: str, at: Any) -> dict[str, Any]:
    return {
        "id": f"evt-enrol-{customer}",
        "type": "member.enrolled",
        "occurred_at": at.isoformat(),
        "customer": {"external_id": customer},
        "data": {},
    }


def events(before: Samples, after: Samples, type_: str, outcome: str) -> float:
    return delta(before, after, "patron_events_ingested_total", type=type_, outcome=outcome)


def requests(
    before: Samples, after: Samples, route: str, status: str, method: str = "POST"
) -> float:
    return delta(
        before, after, "patron_http_requests_total", route=route, method=method, status=status
    )


class TestEvents:
    def test_events_are_counted_by_type_and_outcome(
        self, client: httpx.Client, clock: FrozenClock
    ) -> None:
        before = samples(client)
        first = order_placed("c1", "o1", "10", at=clock.now())
        assert client.post("/v1/events", json=first).status_code == 201
        assert client.post("/v1/events", json=first).status_code == 200  # a replay
        batch = [
            order_placed("c2", "o2", "0.10", at=clock.now()),  # earns no point
            order_placed("c3", "o3", "7", at=clock.now()),
            member_enrolled("c4", clock.now()),
            first,  # a replay inside a batch
        ]
        assert client.post("/v1/events/batch", json={"events": batch}).status_code == 200
        after = samples(client)

        assert events(before, after, "order.placed", "applied") == 2
        assert events(before, after, "order.placed", "duplicate") == 2
        assert events(before, after, "order.placed", "no_effect") == 1
        assert events(before, after, "member.enrolled", "applied") == 1
        assert events(before, after, "order.placed", "rejected") == 0
        assert requests(before, after, "/v1/events", "201") == 1
        assert requests(before, after, "/v1/events", "200") == 1
        assert requests(before, after, "/v1/events/batch", "200") == 1
        latency = delta(
            before,
            after,
            "patron_http_request_duration_seconds_count",
            route="/v1/events",
            method="POST",
        )
        assert latency == 2

    def test_the_events_of_a_refused_request_are_counted_as_rejected(
        self, client: httpx.Client, clock: FrozenClock
    ) -> None:
        before = samples(client)
        bad = order_placed("c5", "o5", "-1", at=clock.now())
        assert client.post("/v1/events", json=bad).status_code == 422
        batch = [
            order_placed("c6", "o6", "5", at=clock.now()),
            member_enrolled("c7", clock.now()),
            {**order_placed("c8", "o8", "5", at=clock.now()), "type": "order.teleported"},
        ]
        assert client.post("/v1/events/batch", json={"events": batch}).status_code == 422
        assert client.post("/v1/events", content=b"{not json", headers=JSON).status_code == 400
        after = samples(client)

        assert events(before, after, "order.placed", "rejected") == 2
        assert events(before, after, "member.enrolled", "rejected") == 1
        # A type Patron does not know, and a body it cannot read, share one label.
        assert events(before, after, "(unreadable)", "rejected") == 2
        assert events(before, after, "order.teleported", "rejected") == 0
        assert events(before, after, "order.placed", "applied") == 0
        assert requests(before, after, "/v1/events", "422") == 1
        assert requests(before, after, "/v1/events", "400") == 1
        assert requests(before, after, "/v1/events/batch", "422") == 1

    def test_a_conflict_rejects_the_events_of_the_batch(
        self, client: httpx.Client, clock: FrozenClock
    ) -> None:
        first = order_placed("c9", "o9", "10", at=clock.now())
        assert client.post("/v1/events", json=first).status_code == 201
        before = samples(client)
        changed = {**first, "data": {**first["data"], "total": "11"}}
        batch = [order_placed("c10", "o10", "3", at=clock.now()), changed]
        assert client.post("/v1/events/batch", json={"events": batch}).status_code == 409
        after = samples(client)
        assert events(before, after, "order.placed", "rejected") == 2
        assert events(before, after, "order.placed", "applied") == 0

    def test_a_request_without_a_valid_key_counts_no_event(
        self, anon: httpx.Client, client: httpx.Client, clock: FrozenClock
    ) -> None:
        before = samples(client)
        event = order_placed("c11", "o11", "10", at=clock.now())
        r = anon.post("/v1/events", json=event, headers={"Authorization": "Bearer sk_nope"})
        assert r.status_code == 401
        after = samples(client)
        assert events(before, after, "order.placed", "rejected") == 0
        assert requests(before, after, "/v1/events", "401") == 1


class TestRequests:
    def test_unmatched_paths_share_one_label(self, anon: httpx.Client) -> None:
        before = samples(anon)
        for i in range(3):
            assert anon.get(f"/nothing/{i}").status_code == 404
        after = samples(anon)
        assert requests(before, after, "(other)", "404", method="GET") == 3
        assert not any("/nothing/" in str(labels) for _, labels in after)

    def test_an_unusual_method_is_counted_as_other(self, anon: httpx.Client) -> None:
        before = samples(anon)
        assert anon.request("PROPFIND", "/healthz").status_code == 405
        after = samples(anon)
        assert requests(before, after, "/healthz", "405", method="other") == 1
        assert not any(("method", "PROPFIND") in labels for _, labels in after)

    def test_a_route_with_an_id_is_counted_under_its_template(
        self, client: httpx.Client, clock: FrozenClock
    ) -> None:
        assert client.post("/v1/events", json=order_placed("c12", "o12", "1", at=clock.now()))
        before = samples(client)
        for customer in ("c12", "c12", "nobody"):
            client.get(f"/v1/members/{customer}")
        after = samples(client)
        template = "/v1/members/{external_id}"
        assert requests(before, after, template, "200", method="GET") == 2
        assert requests(before, after, template, "404", method="GET") == 1

    def test_the_pool_is_read_when_scraped(self, anon: httpx.Client, db: Database) -> None:
        idle = samples(anon)
        assert value(idle, "patron_db_pool_size") == db.engine.pool.size()  # type: ignore[attr-defined]
        with db.engine.connect(), db.engine.connect():
            busy = samples(anon)
        assert delta(idle, busy, "patron_db_pool_checked_out") == 2


class TestRegistry:
    def test_each_app_counts_for_itself(self, db: Database, server_clock: Any) -> None:
        settings = Settings(database_url=db.url, jobs_interval=0, access_log=False)
        first = create_app(settings, clock=server_clock, database=db)
        second = create_app(settings, clock=server_clock, database=db)
        with serving(first) as a, serving(second) as b:
            for _ in range(3):
                assert httpx.get(f"{a}/healthz").status_code == 200
            with httpx.Client(base_url=a) as ca, httpx.Client(base_url=b) as cb:
                in_a, in_b = samples(ca), samples(cb)
        name = "patron_http_requests_total"
        assert value(in_a, name, route="/healthz", method="GET", status="200") == 3
        assert value(in_b, name, route="/healthz", method="GET", status="200") == 0

    def test_a_metrics_token_guards_the_page(self, db: Database, server_clock: Any) -> None:
        settings = Settings(
            database_url=db.url, jobs_interval=0, access_log=False, metrics_token="s3cret"
        )
        with serving(create_app(settings, clock=server_clock, database=db)) as url:
            for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "s3cret"}):
                r = httpx.get(f"{url}/metrics", headers=headers)
                assert r.status_code == 401
                assert r.headers["content-type"].startswith("application/problem+json")
                assert "patron_http" not in r.text
            with httpx.Client(base_url=url) as c:
                scrape = samples(c, headers={"Authorization": "Bearer s3cret"})
        assert (
            value(
                scrape, "patron_http_requests_total", route="/metrics", method="GET", status="401"
            )
            == 3
        )

    def test_without_a_token_the_page_is_open(self, anon: httpx.Client) -> None:
        assert anon.get("/metrics").status_code == 200


@pytest.fixture
def jobs_db(tmp_path: Path) -> Iterator[Database]:
    """A database of its own: the jobs settle every shop's lots, not only this test's."""
    url = f"sqlite:///{tmp_path}/jobs.db"
    upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


def _wait_for(client: httpx.Client, name: str, labels: dict[str, str], least: float) -> Samples:
    deadline = time.monotonic() + 15
    while True:
        scrape = samples(client)
        if value(scrape, name, **labels) >= least or time.monotonic() > deadline:
            return scrape
        time.sleep(0.05)


class TestJobs:
    def test_runs_of_the_jobs_and_the_lots_they_vest_are_counted(
        self, jobs_db: Database, clock: FrozenClock, server_clock: Any
    ) -> None:
        shop: Shop = create_shop(jobs_db, now=clock.now(), program={"pending_days": 14})
        settings = Settings(database_url=jobs_db.url, jobs_interval=0.05, access_log=False)
        app = create_app(settings, clock=server_clock, database=jobs_db)
        headers = {"Authorization": f"Bearer {shop.key}"}
        with serving(app) as url, httpx.Client(base_url=url, headers=headers) as c:
            for i in range(3):
                placed = order_placed(f"c{i}", f"o{i}", "10", at=clock.now())
                assert c.post("/v1/events", json=placed).status_code == 201
            ok = {"job": "settle", "outcome": "ok"}
            _wait_for(c, "patron_job_runs_total", ok, 1)
            assert value(samples(c), "patron_job_lots_total", action="vested") == 0
            clock.advance(days=15)
            scrape = _wait_for(c, "patron_job_lots_total", {"action": "vested"}, 3)
            balance = c.get("/v1/members/c0").json()
        assert value(scrape, "patron_job_lots_total", action="vested") == 3
        assert value(scrape, "patron_job_lots_total", action="expired") == 0
        assert value(scrape, "patron_job_runs_total", job="settle", outcome="failed") == 0
        runs = value(scrape, "patron_job_runs_total", **ok)
        assert runs >= 2
        assert value(scrape, "patron_job_duration_seconds_count", **ok) == runs
        assert balance["points"]["available"] == 10, balance

    def test_a_failed_run_is_counted_as_failed(self, server_clock: Any) -> None:
        database = Database("postgresql://nobody@127.0.0.1:1/none")
        settings = Settings(database_url=database.url, jobs_interval=0.05, access_log=False)
        app = create_app(settings, clock=server_clock, database=database)
        try:
            with serving(app) as url, httpx.Client(base_url=url) as c:
                failed = {"job": "settle", "outcome": "failed"}
                scrape = _wait_for(c, "patron_job_runs_total", failed, 1)
        finally:
            database.dispose()
        assert value(scrape, "patron_job_runs_total", **failed) >= 1
        assert value(scrape, "patron_job_runs_total", job="settle", outcome="ok") == 0
