"""A client generated from the OpenAPI document by a standard generator
(openapi-python-client) runs the README's API tour against the real server: if the document
lies about a path, a parameter, a body or a response, this fails."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from patron.kit.clock import FrozenClock
from tests.factories import Shop

PACKAGE = "patron_tour_client"


@pytest.fixture(scope="module")
def generated(base_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("client")
    document = root / "openapi.json"
    document.write_bytes(httpx.get(f"{base_url}/openapi.json").content)
    config = root / "config.yml"
    config.write_text(f"package_name_override: {PACKAGE}\npost_hooks: []\n")
    subprocess.run(
        [
            Path(sys.executable).parent / "openapi-python-client",
            "generate",
            "--path",
            str(document),
            "--meta",
            "none",
            "--config",
            str(config),
            "--output-path",
            str(root / PACKAGE),
        ],
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(root))
    try:
        yield root
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def load(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


def api(tag: str, operation: str) -> Any:
    return load(f"api.{tag}.{operation}")


def model(name: str) -> Any:
    return getattr(load("models"), name)


def test_the_readme_tour_through_a_generated_client(
    generated: Path, base_url: str, shop: Shop, clock: FrozenClock
) -> None:
    client = load("client").AuthenticatedClient(base_url=base_url, token=shop.key)
    now = clock.now()

    program = api("program", "publish_program").sync(
        client=client,
        body=model("ProgramPut").from_dict(
            {
                "name": "Bean Club",
                "currency": "USD",
                "points_per_unit": "1",
                "pending_days": 14,
                "expiry_days": 365,
                "negative_balance": "forbid",
            }
        ),
    )
    assert program.name == "Bean Club" and program.pending_days == 14

    order = model("OrderPlaced").from_dict(
        {
            "id": "evt_1001",
            "type": "order.placed",
            "occurred_at": now.isoformat(),
            "customer": {"external_id": "cust_1042", "email": "ada@example.com"},
            "data": {"order_id": "#1001", "currency": "USD", "total": "84.50"},
        }
    )
    result = api("events", "post_event").sync(client=client, body=order)
    assert result.points == 84 and result.status == "applied"
    assert "84 points for order #1001" in result.message

    batch = model("EventBatch").from_dict(
        {
            "events": [
                {
                    "id": "evt_1002",
                    "type": "order.placed",
                    "occurred_at": now.isoformat(),
                    "customer": {"external_id": "cust_2001"},
                    "data": {"order_id": "#1002", "currency": "USD", "total": "19.90"},
                },
                {
                    "id": "evt_1003",
                    "type": "order.refunded",
                    "occurred_at": now.isoformat(),
                    "customer": {"external_id": "cust_1042"},
                    "data": {"order_id": "#1001", "amount": "42.25"},
                },
            ]
        }
    )
    results = api("events", "post_batch").sync(client=client, body=batch).results
    assert [r.points for r in results] == [19, -42]

    member = api("members", "get_member").sync("cust_1042", client=client)
    assert member.points.pending == 42 and member.points.lifetime_earned == 42

    history = api("members", "list_transactions").sync("cust_1042", client=client)
    assert [t.kind for t in history.items] == ["claw_back", "earn"]

    again = api("events", "get_event").sync("evt_1001", client=client)
    assert again.points == 84 and again.duplicate is False


def test_ids_with_slashes_round_trip_through_the_generated_client(
    generated: Path, base_url: str, shop: Shop
) -> None:
    client = load("client").AuthenticatedClient(base_url=base_url, token=shop.key)
    shopify = "gid://shopify/Customer/7001"
    api("members", "put_member").sync(
        shopify, client=client, body=model("MemberUpsert").from_dict({"name": "Ada"})
    )
    member = api("members", "get_member").sync(shopify, client=client)
    assert member.external_id == shopify and member.name == "Ada"


def test_errors_come_back_as_problems_through_the_generated_client(
    generated: Path, base_url: str, shop: Shop
) -> None:
    """The document gives every error status the Problem schema, so the client parses it."""
    client = load("client").AuthenticatedClient(base_url=base_url, token=shop.key)
    missing = api("members", "get_member").sync("cust_9999", client=client)
    assert isinstance(missing, model("Problem"))
    assert missing.status == 404 and missing.title == "Member not found"
    assert [(e.field, e.message) for e in missing.errors] == [
        ("external_id", "no member with external id 'cust_9999'")
    ]
    redemption = model("RedemptionCreate").from_dict({"points": 150})
    refused = api("members", "post_redemption").sync(
        "cust_9999", client=client, body=redemption, idempotency_key="checkout-7f3a"
    )
    assert isinstance(refused, model("Problem")) and refused.status == 404
    anonymous = load("client").Client(base_url=base_url)
    unauthorized = api("members", "get_member").sync("cust_9999", client=anonymous)
    assert isinstance(unauthorized, model("Problem")) and unauthorized.status == 401
