import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from patron.db import bulk
from patron.db.bulk import Op
from patron.events.models import Event

# The body hash of an event whose customer's data was erased: the hash of a body that held
# an email or a name is a fingerprint of them, so it goes too. Any replay of the event's id is
# then answered as a duplicate (patron.ingest.pipeline), whatever its body.
ERASED_BODY_HASH = "erased"

_STORED = (
    Event.id,
    Event.external_id,
    Event.type,
    Event.body_hash,
    Event.status,
    Event.result,
)


def stored(
    session: Session, tenant_id: uuid.UUID, external_ids: Iterable[str]
) -> dict[str, Row[Any]]:
    """Stored events by the sender's id: their row id, type, body hash, status and result."""
    ids = list(external_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(*_STORED).where(
            Event.tenant_id == tenant_id, bulk.one_of(session, Event.external_id, ids)
        )
    )
    return {row.external_id: row for row in rows}


def insert_op(rows: list[dict[str, Any]]) -> Op:
    """Insert events; the op's result lists the sender ids inserted (one stored at the same
    moment by another transaction is left out)."""
    return Op(
        "insert_ignore",
        Event.__table__,
        rows,
        conflict=("tenant_id", "external_id"),
        returning="external_id",
    )


def of_customers(session: Session, tenant_id: uuid.UUID, names: Iterable[str]) -> list[Event]:
    """The stored events naming these customer ids, in the order they were received."""
    ids = list(names)
    if not ids:
        return []
    return list(
        session.execute(
            select(Event)
            .where(
                Event.tenant_id == tenant_id,
                bulk.one_of(session, Event.customer_external_id, ids),
            )
            .order_by(Event.id)
        ).scalars()
    )
