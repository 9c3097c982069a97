"""The access log over real HTTP: one JSON line per request, with the route's template and
the tenant, and nothing that identifies a shopper or opens the API; the request id it shares
with the response's header and with every problem body."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from patron.app import create_app
from patron.auth.service import auth
from patron.config import Settings
from patron.db.session import Database
from patron.kit.clock import FrozenClock
from tests.factories import Shop, order_placed
from tests.ops.helpers import line_of, log_lines
from tests.servers import serving

FIELDS = {"time", "request_id", "tenant", "method", "route", "status", "duration_ms", "bytes"}


def _serve(db: Database, server_clock: Any, **settings: Any) -> tuple[FastAPI, Settings]:
    config = Settings(database_url=db.url, jobs_interval=0, **settings)
    return create_app(config, clock=server_clock, database=db), config


class TestLines:
    def test_one_json_line_per_request_with_no_key_path_query_or_body(
        self,
        client: httpx.Client,
        shop: Shop,
        clock: FrozenClock,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        capsys.readouterr()
        event = order_placed("ada@example.com", "o-secret-1", "5.00", at=clock.now())
        r = client.post(
            "/v1/events?probe=secret-query", json=event, headers={"X-Request-Id": "req-123"}
        )
        assert r.status_code == 201, r.text
        assert r.headers["x-request-id"] == "req-123"
        read = client.get("/v1/members/ada%40example.com")
        assert read.status_code == 200
        captured = capsys.readouterr()
        out = captured.out
        assert len(log_lines(out)) == 2

        posted = line_of(out, "req-123")
        assert set(posted) == FIELDS
        assert posted["method"] == "POST" and posted["route"] == "/v1/events"
        assert posted["status"] == 201 and posted["tenant"] == str(shop.tenant_id)
        assert 0 < posted["duration_ms"] < 30_000 and posted["bytes"] == len(r.content)
        written = datetime.fromisoformat(posted["time"].replace("Z", "+00:00"))
        assert posted["time"].endswith("Z")
        assert abs(datetime.now(UTC) - written) < timedelta(minutes=1)  # the real time

        got = line_of(out, read.headers["x-request-id"])
        assert got["route"] == "/v1/members/{external_id}" and got["status"] == 200
        assert got["tenant"] == str(shop.tenant_id)

        everything = captured.out + captured.err
        for secret in (
            shop.key,
            shop.key[-12:],
            "Bearer",
            "ada@example.com",
            "ada%40example.com",
            "o-secret-1",
            "secret-query",
            event["id"],
        ):
            assert secret not in everything

    def test_an_authenticated_request_that_fails_names_its_tenant(
        self, client: httpx.Client, shop: Shop, capsys: pytest.CaptureFixture[str]
    ) -> None:
        capsys.readouterr()
        r = client.get("/v1/members/nobody-here")
        assert r.status_code == 404
        line = line_of(capsys.readouterr().out, r.headers["x-request-id"])
        assert line["status"] == 404 and line["tenant"] == str(shop.tenant_id)
        assert line["route"] == "/v1/members/{external_id}"

    def test_a_refused_key_logs_no_tenant_and_not_the_key(
        self, anon: httpx.Client, capsys: pytest.CaptureFixture[str]
    ) -> None:
        capsys.readouterr()
        wrong = "pk_wrong_" + uuid.uuid4().hex
        r = anon.get("/v1/program", headers={"Authorization": f"Bearer {wrong}"})
        assert r.status_code == 401
        out = capsys.readouterr().out
        line = line_of(out, r.headers["x-request-id"])
        assert line["status"] == 401 and line["tenant"] is None
        assert wrong not in out and wrong[-12:] not in out

    def test_a_storefront_request_names_the_shop_and_logs_no_key_or_token(
        self,
        client: httpx.Client,
        anon: httpx.Client,
        shop: Shop,
        db: Database,
        clock: FrozenClock,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        with db.unit_of_work() as session:
            _, publishable = auth.create_publishable_key(
                session, tenant_id=shop.tenant_id, name="storefront", now=clock.now()
            )
        event = order_placed("cust-77", "o-77", "5.00", at=clock.now())
        assert client.post("/v1/events", json=event).status_code == 201
        minted = client.post("/v1/members/cust-77/tokens", json={"expires_in": 600})
        assert minted.status_code == 201, minted.text
        token = minted.json()["token"]
        capsys.readouterr()
        public = anon.get("/v1/program", headers={"X-Patron-Key": publishable})
        own = anon.get(
            "/v1/members/cust-77",
            headers={"X-Patron-Key": publishable, "Authorization": f"Bearer {token}"},
        )
        assert public.status_code == 200 and own.status_code == 200, own.text
        out = capsys.readouterr().out
        for r, route in ((public, "/v1/program"), (own, "/v1/members/{external_id}")):
            line = line_of(out, r.headers["x-request-id"])
            assert line["tenant"] == str(shop.tenant_id) and line["route"] == route
        for secret in (publishable, publishable[-12:], token, token.split(".")[2], "cust-77"):
            assert secret not in out

    def test_unknown_paths_are_logged_without_the_path(
        self, anon: httpx.Client, capsys: pytest.CaptureFixture[str]
    ) -> None:
        capsys.readouterr()
        r = anon.get("/no/such/customer-4411")
        assert r.status_code == 404
        out = capsys.readouterr().out
        assert line_of(out, r.headers["x-request-id"])["route"] == "(other)"
        assert "customer-4411" not in out

    def test_the_access_log_can_be_turned_off(
        self, db: Database, server_clock: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        app, _ = _serve(db, server_clock, access_log=False)
        with serving(app) as url:
            capsys.readouterr()
            r = httpx.get(f"{url}/healthz")
            assert r.status_code == 200
            rid = r.headers["x-request-id"]  # the id is still given
            assert rid not in capsys.readouterr().out


class TestRequestId:
    @pytest.mark.parametrize(
        "given",
        ["", "x" * 129, "has space", "semi;colon", '{"json":1}', "é-accent"],
        ids=["empty", "too-long", "space", "semicolon", "json", "non-ascii"],
    )
    def test_a_malformed_request_id_is_replaced(
        self, anon: httpx.Client, given: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        capsys.readouterr()
        r = anon.get("/healthz", headers={b"X-Request-Id": given.encode()})
        assert r.status_code == 200
        rid = r.headers["x-request-id"]
        assert rid != given and len(rid) == 32 and int(rid, 16) >= 0
        out = capsys.readouterr().out
        assert line_of(out, rid)["route"] == "/healthz"
        if given:
            assert given not in out

    def test_a_well_formed_request_id_is_kept(self, anon: httpx.Client) -> None:
        rid = "trace-01:AB.cd_" + "9" * 100
        assert anon.get("/healthz", headers={"X-Request-Id": rid}).headers["x-request-id"] == rid

    def test_each_request_gets_its_own_id(self, anon: httpx.Client) -> None:
        ids = {anon.get("/healthz").headers["x-request-id"] for _ in range(5)}
        assert len(ids) == 5

    def test_a_problem_carries_the_request_id_once(self, client: httpx.Client) -> None:
        r = client.get("/v1/members/nobody-at-all", headers={"X-Request-Id": "support-42"})
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["request_id"] == "support-42"
        assert r.headers.get_list("x-request-id") == ["support-42"]

    def test_a_refusal_by_a_middleware_carries_it_too(self, client: httpx.Client) -> None:
        r = client.post(
            "/v1/events",
            content=b"id=1",
            headers={"Content-Type": "text/plain", "X-Request-Id": "mw-1"},
        )
        assert r.status_code == 415, r.text
        assert r.json()["request_id"] == "mw-1"
        assert r.headers.get_list("x-request-id") == ["mw-1"]

    def test_a_success_body_has_no_request_id(self, client: httpx.Client) -> None:
        r = client.get("/v1/program")
        assert r.status_code == 200 and "request_id" not in r.json()


@pytest.fixture
def failing(db: Database, server_clock: Any) -> Iterator[str]:
    """An app with one route that fails with an unexpected error: a 500."""
    app, _ = _serve(db, server_clock)

    @app.get("/v1/broken/{external_id}")
    def broken(external_id: str) -> None:
        raise RuntimeError("a bug")

    with serving(app) as url:
        yield url


def test_an_unexpected_error_answers_with_the_request_id_the_log_has(
    failing: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    capsys.readouterr()
    r = httpx.get(f"{failing}/v1/broken/cust-secret-42", headers={"X-Request-Id": "boom-1"})
    assert r.status_code == 500
    assert r.headers.get_list("x-request-id") == ["boom-1"]
    assert r.json()["request_id"] == "boom-1"
    line = line_of(capsys.readouterr().out, "boom-1")
    assert line["status"] == 500 and line["route"] == "/v1/broken/{external_id}"
    # The error log names the request and the route, never the customer in the path.
    [error] = [rec for rec in caplog.records if rec.name == "patron" and rec.exc_info]
    assert "boom-1" in error.getMessage() and "/v1/broken/{external_id}" in error.getMessage()
    assert "cust-secret-42" not in error.getMessage()
    # The next request does not inherit the id.
    assert httpx.get(f"{failing}/v1/nothing").json()["request_id"] != "boom-1"
