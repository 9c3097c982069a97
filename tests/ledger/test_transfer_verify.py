"""verify-ledger understands transfers (a merge's two postings): it accepts a merge's, and
reports half a transfer, or a transfer whose halves do not mirror each other."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
from sqlalchemy import delete, insert, select, update

from patron.db.session import Database
from patron.kit.clock import FrozenClock
from patron.ledger.models import Entry, Posting
from tests.factories import Shop, order_placed, violations


@pytest.fixture
def merged(client: httpx.Client, clock: FrozenClock, db: Database, shop: Shop) -> list[Posting]:
    """A shop where `dup` was merged into `main`: its two transfer postings."""
    for who in ("main", "dup"):
        r = client.post("/v1/events", json=order_placed(who, f"o-{who}", "10.00", at=clock.now()))
        assert r.status_code == 201, r.text
    r = client.post(
        "/v1/members/main/merge", json={"from": "dup"}, headers={"Idempotency-Key": "m"}
    )
    assert r.status_code == 201, r.text
    assert violations(db, shop) == []
    with db.unit_of_work() as s:
        found = list(
            s.execute(
                select(Posting).where(
                    Posting.tenant_id == shop.tenant_id, Posting.kind == "transfer"
                )
            ).scalars()
        )
        for p in found:
            s.expunge(p)
    assert len(found) == 2
    return found


def checks(db: Database, shop: Shop) -> set[str]:
    return {v.check for v in violations(db, shop)}


@pytest.fixture
def restore(db: Database, merged: list[Posting]) -> Iterator[None]:
    yield
    with db.unit_of_work() as s:
        for p in merged:
            s.execute(
                update(Posting)
                .where(Posting.tenant_id == p.tenant_id, Posting.id == p.id)
                .values(detail=p.detail, amount=p.amount)
            )


def test_a_transfer_naming_a_missing_counterpart_is_reported(
    db: Database, shop: Shop, merged: list[Posting], restore: None
) -> None:
    out = merged[0]
    with db.unit_of_work() as s:
        s.execute(
            update(Posting)
            .where(Posting.tenant_id == shop.tenant_id, Posting.id == out.id)
            .values(detail={**out.detail, "counterpart": str(uuid.uuid4())})
        )
    found = [v for v in violations(db, shop) if v.check == "transfer_paired"]
    assert {v.detail for v in found} >= {"its counterpart posting is missing"}


def test_halves_that_do_not_mirror_are_reported(
    db: Database, shop: Shop, merged: list[Posting], restore: None
) -> None:
    with db.unit_of_work() as s:
        s.execute(
            update(Posting)
            .where(Posting.tenant_id == shop.tenant_id, Posting.id == merged[0].id)
            .values(amount=merged[0].amount - 1)
        )
    assert "transfer_paired" in checks(db, shop)


def test_a_clearing_account_that_does_not_net_to_zero_is_reported(
    db: Database, shop: Shop, merged: list[Posting], clock: FrozenClock
) -> None:
    stray = uuid.uuid4()
    with db.unit_of_work() as s:
        s.execute(
            insert(Posting).values(
                tenant_id=shop.tenant_id,
                id=stray,
                wallet_id=merged[0].wallet_id,
                asset="points",
                kind="adjust",
                amount=0,
                reason="stray",
                event_id=None,
                order_id=None,
                program_version=None,
                detail={},
                created_at=datetime.now(clock.now().tzinfo),
            )
        )
        for account, amount in (("transferred", 5), ("adjusted", -5)):
            s.execute(
                insert(Entry).values(
                    tenant_id=shop.tenant_id,
                    id=uuid.uuid4(),
                    posting_id=stray,
                    wallet_id=None,
                    account=account,
                    asset="points",
                    amount=amount,
                )
            )
    try:
        assert checks(db, shop) == {"transfers_net_to_zero"}
    finally:
        with db.unit_of_work() as s:
            s.execute(
                delete(Entry).where(Entry.tenant_id == shop.tenant_id, Entry.posting_id == stray)
            )
            s.execute(
                delete(Posting).where(Posting.tenant_id == shop.tenant_id, Posting.id == stray)
            )
    assert violations(db, shop) == []
