"""Schemathesis runs every operation of the OpenAPI document against the real server (the
suite's, on SQLite or PostgreSQL), authenticated as a shop that went through the README's
tour, so the documented examples (`cust_1042`, `evt_1001`) name things that exist. Each
response must come from no server error, have a documented status and content type, and match
its documented schema; a request that breaks the document must be refused with a 4xx, and an
operation that needs a key must refuse a request without one.

The number of generated requests per operation is bounded (MAX_EXAMPLES) to keep the suite's
time in budget; a failure prints the request that reproduces it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from patron.app import create_app
from patron.config import Settings
from patron.db.session import Database
from patron.kit.clock import FrozenClock
from patron.openapi import examples
from tests.conftest import SwitchableClock
from tests.factories import create_shop

# Generated requests per operation: enough to find the usual faults in the suite's time budget,
# the same requests on every run (so a red CI means a change broke something). Setting
# PATRON_CONTRACT_EXAMPLES (say 400) runs a deeper search, with new requests each time.
DEEP = os.environ.get("PATRON_CONTRACT_EXAMPLES")
MAX_EXAMPLES = int(DEEP or 40)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    missing_required_header,
    ignored_auth,
]


def _document() -> dict[str, Any]:
    app = create_app(Settings(database_url="sqlite://", jobs_interval=0))
    try:
        return app.openapi()
    finally:
        app.state.db.dispose()


schema = schemathesis.openapi.from_dict(_document())

# Schemathesis is told that requests carry a key (an auth provider), so that the cases that
# leave it out on purpose, to check that an operation refuses them, go without one. It builds
# some cases before the test's shop exists: they carry this placeholder, which each request
# swaps for the shop's key.
PLACEHOLDER = "Bearer the-shop-key"


@schema.auth(refresh_interval=None)
class ShopKey:
    def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> str:
        return PLACEHOLDER

    def set(self, case: schemathesis.Case, data: str, context: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": data}


class Toured:
    """The test's shop, and the statuses its requests got."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.statuses: list[int] = []
        self.failed = False


@pytest.fixture
def toured(db: Database, base_url: str, server_clock: SwitchableClock) -> Iterator[Toured]:
    """A shop after the README's tour, on a clock just after the examples' times. At least
    one of the test's requests must succeed, or the operation was never really exercised
    (every request refused for its key, say)."""
    clock = FrozenClock(datetime(2026, 11, 22, 12, 0, tzinfo=UTC))
    server_clock.target = clock
    shop = create_shop(db, now=clock.now(), publish=False)
    headers = {"Authorization": f"Bearer {shop.key}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        steps = [
            client.put("/v1/program", json=examples.PROGRAM_IN),
            client.post("/v1/events", json=examples.ORDER_PLACED),
            client.post(
                "/v1/events/batch",
                json={"events": [examples.ORDER_PLACED_WITH_LINES, examples.ORDER_REFUNDED]},
            ),
            client.post(
                "/v1/members/cust_1042/adjustments",
                json={"points": 200, "reason": "Welcome gift"},
            ),
            client.put("/v1/program", params={"draft": "true"}, json=examples.PROGRAM_IN),
        ]
        assert [r.status_code for r in steps] == [200, 201, 200, 201, 200], [r.text for r in steps]
        toured = Toured(shop.key)
        yield toured
    statuses = sorted(set(toured.statuses))
    if not toured.failed:  # else the test's own failure says more
        assert any(200 <= s < 300 for s in statuses), f"no request succeeded: {statuses}"


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=not DEEP,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_keeps_its_contract(
    case: schemathesis.Case, base_url: str, toured: Toured
) -> None:
    if (case.headers or {}).get("Authorization") == PLACEHOLDER:
        case.headers["Authorization"] = f"Bearer {toured.key}"
    try:
        response = case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=30)
    except BaseException:
        toured.failed = True
        raise
    toured.statuses.append(response.status_code)
