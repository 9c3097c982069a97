"""Tenant isolation and authentication, on every endpoint under /v1.

The endpoints come from the application's OpenAPI document, and each must have a case in
CASES: adding an endpoint without saying how it stays inside its tenant fails these tests.

Tenant A has a member with an order, points and a redemption; tenant B has its own key and a
member of its own. Each case sends, with B's key, a request aimed at A's things, checks what B
sees, and then A's data is fetched with A's key and must be byte-identical to before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest

from patron.app import create_app
from patron.auth.scopes import (
    ALL_SCOPES,
    EVENTS_READ,
    EVENTS_WRITE,
    MEMBERS_READ,
    MEMBERS_WRITE,
    POINTS_WRITE,
    PROGRAM_READ,
    PROGRAM_WRITE,
)
from patron.auth.service import auth
from patron.config import Settings
from patron.db.session import Database
from patron.kit.clock import FrozenClock
from tests.factories import Shop, add_key, create_shop, order_placed, violations

HTTP_METHODS = ("get", "put", "post", "patch", "delete")


def _v1_endpoints() -> list[str]:
    app = create_app(Settings(database_url="sqlite://", jobs_interval=0))
    try:
        paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    finally:
        app.state.db.dispose()
    return sorted(
        f"{method.upper()} {path}"
        for path, operations in paths.items()
        if path.startswith("/v1/")
        for method in operations
        if method in HTTP_METHODS
    )


ENDPOINTS = _v1_endpoints()

ALICE = "alice"
CAROL = "carol"  # A's second member, for merges
ALICE_EMAIL = "alice@a.example"
BOB = "bob"


@dataclass
class World:
    a: Shop
    b: Shop
    a_client: httpx.Client
    b_client: httpx.Client
    event: dict[str, Any]
    redemption: dict[str, Any]
    redemption_key: str


@pytest.fixture
def world(base_url: str, db: Database, clock: FrozenClock) -> Iterator[World]:
    now = clock.now()
    a = create_shop(db, now=now, program={"name": "A's program"})
    b = create_shop(db, now=now, program={"name": "B's program"})
    with (
        httpx.Client(base_url=base_url, headers=_bearer(a.key), timeout=30) as a_client,
        httpx.Client(base_url=base_url, headers=_bearer(b.key), timeout=30) as b_client,
    ):
        assert a_client.put(f"/v1/members/{ALICE}", json={"email": ALICE_EMAIL}).status_code == 201
        event = order_placed(ALICE, "A-1001", "120.00", at=now)
        assert a_client.post("/v1/events", json=event).json()["points"] == 120
        redemption = {"points": 20, "description": "A's reward"}
        r = a_client.post(
            f"/v1/members/{ALICE}/redemptions",
            json=redemption,
            headers={"Idempotency-Key": "a-key-1"},
        )
        assert r.status_code == 201, r.text
        assert a_client.put(f"/v1/members/{CAROL}", json={}).status_code == 201
        draft = {"currency": "USD", "name": "A's draft"}
        assert a_client.put("/v1/program", params={"draft": "true"}, json=draft).status_code == 200
        assert b_client.put(f"/v1/members/{BOB}", json={}).status_code == 201
        yield World(a, b, a_client, b_client, event, redemption, "a-key-1")


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def snapshot(w: World) -> dict[str, tuple[int, bytes]]:
    """Everything the API shows about tenant A, as raw bytes."""
    paths = [
        f"/v1/events/{w.event['id']}",
        "/v1/program",
        "/v1/program/draft",
        "/v1/program/versions",
        "/v1/members",
        f"/v1/members?email={ALICE_EMAIL}",
        f"/v1/members/{ALICE}",
        f"/v1/members/{ALICE}/transactions",
    ]
    out = {}
    for path in paths:
        r = w.a_client.get(path)
        assert r.status_code == 200, r.text
        out[path] = (r.status_code, r.content)
    return out


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == status


# -- the cases: a valid request aimed at A's things, and what B must see ------------------

Send = Callable[[httpx.Client, World], httpx.Response]
Check = Callable[[httpx.Response, World], None]


@dataclass(frozen=True)
class Case:
    scope: str
    send: Send
    check: Check


def _get_program(response: httpx.Response, w: World) -> None:
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "B's program"
    assert response.json()["version"] == w.b.program_version


def _put_program(response: httpx.Response, w: World) -> None:
    assert response.status_code == 200, response.text
    assert response.json()["version"] == (w.b.program_version or 0) + 1
    assert w.b_client.get("/v1/program").json()["name"] == "Taken over"


def _no_draft(response: httpx.Response, w: World) -> None:
    # A has a draft; B has none, and sees or touches nothing of A's.
    assert response.status_code == 404, response.text


def _own_versions(response: httpx.Response, w: World) -> None:
    assert response.status_code == 200, response.text
    assert [v["name"] for v in response.json()["items"]] == ["B's program"]


def _own_version(response: httpx.Response, w: World) -> None:
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "B's program"


def _own_preview(response: httpx.Response, w: World) -> None:
    # In B, Alice's order would enrol her there and earn B's points; nothing is stored.
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["preview"] and body["enrolled"] and body["points"] == 120
    assert body["program_version"] == w.b.program_version
    assert w.b_client.get(f"/v1/members/{ALICE}").status_code == 404


def _put_member(response: httpx.Response, w: World) -> None:
    # Created in B (201), not an update of A's member (200).
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"] == "evil@b.example"
    assert body["points"]["available"] == 0
    assert body["stats"]["orders_count"] == 0


def _not_found(response: httpx.Response, w: World) -> None:
    assert_problem(response, 404)
    assert ALICE in response.json()["detail"]


def _event_not_found(response: httpx.Response, w: World) -> None:
    assert_problem(response, 404)
    assert w.event["id"] in response.json()["detail"]


def _list_members(response: httpx.Response, w: World) -> None:
    assert response.status_code == 200, response.text
    assert [m["external_id"] for m in response.json()["items"]] == [BOB]
    for params in ({"email": ALICE_EMAIL}, {"q": "ali"}, {"q": ALICE_EMAIL}):
        found = w.b_client.get("/v1/members", params=params)
        assert found.status_code == 200, found.text
        assert found.json()["items"] == [], params


def _post_event(response: httpx.Response, w: World) -> None:
    # A's event id and order id are B's to use: no replay of A's result, no order clash.
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["duplicate"] is False
    assert body["status"] == "applied"
    assert body["enrolled"] is True
    assert w.b_client.get(f"/v1/members/{ALICE}").json()["points"]["available"] == 120


def _post_batch(response: httpx.Response, w: World) -> None:
    assert response.status_code == 200, response.text
    [result] = response.json()["results"]
    assert result["duplicate"] is False
    assert result["status"] == "applied"
    assert w.b_client.get(f"/v1/members/{ALICE}").json()["points"]["available"] == 120


def _token_for_own_shop(response: httpx.Response, w: World) -> None:
    # Signed with B's own key: a token of B's shop, whatever the customer id it names.
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["external_id"] == ALICE
    assert body["key"] == w.b.key[:10]
    assert jwt.get_unverified_header(body["token"])["kid"] == w.b.key[:10]


CASES: dict[str, Case] = {
    "GET /v1/program": Case(PROGRAM_READ, lambda c, w: c.get("/v1/program"), _get_program),
    "PUT /v1/program": Case(
        PROGRAM_WRITE,
        lambda c, w: c.put("/v1/program", json={"currency": "USD", "name": "Taken over"}),
        _put_program,
    ),
    "GET /v1/program/draft": Case(PROGRAM_READ, lambda c, w: c.get("/v1/program/draft"), _no_draft),
    "DELETE /v1/program/draft": Case(
        PROGRAM_WRITE, lambda c, w: c.delete("/v1/program/draft"), _no_draft
    ),
    "POST /v1/program/publish": Case(
        PROGRAM_WRITE, lambda c, w: c.post("/v1/program/publish"), _no_draft
    ),
    "GET /v1/program/versions": Case(
        PROGRAM_READ, lambda c, w: c.get("/v1/program/versions"), _own_versions
    ),
    "GET /v1/program/versions/{version}": Case(
        PROGRAM_READ, lambda c, w: c.get("/v1/program/versions/1"), _own_version
    ),
    "POST /v1/events/preview": Case(
        EVENTS_WRITE, lambda c, w: c.post("/v1/events/preview", json=w.event), _own_preview
    ),
    "PUT /v1/members/{external_id}": Case(
        MEMBERS_WRITE,
        lambda c, w: c.put(f"/v1/members/{ALICE}", json={"email": "evil@b.example"}),
        _put_member,
    ),
    "GET /v1/members/{external_id}": Case(
        MEMBERS_READ, lambda c, w: c.get(f"/v1/members/{ALICE}"), _not_found
    ),
    "GET /v1/members": Case(MEMBERS_READ, lambda c, w: c.get("/v1/members"), _list_members),
    "GET /v1/members/{external_id}/transactions": Case(
        MEMBERS_READ, lambda c, w: c.get(f"/v1/members/{ALICE}/transactions"), _not_found
    ),
    "POST /v1/members/{external_id}/adjustments": Case(
        POINTS_WRITE,
        lambda c, w: c.post(
            f"/v1/members/{ALICE}/adjustments", json={"points": -100, "reason": "from B"}
        ),
        _not_found,
    ),
    "POST /v1/members/{external_id}/redemptions": Case(
        POINTS_WRITE,
        lambda c, w: c.post(
            f"/v1/members/{ALICE}/redemptions",
            json=w.redemption,
            headers={"Idempotency-Key": w.redemption_key},
        ),
        _not_found,
    ),
    "POST /v1/members/{external_id}/tokens": Case(
        MEMBERS_READ,
        lambda c, w: c.post(f"/v1/members/{ALICE}/tokens"),
        _token_for_own_shop,
    ),
    "DELETE /v1/members/{external_id}": Case(
        MEMBERS_WRITE, lambda c, w: c.delete(f"/v1/members/{ALICE}"), _not_found
    ),
    "GET /v1/members/{external_id}/export": Case(
        MEMBERS_READ, lambda c, w: c.get(f"/v1/members/{ALICE}/export"), _not_found
    ),
    "POST /v1/members/{external_id}/merge": Case(
        MEMBERS_WRITE,
        lambda c, w: c.post(
            f"/v1/members/{ALICE}/merge",
            json={"from": CAROL},
            headers={"Idempotency-Key": "merge-1"},
        ),
        _not_found,
    ),
    "GET /v1/events/{event_id}": Case(
        EVENTS_READ, lambda c, w: c.get(f"/v1/events/{w.event['id']}"), _event_not_found
    ),
    "POST /v1/events": Case(
        EVENTS_WRITE, lambda c, w: c.post("/v1/events", json=w.event), _post_event
    ),
    "POST /v1/events/batch": Case(
        EVENTS_WRITE,
        lambda c, w: c.post("/v1/events/batch", json={"events": [w.event]}),
        _post_batch,
    ),
}

ALL = sorted(set(ENDPOINTS) | set(CASES))


def case_for(endpoint: str) -> Case:
    if endpoint not in ENDPOINTS:
        pytest.fail(f"CASES has {endpoint}, which the application no longer serves")
    if endpoint not in CASES:
        pytest.fail(f"{endpoint} has no case in CASES: say how it keeps tenants apart")
    return CASES[endpoint]


def test_the_application_serves_the_endpoints_enumerated(anon: httpx.Client) -> None:
    """The table is checked against what the running server publishes, not only a copy."""
    paths = anon.get("/openapi.json").json()["paths"]
    live = sorted(
        f"{m.upper()} {p}" for p, ops in paths.items() if p.startswith("/v1/") for m in ops
    )
    assert live == ENDPOINTS
    assert len(ENDPOINTS) >= 10


@pytest.mark.parametrize("endpoint", ALL)
def test_another_tenants_key_neither_sees_nor_changes_a_tenants_data(
    endpoint: str, world: World, db: Database
) -> None:
    case = case_for(endpoint)
    before = snapshot(world)
    response = case.send(world.b_client, world)
    case.check(response, world)
    assert snapshot(world) == before
    assert violations(db, world.a) == []
    assert violations(db, world.b) == []


class TestAuthentication:
    @pytest.mark.parametrize("endpoint", ALL)
    def test_a_request_without_authorization_is_401(
        self, endpoint: str, world: World, anon: httpx.Client
    ) -> None:
        case = case_for(endpoint)
        before = snapshot(world)
        assert_problem(case.send(anon, world), 401)
        assert snapshot(world) == before

    @pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Token pk_abc"])
    def test_a_malformed_authorization_header_is_401(
        self, header: str, world: World, anon: httpx.Client
    ) -> None:
        assert_problem(anon.get("/v1/members", headers={"Authorization": header}), 401)

    @pytest.mark.parametrize("endpoint", ALL)
    def test_a_wrong_key_is_401(self, endpoint: str, world: World, anon: httpx.Client) -> None:
        case = case_for(endpoint)
        wrong = world.a.key[:-4] + ("AAAA" if not world.a.key.endswith("AAAA") else "BBBB")
        anon.headers.update(_bearer(wrong))
        before = snapshot(world)
        assert_problem(case.send(anon, world), 401)
        assert snapshot(world) == before

    @pytest.mark.parametrize("endpoint", ALL)
    def test_a_revoked_key_is_401(
        self, endpoint: str, world: World, anon: httpx.Client, db: Database, clock: FrozenClock
    ) -> None:
        case = case_for(endpoint)
        key = add_key(db, world.a, now=clock.now(), scopes=None)
        anon.headers.update(_bearer(key))
        assert anon.get("/v1/members").status_code == 200  # it worked before
        with db.unit_of_work() as session:
            auth.revoke_key(session, tenant_id=world.a.tenant_id, prefix=key[:10], now=clock.now())
        before = snapshot(world)
        assert_problem(case.send(anon, world), 401)
        assert snapshot(world) == before

    @pytest.mark.parametrize("endpoint", ALL)
    def test_a_key_without_the_needed_scope_is_403(
        self, endpoint: str, world: World, anon: httpx.Client, db: Database, clock: FrozenClock
    ) -> None:
        case = case_for(endpoint)
        others = [s for s in ALL_SCOPES if s != case.scope]
        anon.headers.update(_bearer(add_key(db, world.a, now=clock.now(), scopes=others)))
        before = snapshot(world)
        response = case.send(anon, world)
        assert_problem(response, 403)
        assert case.scope in response.json()["detail"]
        assert snapshot(world) == before

    @pytest.mark.parametrize("endpoint", ALL)
    def test_a_key_with_only_the_needed_scope_is_let_in(
        self, endpoint: str, world: World, anon: httpx.Client, db: Database, clock: FrozenClock
    ) -> None:
        case = case_for(endpoint)
        anon.headers.update(_bearer(add_key(db, world.a, now=clock.now(), scopes=[case.scope])))
        response = case.send(anon, world)
        assert response.status_code < 400, response.text
