"""Reading back what stored events did."""

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from patron.events import repository
from patron.events.errors import EventNotFound
from patron.ledger.service import ledger


class EventService:
    def results(
        self, session: Session, *, tenant_id: uuid.UUID, event_ids: Iterable[str]
    ) -> dict[str, tuple[str, dict[str, Any]]]:
        """The stored events among `event_ids`: sender id -> (body hash, the result the first
        ingestion returned)."""
        rows = repository.stored(session, tenant_id, event_ids)
        postings = ledger.postings_of_events(
            session, tenant_id=tenant_id, event_row_ids=[r.id for r in rows.values()]
        )
        return {
            external_id: (
                row.body_hash,
                {
                    "id": row.external_id,
                    "type": row.type,
                    "status": row.status,
                    "duplicate": False,
                    "member": row.result.get("member"),
                    "enrolled": row.result.get("enrolled", False),
                    "points": row.result.get("points", 0),
                    "message": row.result.get("message", ""),
                    "postings": postings.get(row.id, []),
                },
            )
            for external_id, row in rows.items()
        }

    def get_result(
        self, session: Session, *, tenant_id: uuid.UUID, event_id: str
    ) -> dict[str, Any]:
        found = self.results(session, tenant_id=tenant_id, event_ids=[event_id])
        if event_id not in found:
            raise EventNotFound(f"no event with id {event_id!r}", field="event_id")
        return found[event_id][1]


events = EventService()
