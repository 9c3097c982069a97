"""Storefront access: publishable keys, member tokens, and CORS.

The matrix takes every route the application serves under /v1 (read from the app, so a new
route cannot slip through without a row in CALLS) and sends it, with valid content aimed at
a member, under each kind of storefront credential: the publishable key alone; member A's
token on A's routes and on B's; an expired token; a token signed with another shop's key; a
token whose signing key was revoked. The expected status follows from STOREFRONT (which
routes a storefront may reach, and how); every refusal must leave both shops' data as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import pytest
from fastapi.routing import iter_route_contexts
from typer.testing import CliRunner, Result

from patron.app import create_app
from patron.auth import tokens
from patron.auth.errors import InvalidMemberToken
from patron.auth.scopes import MEMBERS_READ
from patron.auth.service import auth
from patron.cli.main import app as cli
from patron.config import Settings
from patron.db.session import Database
from patron.kit.clock import FrozenClock
from tests.factories import Shop, add_key, create_shop, order_placed, violations
from tests.servers import serving

ALICE = "alice"
BOB = "bob"
SHOPIFY = "gid://shopify/Customer/7001"


def _v1_routes() -> tuple[list[str], list[str]]:
    """Every route the app serves under /v1, read from its router (hidden routes included),
    and the operations its OpenAPI document publishes, to check one against the other."""
    app = create_app(Settings(database_url="sqlite://", jobs_interval=0))
    try:
        served = sorted(
            f"{method} {route.path}"
            for route in iter_route_contexts(app.routes)
            if (route.path or "").startswith("/v1/")
            for method in route.methods or ()
        )
        paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
        published = sorted(
            f"{method.upper()} {path}"
            for path, operations in paths.items()
            if path.startswith("/v1/")
            for method in operations
        )
    finally:
        app.state.db.dispose()
    return served, published


ROUTES, PUBLISHED = _v1_routes()

# The routes a storefront reaches: "public" with a publishable key alone, "member" with a
# publishable key and the member's own token. Every other route takes only a secret key.
STOREFRONT = {
    "GET /v1/program": "public",
    "GET /v1/members/{external_id}": "member",
    "GET /v1/members/{external_id}/transactions": "member",
    "POST /v1/members/{external_id}/redemptions": "member",
}


# -- the world: two shops, each with a publishable key and members with points ------------


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def sign(
    key: str,
    sub: str,
    *,
    iat: datetime,
    lifetime: timedelta = timedelta(hours=1),
    kid: str | None = None,
    claims: dict[str, Any] | None = None,
) -> str:
    """A member token as a shop's backend signs it: HS256 with the SHA-256 hex digest of a
    secret key, `kid` = the key's first 10 characters."""
    payload: dict[str, Any] = {
        "sub": sub,
        "iat": int(iat.timestamp()),
        "exp": int((iat + lifetime).timestamp()),
        **(claims or {}),
    }
    return jwt.encode(payload, _digest(key), algorithm="HS256", headers={"kid": kid or key[:10]})


@dataclass
class World:
    a: Shop
    b: Shop
    a_publishable: str
    b_publishable: str
    a_secret: httpx.Client
    b_secret: httpx.Client
    base_url: str
    now: datetime
    # Shop A's first order event of each member, by member.
    events: dict[str, str]

    def storefront(self, publishable: str, token: str | None = None) -> httpx.Client:
        headers = {"X-Patron-Key": publishable}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)


def _publishable(db: Database, shop: Shop, now: datetime) -> str:
    with db.unit_of_work() as session:
        _, key = auth.create_publishable_key(
            session, tenant_id=shop.tenant_id, name="storefront", now=now
        )
    return key


@pytest.fixture
def world(base_url: str, db: Database, clock: FrozenClock) -> Iterator[World]:
    now = clock.now()
    a = create_shop(
        db,
        now=now,
        program={
            "name": "A's program",
            # Not for shoppers' eyes: a budgeted campaign.
            "rules": [
                {
                    "id": "reviews",
                    "name": "Reviews",
                    "event": "review.written",
                    "points": 10,
                    "budget": 1000,
                }
            ],
        },
    )
    b = create_shop(db, now=now, program={"name": "B's program"})
    with (
        httpx.Client(base_url=base_url, headers=_bearer(a.key), timeout=30) as a_secret,
        httpx.Client(base_url=base_url, headers=_bearer(b.key), timeout=30) as b_secret,
    ):
        events = {}
        for client, prefix in ((a_secret, "A"), (b_secret, "B")):
            for i, customer in enumerate((ALICE, BOB)):
                event = order_placed(customer, f"{prefix}-{i}", "100.00", at=now)
                assert client.post("/v1/events", json=event).status_code == 201
                events.setdefault(customer, event["id"])
        yield World(
            a=a,
            b=b,
            a_publishable=_publishable(db, a, now),
            b_publishable=_publishable(db, b, now),
            a_secret=a_secret,
            b_secret=b_secret,
            base_url=base_url,
            now=now,
            events=events,
        )


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def snapshot(w: World) -> dict[str, bytes]:
    """Everything both shops' secret keys can see, as raw bytes."""
    out = {}
    for name, client in (("a", w.a_secret), ("b", w.b_secret)):
        for path in (
            "/v1/program",
            "/v1/members",
            f"/v1/members/{ALICE}",
            f"/v1/members/{BOB}",
            f"/v1/members/{ALICE}/transactions",
            f"/v1/members/{BOB}/transactions",
        ):
            r = client.get(path)
            assert r.status_code == 200, r.text
            out[f"{name} {path}"] = r.content
    return out


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["errors"], body
    return body


# -- one valid request per route, aimed at a member ---------------------------------------

Send = Callable[[httpx.Client, str, World], httpx.Response]
_n = iter(range(1, 1_000_000))


def _event(member: str, w: World) -> dict[str, Any]:
    return order_placed(member, f"SF-{next(_n)}", "10.00", at=w.now)


CALLS: dict[str, Send] = {
    "GET /v1/program": lambda c, m, w: c.get("/v1/program"),
    "PUT /v1/program": lambda c, m, w: c.put(
        "/v1/program", json={"currency": "USD", "name": "Taken over"}
    ),
    "GET /v1/program/draft": lambda c, m, w: _after(_draft(c), c.get, "/v1/program/draft"),
    "DELETE /v1/program/draft": lambda c, m, w: _after(_draft(c), c.delete, "/v1/program/draft"),
    "POST /v1/program/publish": lambda c, m, w: _after(_draft(c), c.post, "/v1/program/publish"),
    "GET /v1/program/versions": lambda c, m, w: c.get("/v1/program/versions"),
    "GET /v1/program/versions/{version}": lambda c, m, w: c.get("/v1/program/versions/1"),
    "POST /v1/events/preview": lambda c, m, w: c.post("/v1/events/preview", json=_event(m, w)),
    "GET /v1/members": lambda c, m, w: c.get("/v1/members", params={"q": m}),
    "GET /v1/members/{external_id}": lambda c, m, w: c.get(f"/v1/members/{m}"),
    "PUT /v1/members/{external_id}": lambda c, m, w: c.put(
        f"/v1/members/{m}", json={"email": "evil@example.com"}
    ),
    "GET /v1/members/{external_id}/transactions": lambda c, m, w: c.get(
        f"/v1/members/{m}/transactions"
    ),
    "POST /v1/members/{external_id}/adjustments": lambda c, m, w: c.post(
        f"/v1/members/{m}/adjustments", json={"points": 1000, "reason": "storefront"}
    ),
    "POST /v1/members/{external_id}/redemptions": lambda c, m, w: c.post(
        f"/v1/members/{m}/redemptions",
        json={"points": 30, "description": "storefront"},
        headers={"Idempotency-Key": f"sf-{next(_n)}"},
    ),
    "POST /v1/members/{external_id}/tokens": lambda c, m, w: c.post(
        f"/v1/members/{m}/tokens", json={"expires_in": 600}
    ),
    "POST /v1/events": lambda c, m, w: c.post("/v1/events", json=_event(m, w)),
    "POST /v1/events/batch": lambda c, m, w: c.post(
        "/v1/events/batch", json={"events": [_event(m, w)]}
    ),
    "GET /v1/events/{event_id}": lambda c, m, w: c.get(f"/v1/events/{w.events[m]}"),
    "GET /v1/members/{external_id}/export": lambda c, m, w: c.get(f"/v1/members/{m}/export"),
    # Erasing and merging aim at a customer made for them, so that the member stays for the
    # other rows (the PUT is refused to a storefront as the DELETE or POST is).
    "DELETE /v1/members/{external_id}": lambda c, m, w: _after(
        c.put(f"/v1/members/{m}-gone", json={}), c.delete, f"/v1/members/{m}-gone"
    ),
    "POST /v1/members/{external_id}/merge": lambda c, m, w: _after(
        c.put(f"/v1/members/{m}-dup-{(n := next(_n))}", json={}),
        c.post,
        f"/v1/members/{m}/merge",
        json={"from": f"{m}-dup-{n}"},
        headers={"Idempotency-Key": f"merge-{n}"},
    ),
}


def _draft(c: httpx.Client) -> httpx.Response:
    return c.put("/v1/program", params={"draft": "true"}, json={"currency": "USD"})


def _after(
    _: httpx.Response, then: Callable[..., httpx.Response], *a: Any, **k: Any
) -> httpx.Response:
    """The second of two requests (the first prepares it)."""
    return then(*a, **k)


def call_for(route: str) -> Send:
    if route not in ROUTES:
        pytest.fail(f"CALLS has {route}, which the application no longer serves")
    if route not in CALLS:
        pytest.fail(
            f"{route} has no row in CALLS: add one, and say in STOREFRONT whether a "
            "storefront may reach it"
        )
    return CALLS[route]


ALL = sorted(set(ROUTES) | set(CALLS))


def test_every_route_is_enumerated_and_storefront_routes_exist() -> None:
    assert set(PUBLISHED) <= set(ROUTES)
    assert set(STOREFRONT) <= set(ROUTES)
    assert len(ROUTES) >= 12


def test_each_call_succeeds_with_a_secret_key(world: World) -> None:
    """The matrix's requests are valid: a refusal below is the credential's doing."""
    for route in ROUTES:
        response = call_for(route)(world.a_secret, ALICE, world)
        assert response.status_code < 300, (route, response.text)


# -- the matrix ----------------------------------------------------------------------------


def _refused(
    w: World, client: httpx.Client, route: str, member: str, status: int
) -> dict[str, Any]:
    before = snapshot(w)
    body = assert_problem(call_for(route)(client, member, w), status)
    assert snapshot(w) == before
    return body


class TestPublishableKeyAlone:
    @pytest.mark.parametrize("route", ALL)
    def test_reads_only_what_is_public(self, route: str, world: World, db: Database) -> None:
        with world.storefront(world.a_publishable) as client:
            kind = STOREFRONT.get(route)
            if kind == "public":
                before = snapshot(world)
                response = call_for(route)(client, ALICE, world)
                assert response.status_code == 200, response.text
                assert response.json()["name"] == "A's program"
                assert snapshot(world) == before
            elif kind == "member":
                body = _refused(world, client, route, ALICE, 401)
                assert "member token" in body["detail"]
            else:
                body = _refused(world, client, route, ALICE, 403)
                assert body["title"] == "Not for the storefront"
        assert violations(db, world.a) == []


class TestOwnMemberToken:
    @pytest.mark.parametrize("route", ALL)
    def test_reaches_the_members_own_routes_and_nothing_else(
        self, route: str, world: World, db: Database
    ) -> None:
        token = sign(world.a.key, ALICE, iat=world.now)
        with world.storefront(world.a_publishable, token) as client:
            kind = STOREFRONT.get(route)
            if kind is None:
                body = _refused(world, client, route, ALICE, 403)
                assert body["title"] == "Not for the storefront"
                return
            before = snapshot(world)
            response = call_for(route)(client, ALICE, world)
        if route == "POST /v1/members/{external_id}/redemptions":
            assert response.status_code == 201, response.text
            assert response.json()["available"] == 70
            after = snapshot(world)
            changed = {k for k in before if before[k] != after[k]}
            # Alice's points, and the listing that shows them: nothing of Bob's, nor B's.
            assert changed == {
                "a /v1/members",
                f"a /v1/members/{ALICE}",
                f"a /v1/members/{ALICE}/transactions",
            }
        else:
            assert response.status_code == 200, response.text
            assert snapshot(world) == before
            # Exactly what the shop's secret key reads for the same member (of the program,
            # all but the rules, which are the merchant's business).
            expected = call_for(route)(world.a_secret, ALICE, world)
            if route == "GET /v1/program":
                assert (
                    response.json() == {**expected.json(), "rules": [], "custom_events": {}}
                    and expected.json()["rules"]
                )
            else:
                assert response.content == expected.content
        assert violations(db, world.a) == []

    @pytest.mark.parametrize("route", ALL)
    def test_is_refused_on_another_members_routes(self, route: str, world: World) -> None:
        token = sign(world.a.key, ALICE, iat=world.now)
        with world.storefront(world.a_publishable, token) as client:
            if STOREFRONT.get(route) == "public":
                assert call_for(route)(client, BOB, world).status_code == 200
                return
            body = _refused(world, client, route, BOB, 403)
        if STOREFRONT.get(route) == "member":
            assert body["title"] == "Another member"
            assert body["errors"][0]["field"] == "external_id"


# The bad tokens: each must be refused (401) wherever a storefront may go, and gets the
# same 403 as any storefront credential on the other routes.
BadToken = Callable[[World, Database], str]


def _expired(w: World, db: Database) -> str:
    return sign(w.a.key, ALICE, iat=w.now - timedelta(hours=3), lifetime=timedelta(hours=1))


def _other_shops_key(w: World, db: Database) -> str:
    return sign(w.b.key, ALICE, iat=w.now)


def _other_shops_signature(w: World, db: Database) -> str:
    return sign(w.b.key, ALICE, iat=w.now, kid=w.a.key[:10])


def _revoked_key(w: World, db: Database) -> str:
    key = add_key(db, w.a, now=w.now, scopes=None)
    token = sign(key, ALICE, iat=w.now)
    with w.storefront(w.a_publishable, token) as client:
        assert client.get(f"/v1/members/{ALICE}").status_code == 200  # it worked before
    with db.unit_of_work() as session:
        auth.revoke_key(session, tenant_id=w.a.tenant_id, prefix=key[:10], now=w.now)
    return token


BAD_TOKENS: dict[str, tuple[BadToken, str]] = {
    "expired": (_expired, "expired"),
    "signed with another shop's key": (_other_shops_key, "not one of this shop's keys"),
    "another shop's signature under this shop's kid": (
        _other_shops_signature,
        "signature does not match",
    ),
    "signed with a revoked key": (_revoked_key, "was revoked"),
}


class TestBadTokens:
    @pytest.mark.parametrize("bad", sorted(BAD_TOKENS))
    @pytest.mark.parametrize("route", ALL)
    def test_is_refused_everywhere(self, route: str, bad: str, world: World, db: Database) -> None:
        make, words = BAD_TOKENS[bad]
        token = make(world, db)
        with world.storefront(world.a_publishable, token) as client:
            if STOREFRONT.get(route) is None:
                body = _refused(world, client, route, ALICE, 403)
                assert body["title"] == "Not for the storefront"
            else:
                body = _refused(world, client, route, ALICE, 401)
                assert body["title"] == "Invalid member token"
                assert words in body["detail"]
                assert body["errors"][0]["field"] == "Authorization"


# -- each way a credential can be wrong, and what the response says ------------------------


def _get_alice(w: World, headers: dict[str, str]) -> httpx.Response:
    with httpx.Client(base_url=w.base_url, headers=headers, timeout=30) as client:
        return client.get(f"/v1/members/{ALICE}")


def _with(w: World, token: str) -> dict[str, str]:
    return {"X-Patron-Key": w.a_publishable, "Authorization": f"Bearer {token}"}


class TestMemberTokenClaims:
    def test_a_token_a_shop_signs_with_a_standard_library_is_accepted(self, world: World) -> None:
        response = _get_alice(world, _with(world, sign(world.a.key, ALICE, iat=world.now)))
        assert response.status_code == 200, response.text
        assert response.json()["points"]["available"] == 100

    @pytest.mark.parametrize(
        ("lifetime", "accepted"),
        [(timedelta(hours=24), True), (timedelta(hours=24, seconds=1), False)],
    )
    def test_a_token_valid_longer_than_the_maximum_is_refused(
        self, world: World, lifetime: timedelta, accepted: bool
    ) -> None:
        token = sign(world.a.key, ALICE, iat=world.now, lifetime=lifetime)
        response = _get_alice(world, _with(world, token))
        if accepted:
            assert response.status_code == 200, response.text
        else:
            body = assert_problem(response, 401)
            assert "at most 86400 s" in body["detail"]

    def test_a_token_expired_within_a_minute_of_clock_skew_is_still_accepted(
        self, world: World, clock: FrozenClock
    ) -> None:
        token = sign(world.a.key, ALICE, iat=world.now, lifetime=timedelta(minutes=5))
        clock.advance(minutes=5, seconds=30)
        assert _get_alice(world, _with(world, token)).status_code == 200
        clock.advance(minutes=1)
        body = assert_problem(_get_alice(world, _with(world, token)), 401)
        assert "expired at 2026-03-01T12:05:00+00:00" in body["detail"]

    def test_a_token_issued_in_the_future_is_refused(self, world: World) -> None:
        token = sign(world.a.key, ALICE, iat=world.now + timedelta(minutes=10))
        body = assert_problem(_get_alice(world, _with(world, token)), 401)
        assert "issued in the future" in body["detail"]

    def test_a_token_not_valid_yet_is_refused(self, world: World) -> None:
        nbf = int((world.now + timedelta(minutes=10)).timestamp())
        token = sign(world.a.key, ALICE, iat=world.now, claims={"nbf": nbf})
        body = assert_problem(_get_alice(world, _with(world, token)), 401)
        assert "not valid yet" in body["detail"]

    @pytest.mark.parametrize("claim", ["exp", "iat", "sub"])
    def test_a_token_without_a_required_claim_is_refused(self, world: World, claim: str) -> None:
        payload = {
            "sub": ALICE,
            "iat": int(world.now.timestamp()),
            "exp": int(world.now.timestamp()) + 600,
        }
        del payload[claim]
        token = jwt.encode(
            payload, _digest(world.a.key), algorithm="HS256", headers={"kid": world.a.key[:10]}
        )
        body = assert_problem(_get_alice(world, _with(world, token)), 401)
        assert f"`{claim}`" in body["detail"]

    def test_an_unsigned_token_is_refused(self, world: World) -> None:
        token = jwt.encode(
            {"sub": ALICE, "iat": int(world.now.timestamp()), "exp": 4102444800},
            None,
            algorithm="none",
            headers={"kid": world.a.key[:10]},
        )
        body = assert_problem(_get_alice(world, _with(world, token)), 401)
        assert "HS256" in body["detail"]

    def test_a_token_without_kid_is_refused(self, world: World) -> None:
        payload = {"sub": ALICE, "iat": int(world.now.timestamp()), "exp": 4102444800}
        token = jwt.encode(payload, _digest(world.a.key), algorithm="HS256")
        body = assert_problem(_get_alice(world, _with(world, token)), 401)
        assert "`kid`" in body["detail"]

    def test_a_token_signed_with_the_publishable_keys_stored_hash_is_refused(
        self, world: World, db: Database
    ) -> None:
        """Anyone can compute what is stored for a publishable key: it never signs."""
        from patron.auth.service import hash_publishable

        payload = {"sub": ALICE, "iat": int(world.now.timestamp()), "exp": 4102444800}
        token = jwt.encode(
            payload,
            hash_publishable(world.a_publishable),
            algorithm="HS256",
            headers={"kid": world.a_publishable[:10]},
        )
        body = assert_problem(_get_alice(world, _with(world, token)), 401)
        assert "it must name the secret API key" in body["detail"]

    @pytest.mark.parametrize("token", ["a.b.c", "eyJhbGciOiJIUzI1NiJ9.x.y", "..."])
    def test_a_malformed_token_is_refused(self, world: World, token: str) -> None:
        assert_problem(_get_alice(world, _with(world, token)), 401)

    def test_a_token_works_for_an_id_with_slashes(self, world: World) -> None:
        encoded = quote(SHOPIFY, safe="")
        assert world.a_secret.put(f"/v1/members/{encoded}", json={}).status_code == 201
        token = sign(world.a.key, SHOPIFY, iat=world.now)
        with world.storefront(world.a_publishable, token) as client:
            assert client.get(f"/v1/members/{encoded}").status_code == 200
            # The same id, with its slashes taken as path separators, is no route of its own.
            assert client.get(f"/v1/members/{SHOPIFY}").status_code == 404

    def test_a_token_for_a_customer_not_yet_a_member_reads_404(self, world: World) -> None:
        token = sign(world.a.key, "newcomer", iat=world.now)
        with world.storefront(world.a_publishable, token) as client:
            body = assert_problem(client.get("/v1/members/newcomer"), 404)
        assert "newcomer" in body["detail"]

    def test_a_token_can_do_no_more_than_the_key_that_signed_it(
        self, world: World, db: Database
    ) -> None:
        reader = add_key(db, world.a, now=world.now, scopes=[MEMBERS_READ])
        token = sign(reader, ALICE, iat=world.now)
        before = snapshot(world)
        with world.storefront(world.a_publishable, token) as client:
            assert client.get(f"/v1/members/{ALICE}/transactions").status_code == 200
            response = client.post(
                f"/v1/members/{ALICE}/redemptions",
                json={"points": 10},
                headers={"Idempotency-Key": "reader-1"},
            )
        body = assert_problem(response, 403)
        assert (
            "the key that signed this member token lacks the `points:write` scope"
            in (body["detail"])
        )
        assert snapshot(world) == before


class TestHeaders:
    def test_a_member_token_without_the_publishable_key_is_401(self, world: World) -> None:
        token = sign(world.a.key, ALICE, iat=world.now)
        body = assert_problem(_get_alice(world, _bearer(token)), 401)
        assert "X-Patron-Key" in body["detail"]
        assert body["errors"][0]["field"] == "X-Patron-Key"

    def test_a_publishable_key_sent_as_a_bearer_key_is_401_where_it_could_read(
        self, world: World
    ) -> None:
        with httpx.Client(base_url=world.base_url, timeout=30) as client:
            r = client.get("/v1/program", headers=_bearer(world.a_publishable))
        body = assert_problem(r, 401)
        assert "X-Patron-Key" in body["detail"]

    @pytest.mark.parametrize("path", ["/v1/members", f"/v1/members/{ALICE}/adjustments"])
    def test_a_publishable_key_is_never_a_secret_key(self, world: World, path: str) -> None:
        with httpx.Client(base_url=world.base_url, timeout=30) as client:
            if path.endswith("adjustments"):
                r = client.post(
                    path, json={"points": 5, "reason": "x"}, headers=_bearer(world.a_publishable)
                )
            else:
                r = client.get(path, headers=_bearer(world.a_publishable))
        assert_problem(r, 403)

    def test_a_secret_key_in_x_patron_key_is_refused_with_a_warning(self, world: World) -> None:
        with httpx.Client(base_url=world.base_url, timeout=30) as client:
            r = client.get("/v1/program", headers={"X-Patron-Key": world.a.key})
        body = assert_problem(r, 401)
        assert "must never reach a browser" in body["detail"]
        assert body["errors"][0]["field"] == "X-Patron-Key"

    def test_a_secret_key_beside_a_publishable_key_is_refused(self, world: World) -> None:
        body = assert_problem(
            _get_alice(world, {"X-Patron-Key": world.a_publishable, **_bearer(world.a.key)}),
            401,
        )
        assert "never an API key" in body["detail"]

    @pytest.mark.parametrize("key", ["pub_nothing", "", "storefront"])
    def test_an_unknown_publishable_key_is_401(self, world: World, key: str) -> None:
        with httpx.Client(base_url=world.base_url, timeout=30) as client:
            r = client.get("/v1/program", headers={"X-Patron-Key": key})
        body = assert_problem(r, 401)
        assert body["errors"][0]["field"] == "X-Patron-Key"

    def test_a_revoked_publishable_key_is_401_with_or_without_a_token(
        self, world: World, db: Database
    ) -> None:
        token = sign(world.a.key, ALICE, iat=world.now)
        with world.storefront(world.a_publishable, token) as client:
            assert client.get(f"/v1/members/{ALICE}").status_code == 200
            with db.unit_of_work() as session:
                auth.revoke_key(
                    session,
                    tenant_id=world.a.tenant_id,
                    prefix=world.a_publishable[:10],
                    now=world.now,
                )
            body = assert_problem(client.get(f"/v1/members/{ALICE}"), 401)
            assert "revoked" in body["detail"]
        with world.storefront(world.a_publishable) as client:
            assert_problem(client.get("/v1/program"), 401)

    def test_another_shops_publishable_key_with_a_token_of_this_shop_is_401(
        self, world: World
    ) -> None:
        """B also has an alice: A's token must not read her."""
        token = sign(world.a.key, ALICE, iat=world.now)
        with world.storefront(world.b_publishable, token) as client:
            body = assert_problem(client.get(f"/v1/members/{ALICE}"), 401)
        assert "not one of this shop's keys" in body["detail"]

    def test_the_publishable_key_reads_its_own_shops_program(self, world: World) -> None:
        with world.storefront(world.b_publishable) as client:
            assert client.get("/v1/program").json()["name"] == "B's program"

    def test_what_a_publishable_key_shows_of_the_program(self, world: World) -> None:
        """Everything in the program is public to a storefront today. A field added to the
        program reaches every browser: decide whether it may, then add it here (or give the
        storefront a subset)."""
        with world.storefront(world.a_publishable) as client:
            program = client.get("/v1/program").json()
        assert set(program) == {
            "name",
            "currency",
            "points_per_unit",
            "rounding",
            "pending_days",
            "expiry_days",
            "negative_balance",
            "auto_enroll",
            "timezone",
            "earning",
            "rules",
            "custom_events",
            "version",
            "published_at",
        }
        assert program["rules"] == [] and program["custom_events"] == {}


# -- POST /v1/members/{external_id}/tokens ---------------------------------------------------


class TestTokenEndpoint:
    def test_mints_a_token_the_storefront_can_use(self, world: World) -> None:
        r = world.a_secret.post(f"/v1/members/{ALICE}/tokens")
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["external_id"] == ALICE
        assert body["key"] == world.a.key[:10]
        assert body["expires_at"] == "2026-03-01T13:00:00Z"
        claims = jwt.decode(
            body["token"], _digest(world.a.key), algorithms=["HS256"], options={"verify_exp": False}
        )
        assert claims["sub"] == ALICE
        assert claims["exp"] - claims["iat"] == 3600
        with world.storefront(world.a_publishable, body["token"]) as client:
            assert client.get(f"/v1/members/{ALICE}").status_code == 200
            assert client.get(f"/v1/members/{BOB}").status_code == 403

    def test_takes_a_lifetime(self, world: World) -> None:
        r = world.a_secret.post(f"/v1/members/{ALICE}/tokens", json={"expires_in": 600})
        assert r.status_code == 201, r.text
        assert r.json()["expires_at"] == "2026-03-01T12:10:00Z"

    @pytest.mark.parametrize("expires_in", [59, 86401, "soon"])
    def test_refuses_a_lifetime_out_of_bounds(self, world: World, expires_in: Any) -> None:
        r = world.a_secret.post(f"/v1/members/{ALICE}/tokens", json={"expires_in": expires_in})
        body = assert_problem(r, 422)
        assert body["errors"][0]["field"] == "expires_in"

    def test_a_minted_token_ends_with_its_key(self, world: World, db: Database) -> None:
        key = add_key(db, world.a, now=world.now, scopes=None)
        with httpx.Client(base_url=world.base_url, headers=_bearer(key), timeout=30) as c:
            token = c.post(f"/v1/members/{ALICE}/tokens").json()["token"]
        with world.storefront(world.a_publishable, token) as client:
            assert client.get(f"/v1/members/{ALICE}").status_code == 200
            with db.unit_of_work() as session:
                auth.revoke_key(
                    session, tenant_id=world.a.tenant_id, prefix=key[:10], now=world.now
                )
            assert_problem(client.get(f"/v1/members/{ALICE}"), 401)


# -- a server configured for a storefront: CORS origins, a shorter token maximum ------------

SHOP_ORIGIN = "https://shop.example"


@pytest.fixture(scope="module")
def configured_url(db: Database, server_clock: Any) -> Iterator[str]:
    settings = Settings(
        database_url=db.url,
        jobs_interval=0,
        # As an operator might write it: spaces, a trailing slash.
        cors_origins=f" {SHOP_ORIGIN}/ , https://www.shop.example",
        member_token_max_age=600,
    )
    with serving(create_app(settings, clock=server_clock, database=db)) as url:
        yield url


def _preflight(url: str, origin: str, method: str, headers: str) -> httpx.Response:
    return httpx.options(
        f"{url}/v1/members/{ALICE}/redemptions",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
        timeout=30,
    )


STOREFRONT_HEADERS = "authorization, x-patron-key, idempotency-key, content-type"


class TestCors:
    def test_a_preflight_from_an_allowed_origin_is_answered(
        self, configured_url: str, world: World
    ) -> None:
        r = _preflight(configured_url, SHOP_ORIGIN, "POST", STOREFRONT_HEADERS)
        assert r.status_code == 200, r.text
        assert r.headers["access-control-allow-origin"] == SHOP_ORIGIN
        allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
        assert {"authorization", "x-patron-key", "idempotency-key", "content-type"} <= allowed
        assert "POST" in r.headers["access-control-allow-methods"]
        assert "access-control-allow-credentials" not in r.headers

    def test_the_second_configured_origin_is_allowed_too(
        self, configured_url: str, world: World
    ) -> None:
        r = _preflight(configured_url, "https://www.shop.example", "GET", "x-patron-key")
        assert r.status_code == 200, r.text

    def test_a_preflight_from_another_origin_is_refused_as_a_problem(
        self, configured_url: str, world: World
    ) -> None:
        r = _preflight(configured_url, "https://evil.example", "POST", STOREFRONT_HEADERS)
        body = assert_problem(r, 400)
        assert "access-control-allow-origin" not in r.headers
        assert body["errors"][0]["field"] == "Origin"
        assert "https://evil.example" in body["detail"]

    def test_a_preflight_asking_for_another_header_or_method_is_refused(
        self, configured_url: str, world: World
    ) -> None:
        r = _preflight(configured_url, SHOP_ORIGIN, "DELETE", "x-secret")
        body = assert_problem(r, 400)
        fields = {e["field"] for e in body["errors"]}
        assert fields == {"Access-Control-Request-Method", "Access-Control-Request-Headers"}

    def test_a_storefront_request_from_the_allowed_origin_can_be_read_by_the_page(
        self, configured_url: str, world: World
    ) -> None:
        token = sign(world.a.key, ALICE, iat=world.now, lifetime=timedelta(minutes=10))
        headers = {"Origin": SHOP_ORIGIN, **_with(world, token)}
        r = httpx.get(f"{configured_url}/v1/members/{ALICE}", headers=headers, timeout=30)
        assert r.status_code == 200, r.text
        assert r.headers["access-control-allow-origin"] == SHOP_ORIGIN
        # An error is readable too, so the page can show why.
        r = httpx.get(f"{configured_url}/v1/members/{BOB}", headers=headers, timeout=30)
        assert_problem(r, 403)
        assert r.headers["access-control-allow-origin"] == SHOP_ORIGIN

    def test_a_response_to_another_origin_is_not_readable_by_its_page(
        self, configured_url: str, world: World
    ) -> None:
        r = httpx.get(
            f"{configured_url}/v1/program",
            headers={"Origin": "https://evil.example", "X-Patron-Key": world.a_publishable},
            timeout=30,
        )
        assert r.status_code == 200
        assert "access-control-allow-origin" not in r.headers

    def test_without_configured_origins_there_is_no_cors(self, world: World) -> None:
        r = _preflight(world.base_url, SHOP_ORIGIN, "POST", STOREFRONT_HEADERS)
        assert_problem(r, 405)
        assert "access-control-allow-origin" not in r.headers
        with world.storefront(world.a_publishable) as client:
            r = client.get("/v1/program", headers={"Origin": SHOP_ORIGIN})
        assert r.status_code == 200
        assert "access-control-allow-origin" not in r.headers


class TestConfiguredMaximum:
    def test_the_maximum_lifetime_is_the_servers(self, configured_url: str, world: World) -> None:
        hour = sign(world.a.key, ALICE, iat=world.now, lifetime=timedelta(hours=1))
        ten = sign(world.a.key, ALICE, iat=world.now, lifetime=timedelta(minutes=10))
        path = f"{configured_url}/v1/members/{ALICE}"
        body = assert_problem(httpx.get(path, headers=_with(world, hour), timeout=30), 401)
        assert "at most 600 s" in body["detail"]
        assert httpx.get(path, headers=_with(world, ten), timeout=30).status_code == 200
        # The minting endpoint keeps to it as well.
        r = httpx.post(
            f"{configured_url}/v1/members/{ALICE}/tokens",
            headers=_bearer(world.a.key),
            json={"expires_in": 3600},
            timeout=30,
        )
        body = assert_problem(r, 422)
        assert body["errors"][0]["field"] == "expires_in"


# -- patron keys create --publishable ---------------------------------------------------------


def _patron(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--database-url", database_url])


def _line_of(output: str, prefix: str) -> str:
    [line] = [line for line in output.splitlines() if line.startswith(prefix)]
    return line


class TestCommandLine:
    def test_a_publishable_key_is_created_listed_and_revoked_like_a_secret_key(
        self, database_url: str, db: Database, base_url: str, clock: FrozenClock
    ) -> None:
        shop = create_shop(db, now=clock.now())
        created = _patron(database_url, "keys", "create", "--tenant", shop.name, "--publishable")
        assert created.exit_code == 0, created.output
        key = created.stdout.strip()
        assert key.startswith("pub_") and len(key) > 20
        headers = {"X-Patron-Key": key}
        with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
            assert client.get("/v1/program").status_code == 200
            assert client.get("/v1/members").status_code == 403
            listed = _patron(database_url, "keys", "list", "--tenant", shop.name)
            assert listed.exit_code == 0, listed.output
            assert "active" in _line_of(listed.stdout, key[:10])
            assert key[10:] not in listed.stdout
            revoked = _patron(database_url, "keys", "revoke", key[:10], "--tenant", shop.name)
            assert revoked.exit_code == 0, revoked.output
            assert_problem(client.get("/v1/program"), 401)
        listed = _patron(database_url, "keys", "list", "--tenant", shop.name)
        assert "revoked" in _line_of(listed.stdout, key[:10])
        # The secret key the shop was made with is untouched.
        assert "active" in _line_of(listed.stdout, shop.key[:10])

    def test_a_publishable_key_takes_no_scope(
        self, database_url: str, db: Database, clock: FrozenClock
    ) -> None:
        shop = create_shop(db, now=clock.now())
        result = _patron(
            database_url,
            "keys",
            "create",
            "--tenant",
            shop.name,
            "--publishable",
            "--scope",
            "members:read",
        )
        assert result.exit_code == 2
        assert "pub_" not in result.stdout


# -- the claims' types, without a server ---------------------------------------------------

T0 = int(datetime(2026, 3, 1, 12, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("claims", "words"),
    [
        ({"sub": "x", "iat": T0, "exp": "soon"}, "`exp` must be a number"),
        ({"sub": "x", "iat": True, "exp": T0 + 60}, "`iat` must be a number"),
        ({"sub": "x", "iat": T0, "exp": 1e20}, "`exp` is out of range"),
        ({"sub": 5, "iat": T0, "exp": T0 + 60}, "Subject must be a string"),
        ({"sub": "", "iat": T0, "exp": T0 + 60}, "`sub` must be the customer's external id"),
        ({"sub": "x", "iat": T0, "exp": T0}, "expires before it was issued"),
        ({"sub": "x", "iat": T0, "exp": T0 + 60, "nbf": "x"}, "`nbf` must be a number"),
    ],
)
def test_claims_of_the_wrong_type_are_refused_in_words(claims: dict[str, Any], words: str) -> None:
    secret_hash = "a" * 64
    token = jwt.encode(claims, secret_hash.encode(), algorithm="HS256", headers={"kid": "pk_x"})
    with pytest.raises(InvalidMemberToken) as refused:
        tokens.verify(
            token,
            secret_hash=secret_hash,
            now=datetime.fromtimestamp(T0, UTC),
            max_age=timedelta(hours=24),
        )
    assert words in refused.value.detail
    assert refused.value.status_code == 401


def test_fractional_times_are_accepted() -> None:
    secret_hash = "a" * 64
    claims = {"sub": "x", "iat": T0 + 0.5, "exp": T0 + 60.5}
    token = jwt.encode(claims, secret_hash.encode(), algorithm="HS256", headers={"kid": "pk_x"})
    verified = tokens.verify(
        token,
        secret_hash=secret_hash,
        now=datetime.fromtimestamp(T0, UTC),
        max_age=timedelta(hours=24),
    )
    assert verified.external_id == "x"
    assert verified.expires_at == datetime.fromtimestamp(T0 + 60.5, UTC)
