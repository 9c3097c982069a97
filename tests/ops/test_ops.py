"""Operations over real HTTP: JSON access logs without secrets, Prometheus metrics that move
by exactly what was sent, and health checks that say whether the process can serve."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from patron.app import create_app
from patron.config import Settings
from patron.db.migrate import head
from patron.db.session import Database
from patron.kit.clock import FrozenClock
from tests.factories import Shop, order_placed
from tests.servers import serving


def samples(
    client: httpx.Client | Any, url: str = "/metrics"
) -> dict[tuple[str, tuple[Any, ...]], float]:
    r = client.get(url)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def delta(before: dict[Any, float], after: dict[Any, float], name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


class TestAccessLog:
    def test_one_json_line_per_request_with_no_secret_and_no_customer_id(
        self,
        client: httpx.Client,
        shop: Shop,
        clock: FrozenClock,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        capsys.readouterr()
        event = order_placed("ada@example.com", "o-1", "5.00", at=clock.now())
        r = client.post(
            "/v1/events?probe=secret-query", json=event, headers={"X-Request-Id": "req-123"}
        )
        assert r.status_code == 201, r.text
        assert r.headers["x-request-id"] == "req-123"
        read = client.get("/v1/members/ada%40example.com")
        assert read.status_code == 200
        out = capsys.readouterr().out
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        posted = next(line for line in lines if line["request_id"] == "req-123")
        assert posted["method"] == "POST" and posted["route"] == "/v1/events"
        assert posted["status"] == 201 and posted["tenant"] == str(shop.tenant_id)
        assert posted["duration_ms"] > 0 and posted["bytes"] == len(r.content)
        got = next(line for line in lines if line["request_id"] == read.headers["x-request-id"])
        assert got["route"] == "/v1/members/{external_id}" and got["status"] == 200
        for secret in (
            shop.key,
            shop.key[10:],
            "ada@example.com",
            "ada%40example.com",
            "secret-query",
        ):
            assert secret not in out

    def test_a_bad_request_id_is_replaced_and_refusals_are_logged_too(
        self, anon: httpx.Client, capsys: pytest.CaptureFixture[str]
    ) -> None:
        capsys.readouterr()
        r = anon.get(
            "/v1/program", headers={"X-Request-Id": "x" * 500, "Authorization": "Bearer pk_wrong"}
        )
        assert r.status_code == 401
        rid = r.headers["x-request-id"]
        assert rid != "x" * 500 and 1 <= len(rid) <= 128
        out = capsys.readouterr().out
        [line] = [json.loads(x) for x in out.splitlines() if rid in x]
        assert line["status"] == 401 and line["tenant"] is None
        assert "pk_wrong" not in out

    def test_the_access_log_can_be_turned_off(
        self, db: Database, server_clock: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        settings = Settings(database_url=db.url, jobs_interval=0, access_log=False)
        with serving(create_app(settings, clock=server_clock, database=db)) as url:
            capsys.readouterr()
            rid = httpx.get(f"{url}/healthz").headers["x-request-id"]
            assert rid not in capsys.readouterr().out


class TestMetrics:
    def test_requests_and_events_are_counted_exactly(
        self, client: httpx.Client, clock: FrozenClock
    ) -> None:
        before = samples(client)
        first = order_placed("c1", "o1", "10", at=clock.now())
        assert client.post("/v1/events", json=first).status_code == 201
        assert client.post("/v1/events", json=first).status_code == 200  # a replay
        batch = [
            order_placed("c2", "o2", "0.10", at=clock.now()),
            {**order_placed("c3", "o3", "7", at=clock.now())},
            {
                "id": "evt-enrol-c4",
                "type": "member.enrolled",
                "occurred_at": clock.now().isoformat(),
                "customer": {"external_id": "c4"},
                "data": {},
            },
        ]
        assert client.post("/v1/events/batch", json={"events": batch}).status_code == 200
        bad = order_placed("c5", "o5", "-1", at=clock.now())
        assert client.post("/v1/events", json=bad).status_code == 422
        after = samples(client)

        def events(type_: str, outcome: str) -> float:
            return delta(before, after, "patron_events_ingested_total", type=type_, outcome=outcome)

        assert events("order.placed", "applied") == 2
        assert events("order.placed", "duplicate") == 1
        assert events("order.placed", "no_effect") == 1  # 0.10 earns no point
        assert events("member.enrolled", "applied") == 1

        def requests(route: str, status: str) -> float:
            return delta(
                before,
                after,
                "patron_http_requests_total",
                route=route,
                method="POST",
                status=status,
            )

        assert requests("/v1/events", "201") == 1
        assert requests("/v1/events", "200") == 1
        assert requests("/v1/events", "422") == 1
        assert requests("/v1/events/batch", "200") == 1
        count = delta(
            before,
            after,
            "patron_http_request_duration_seconds_count",
            route="/v1/events",
            method="POST",
        )
        assert count == 3

    def test_the_pool_is_reported(self, client: httpx.Client) -> None:
        now = samples(client)
        names = {name for name, _ in now}
        assert (
            "patron_db_pool_checked_out" in names
            or client.get("/readyz").json()["database"] == "sqlite"
        )

    def test_unmatched_paths_share_one_label(self, client: httpx.Client) -> None:
        before = samples(client)
        for i in range(3):
            assert client.get(f"/nothing/{i}").status_code == 404
        after = samples(client)
        assert (
            delta(
                before,
                after,
                "patron_http_requests_total",
                route="(other)",
                method="GET",
                status="404",
            )
            == 3
        )
        assert not any("/nothing/" in str(labels) for _, labels in after)

    def test_a_metrics_token_guards_the_page(self, db: Database, server_clock: Any) -> None:
        settings = Settings(database_url=db.url, jobs_interval=0, metrics_token="s3cret")
        with serving(create_app(settings, clock=server_clock, database=db)) as url:
            assert httpx.get(f"{url}/metrics").status_code == 401
            assert (
                httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer nope"}).status_code
                == 401
            )
            ok = httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer s3cret"})
            assert ok.status_code == 200 and "patron_http_requests_total" in ok.text


class TestHealth:
    def test_healthz_and_readyz_on_a_migrated_database(self, anon: httpx.Client) -> None:
        assert anon.get("/healthz").json()["status"] == "ok"
        r = anon.get("/readyz")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "ready" and r.json()["revision"] == head()

    def test_readyz_on_an_unmigrated_database_says_run_migrate(
        self, tmp_path: Path, server_clock: Any
    ) -> None:
        path = tmp_path / "empty.db"
        sqlite3.connect(path).close()
        database = Database(f"sqlite:///{path}")
        settings = Settings(database_url=database.url, jobs_interval=0, access_log=False)
        try:
            with serving(create_app(settings, clock=server_clock, database=database)) as url:
                assert httpx.get(f"{url}/healthz").status_code == 200
                r = httpx.get(f"{url}/readyz")
        finally:
            database.dispose()
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "patron migrate" in r.json()["detail"] and r.json()["head"] == head()

    def test_readyz_on_an_unreachable_database(self, server_clock: Any) -> None:
        database = Database("postgresql://nobody@127.0.0.1:1/none")
        settings = Settings(database_url=database.url, jobs_interval=0, access_log=False)
        try:
            with serving(create_app(settings, clock=server_clock, database=database)) as url:
                r = httpx.get(f"{url}/readyz", timeout=30)
        finally:
            database.dispose()
        assert r.status_code == 503, r.text
        assert "cannot be reached" in r.json()["detail"]
        assert "nobody" not in r.text


def test_each_run_of_the_jobs_is_reported(db: Database, clock: FrozenClock) -> None:
    import threading

    from patron.ledger.tasks import JobReport, run_periodically
    from patron.ops.metrics import Metrics
    from patron.programs.service import programs

    metrics = Metrics()
    stop = threading.Event()
    seen: list[tuple[JobReport | None, float]] = []

    def observe(report: JobReport | None, seconds: float) -> None:
        seen.append((report, seconds))
        lots = {"vested": report.vested_lots, "expired": report.expired_lots} if report else {}
        metrics.job_run("settle", ok=report is not None, seconds=seconds, lots=lots)
        stop.set()

    run_periodically(db, clock, 0.01, stop, programs.terms_for, observe)
    [(report, seconds)] = seen
    assert report is not None and seconds >= 0
    value = metrics.registry.get_sample_value(
        "patron_job_runs_total", {"job": "settle", "outcome": "ok"}
    )
    assert value == 1.0
