"""The ingestion pipeline: claim, lock and load, apply, write. One path for a single event and
a batch of a thousand.

- claim: events already stored (by the sender's id) are replays: they get their first result
  back and nothing else happens to them; an id sent twice in one batch is applied once.
- lock and load: every slot some handler of the batch's events needs is loaded, in rank order
  (which is the lock order), each with the keys the handlers ask of it.
- apply: each event, in the order sent, through every handler registered for its type: pure
  code over the loaded parts.
- write: every part's operations and the event rows with their results, in one statement on
  PostgreSQL. The event row is written once, with its result.

Idempotency under concurrency: two requests carrying the same new event id both find it
unclaimed; both apply it, and the second's insert of the event row finds the first one's (it
waits on the unique index until the first commits). The second then raises `Retry`: its unit
of work rolls back and runs again, and this time finds the event stored and replays it.

Optimistic ingestion (`claim=False`) skips reading the stored events: almost every event a
shop sends is new, and the read is a round trip. An event that was stored before is then
found by the same unique index when the event rows are written, and any error the attempt
raises may come from applying a replay again; either way the attempt raises `Retry`, and the
caller runs it again with `claim=True`, which tells replays apart before applying anything.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.orm import Session

from patron.db import bulk
from patron.db.session import Retry
from patron.errors import InvalidInput, PatronError
from patron.events import repository as event_repo
from patron.events.errors import EventConflict
from patron.events.schemas import EventBase
from patron.events.service import events as event_service
from patron.ingest.batch import Batch, Item
from patron.ingest.books import BOOKS
from patron.ingest.registry import Registry, Slot, registry
from patron.kit.ids import uuid7
from patron.programs.schemas import Program

# How far ahead of the server clock an event's time may be (clock skew between systems).
FUTURE_TOLERANCE = timedelta(hours=1)


def body_hash(payload: dict[str, Any]) -> str:
    """SHA-256 of the event as validated (so key order and spacing do not matter)."""
    canonical = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


class Pipeline:
    def __init__(self, handlers: Registry) -> None:
        self.registry = handlers

    def ingest(
        self,
        session: Session,
        *,
        tenant_id: uuid.UUID,
        program: Program,
        events: Sequence[EventBase],
        now: datetime,
        field_prefix: str = "events.{i}.",
        claim: bool = True,
    ) -> list[dict[str, Any]]:
        """Apply events and return one result per event, in the order given. Any invalid
        event fails the whole call and nothing is stored. Without `claim`, see the module's
        notes on optimistic ingestion."""
        items = []
        for i, event in enumerate(events):
            payload = event.model_dump(mode="json")
            items.append(
                Item(
                    index=i,
                    event=event,
                    payload=payload,
                    hash=body_hash(payload),
                    path=field_prefix.format(i=i),
                    row_id=uuid7(),
                )
            )
        fresh = self._dedupe(items)
        if claim:
            fresh = self._claim(session, tenant_id, fresh)
        if fresh:
            batch = Batch(tenant_id=tenant_id, program=program, now=now, items=fresh)
            try:
                slots = self._load(session, batch)
                self._apply(batch)
                self._write(session, batch, slots)
            except PatronError:
                if claim:
                    raise
                raise Retry() from None
        for item in items:
            if item.duplicate_of is not None:
                first = items[item.duplicate_of].result
                assert first is not None
                item.result = {**first, "duplicate": True}
        return [item.result for item in items if item.result is not None]

    # -- claim ----------------------------------------------------------------------------

    def _dedupe(self, items: list[Item]) -> list[Item]:
        first: dict[str, Item] = {}
        for item in items:
            seen = first.get(item.event.id)
            if seen is None:
                first[item.event.id] = item
            elif seen.hash != item.hash:
                raise EventConflict(
                    f"event id {item.event.id!r} appears twice in the batch with different content",
                    field=f"{item.path}id",
                )
            else:
                item.duplicate_of = seen.index
        return list(first.values())

    def _claim(self, session: Session, tenant_id: uuid.UUID, items: list[Item]) -> list[Item]:
        """Fill in the results of events stored before; return the others."""
        results = event_service.results(
            session, tenant_id=tenant_id, event_ids=[it.event.id for it in items]
        )
        if not results:
            return items
        fresh = []
        for it in items:
            if it.event.id not in results:
                fresh.append(it)
                continue
            first_hash, result = results[it.event.id]
            # An erased event keeps no hash: its replays are answered, never compared.
            if first_hash not in (it.hash, event_repo.ERASED_BODY_HASH):
                raise EventConflict(
                    f"event id {it.event.id!r} was sent before with different content",
                    field=f"{it.path}id",
                )
            it.result = {**result, "duplicate": True}
        return fresh

    # -- lock and load ----------------------------------------------------------------------

    def _load(self, session: Session, batch: Batch) -> list[Slot[Any]]:
        for it in batch.items:
            if it.event.occurred_at > batch.now + FUTURE_TOLERANCE:
                raise InvalidInput("occurred_at is in the future", field=f"{it.path}occurred_at")
        needed: set[Slot[Any]] = {BOOKS}
        for it in batch.items:
            for h in self.registry.handlers(it.event.type):
                needed.update(h.needs)
        slots = sorted(needed, key=lambda s: s.rank)
        for slot in slots:
            wants = [
                (it, key)
                for it in batch.items
                for h in self.registry.handlers(it.event.type)
                if slot in h.needs
                for key in h.needs[slot](batch, it)
            ]
            batch.current = batch.items[0]
            batch.part(slot).load(session, batch, wants)
        return slots

    # -- apply ----------------------------------------------------------------------------

    def _apply(self, batch: Batch) -> None:
        for it in batch.items:
            batch.current = it
            for h in self.registry.handlers(it.event.type):
                outcome = h.apply(batch, it)
                if outcome is not None:
                    it.outcomes.append(outcome)
            if not it.outcomes:
                raise AssertionError(f"no handler of {it.event.type!r} said what it did")
            it.result = it.render()

    # -- write ----------------------------------------------------------------------------

    def _write(self, session: Session, batch: Batch, slots: list[Slot[Any]]) -> None:
        by_slot = [(batch.part(slot), batch.part(slot).ops(batch)) for slot in slots]
        events_op = event_repo.insert_op(
            [
                dict(
                    tenant_id=batch.tenant_id,
                    id=it.row_id,
                    external_id=it.event.id,
                    type=it.event.type,
                    occurred_at=it.event.occurred_at,
                    received_at=batch.now,
                    customer_external_id=it.event.customer.external_id,
                    member_id=it.member_id,
                    body_hash=it.hash,
                    payload=it.payload,
                    status=it.result["status"] if it.result else None,
                    result={k: it.result[k] for k in ("member", "enrolled", "points", "message")}
                    if it.result
                    else {},
                )
                for it in sorted(batch.items, key=lambda it: it.event.id)
            ]
        )
        bulk.execute(session, [op for _, ops in by_slot for op in ops] + [events_op])
        if len(events_op.result) != len(batch.items):
            # Another transaction stored some of these events while this one applied them.
            raise Retry()
        for part, ops in by_slot:
            part.written(batch, ops)


pipeline = Pipeline(registry)
