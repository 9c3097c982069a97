"""Reading back what stored events did."""

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from patron.events import repository
from patron.events.errors import EventNotFound
from patron.events.models import Event
from patron.kit.redact import Redactor
from patron.ledger.service import ledger

# Fields of `data` holding ids the shop chose, which an erasure keeps as they are.
IDS = ("order_id",)


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

    def of_customers(
        self, session: Session, *, tenant_id: uuid.UUID, names: Iterable[str]
    ) -> list[Event]:
        return repository.of_customers(session, tenant_id, names)

    def personal_strings(self, stored: Iterable[Event]) -> set[str]:
        """The emails and names the events' customers were sent with: an erasure removes them
        wherever else they were written, even if the member's own record has others now."""
        found: set[str] = set()
        for event in stored:
            customer = event.payload.get("customer") or {}
            found.update(v for k in ("email", "name") if isinstance(v := customer.get(k), str))
        return found

    def erase(
        self,
        stored: Iterable[Event],
        *,
        anonymous: Mapping[str, str],
        kept: Mapping[str, frozenset[str]],
        redact: Redactor,
    ) -> int:
        """Remove the customer's personal data from their stored events (changed in place on
        the session's rows): the customer becomes their anonymous id, with no email or name;
        `data` keeps only the fields its type declares free of personal data (`kept`; an
        undeclared type keeps none); every string left is redacted; the body hash is dropped.
        The event's id, type, times, status and the ledger's rows it made stay, so a replay
        still applies nothing. Returns how many events changed."""
        count = 0
        for event in stored:
            name = event.customer_external_id
            anonymous_id = anonymous.get(name or "", name)
            payload = dict(event.payload)
            data = payload.get("data")
            ids: dict[str, Any] = {}
            if isinstance(data, dict):
                allowed = kept.get(event.type, frozenset())
                data = {k: v for k, v in data.items() if k in allowed}
                ids = {k: data.pop(k) for k in IDS if k in data}
            payload = redact.value({**payload, "data": data})
            # Ids stay as sent (the event's own makes a replay safe; orders are stored by
            # theirs): redacting a customer id found inside one would break the link.
            payload.update(id=event.external_id, customer={"external_id": anonymous_id})
            if ids:
                payload["data"] = {**payload["data"], **ids}
            event.payload = payload
            event.customer_external_id = anonymous_id
            event.result = redact.value(event.result)
            event.body_hash = repository.ERASED_BODY_HASH
            count += 1
        return count


events = EventService()
