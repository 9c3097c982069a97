"""verify-ledger finds references to rows that do not exist (the hot tables carry no foreign
keys, so this check is what guards them)."""

import uuid

import httpx
from sqlalchemy import delete, insert

from patron.db.session import Database
from patron.kit.clock import FrozenClock
from patron.ledger.models import Entry, Lot
from tests.factories import Shop, order_placed, violations


def test_an_entry_whose_posting_is_missing_is_reported(db: Database, shop: Shop) -> None:
    stray = uuid.uuid4()
    with db.unit_of_work() as s:
        s.execute(
            insert(Entry).values(
                tenant_id=shop.tenant_id,
                id=stray,
                posting_id=uuid.uuid4(),
                wallet_id=None,
                account="issued",
                asset="points",
                amount=0,
            )
        )
    try:
        found = violations(db, shop)
        assert [(v.check, v.subject) for v in found if v.check == "references_exist"] == [
            ("references_exist", f"entry {stray.hex if db.dialect == 'sqlite' else stray}")
        ]
    finally:
        with db.unit_of_work() as s:
            s.execute(delete(Entry).where(Entry.tenant_id == shop.tenant_id, Entry.id == stray))
    assert violations(db, shop) == []


def test_a_lot_whose_wallet_is_missing_is_reported(
    db: Database, shop: Shop, client: httpx.Client, clock: FrozenClock
) -> None:
    client.post("/v1/events", json=order_placed("c1", "o1", "10", at=clock.now()))
    with db.unit_of_work() as s:
        lot = s.query(Lot).filter(Lot.tenant_id == shop.tenant_id).one()
        real_wallet = lot.wallet_id
        lot.wallet_id = uuid.uuid4()
    try:
        checks = {v.check for v in violations(db, shop)}
        assert "references_exist" in checks
    finally:
        with db.unit_of_work() as s:
            s.query(Lot).filter(Lot.tenant_id == shop.tenant_id).update(
                {Lot.wallet_id: real_wallet}
            )
    assert violations(db, shop) == []
