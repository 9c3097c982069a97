import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from patron.db import bulk
from patron.db.bulk import Op
from patron.events.models import Event

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
