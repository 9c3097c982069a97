"""Ingesting events: stored once, applied once, in one transaction, with set-based writes.

One path serves a single event and a batch of a thousand: claim the ids, lock what the events
touch (orders, then members, each in key order so concurrent batches cannot deadlock), apply
each event in memory through the ledger engine, then write every table with one statement.

Idempotency: the claim is `INSERT ... ON CONFLICT DO NOTHING` on (tenant, event id). A
duplicate that arrives while the first is still in flight waits on the unique index until the
first commits, then finds it stored and returns its result.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from patron.db import bulk
from patron.db.bulk import Op
from patron.errors import InvalidInput
from patron.events.errors import EventConflict, EventNotFound, OrderExists
from patron.events.models import Event
from patron.events.schemas import (
    MemberEnrolled,
    OrderCancelled,
    OrderPlaced,
    OrderRefunded,
)
from patron.flows import enrolment, orders
from patron.flows.context import Applied, Ingestion
from patron.kit.ids import uuid7
from patron.ledger.engine import Terms, settle
from patron.ledger.repository import Changes, ledger_ops, load_lots
from patron.ledger.service import posting_out
from patron.members import repository as member_repo
from patron.members.service import members as member_service
from patron.orders import repository as order_repo
from patron.programs.schemas import Program

AnyEvent = OrderPlaced | OrderRefunded | OrderCancelled | MemberEnrolled
# How far ahead of the server clock an event's time may be (clock skew between systems).
FUTURE_TOLERANCE = timedelta(hours=1)


def body_hash(payload: dict[str, Any]) -> str:
    """SHA-256 of the event as validated (so key order and spacing do not matter)."""
    canonical = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


@dataclass
class _Item:
    index: int
    event: AnyEvent
    payload: dict[str, Any]
    hash: str
    row_id: uuid.UUID = field(default_factory=uuid7)
    result: dict[str, Any] | None = None
    duplicate_of: int | None = None


class EventService:
    def ingest(
        self,
        session: Session,
        *,
        tenant_id: uuid.UUID,
        program: Program,
        events: Sequence[AnyEvent],
        now: datetime,
        field_prefix: str = "events.{i}.",
    ) -> list[dict[str, Any]]:
        """Apply events and return one result per event, in the order given. Any invalid
        event fails the whole call and nothing is stored."""
        payloads = [e.model_dump(mode="json") for e in events]
        items = [
            _Item(i, e, p, body_hash(p))
            for i, (e, p) in enumerate(zip(events, payloads, strict=True))
        ]
        prefix = [field_prefix.format(i=i) for i in range(len(items))]
        fresh = self._dedupe_within(items, prefix)
        fresh = self._claim(session, tenant_id, fresh, prefix, now)
        if fresh:
            self._apply(session, tenant_id, program, fresh, prefix, now)
        for item in items:
            if item.duplicate_of is not None:
                item.result = {**items[item.duplicate_of].result, "duplicate": True}  # type: ignore[dict-item]
        return [item.result for item in items]  # type: ignore[misc]

    def get_result(
        self, session: Session, *, tenant_id: uuid.UUID, event_id: str
    ) -> dict[str, Any]:
        result = session.execute(
            select(Event.result).where(Event.tenant_id == tenant_id, Event.external_id == event_id)
        ).scalar_one_or_none()
        if result is None:
            raise EventNotFound(f"no event with id {event_id!r}", field="event_id")
        return dict(result)

    # -- idempotency ----------------------------------------------------------------------

    def _dedupe_within(self, items: list[_Item], prefix: list[str]) -> list[_Item]:
        first: dict[str, _Item] = {}
        for item in items:
            seen = first.get(item.event.id)
            if seen is None:
                first[item.event.id] = item
            elif seen.hash != item.hash:
                raise EventConflict(
                    f"event id {item.event.id!r} appears twice in the batch with different content",
                    field=f"{prefix[item.index]}id",
                )
            else:
                item.duplicate_of = seen.index
        return list(first.values())

    def _claim(
        self,
        session: Session,
        tenant_id: uuid.UUID,
        items: list[_Item],
        prefix: list[str],
        now: datetime,
    ) -> list[_Item]:
        """Insert the events; those already stored are replays: fill in their first result
        and return only the new ones."""
        rows = sorted(
            (
                dict(
                    tenant_id=tenant_id,
                    id=it.row_id,
                    external_id=it.event.id,
                    type=it.event.type,
                    occurred_at=it.event.occurred_at,
                    received_at=now,
                    customer_external_id=it.event.customer.external_id,
                    member_id=None,
                    body_hash=it.hash,
                    payload=it.payload,
                    status="processing",
                    result={},
                )
                for it in items
            ),
            key=lambda r: str(r["external_id"]),
        )
        claim = Op(
            "insert_ignore",
            Event.__table__,
            rows,
            conflict=("tenant_id", "external_id"),
            returning="external_id",
        )
        bulk.execute(session, [claim])
        inserted = set(claim.result)
        replays = [it for it in items if it.event.id not in inserted]
        if replays:
            stored = {
                row.external_id: row
                for row in session.execute(
                    select(Event.external_id, Event.body_hash, Event.result).where(
                        Event.tenant_id == tenant_id,
                        bulk.one_of(session, Event.external_id, [it.event.id for it in replays]),
                    )
                )
            }
            for it in replays:
                row = stored[it.event.id]
                if row.body_hash != it.hash:
                    raise EventConflict(
                        f"event id {it.event.id!r} was sent before with different content",
                        field=f"{prefix[it.index]}id",
                    )
                it.result = {**row.result, "duplicate": True}
        return [it for it in items if it.event.id in inserted]

    # -- applying -------------------------------------------------------------------------

    def _apply(
        self,
        session: Session,
        tenant_id: uuid.UUID,
        program: Program,
        items: list[_Item],
        prefix: list[str],
        now: datetime,
    ) -> None:
        for it in items:
            if it.event.occurred_at > now + FUTURE_TOLERANCE:
                raise InvalidInput(
                    "occurred_at is in the future", field=f"{prefix[it.index]}occurred_at"
                )
        # Only refunds and cancellations read stored orders. An order placed twice is caught
        # by the unique index when the batch is written, which saves the common case a read.
        reversed_ids = {
            it.event.data.order_id
            for it in items
            if isinstance(it.event, OrderRefunded | OrderCancelled)
        }
        known_orders = order_repo.lock_many(session, tenant_id, sorted(reversed_ids))
        customers = {it.event.customer.external_id for it in items}
        customers |= {o.customer_external_id for o in known_orders.values()}
        member_states = member_repo.lock_states(session, tenant_id, customers)
        joiners = self._enrol_joiners(session, tenant_id, program, items, member_states, now)
        if joiners:
            joined = member_repo.lock_states(session, tenant_id, joiners)
            for external_id, state in joined.items():
                state.joined_by = joiners[external_id]
            member_states.update(joined)
        # Claw-backs consume lots: load the open lots of the members whose orders these
        # events reverse, whether the order was stored before or is placed in this batch.
        owners = {o.customer_external_id for o in known_orders.values()}
        owners |= {
            it.event.customer.external_id
            for it in items
            if isinstance(it.event, OrderPlaced) and it.event.data.order_id in reversed_ids
        }
        reversing = [member_states[c] for c in owners if c in member_states]
        load_lots(session, tenant_id, [m.book for m in reversing])

        ctx = Ingestion(
            tenant_id=tenant_id,
            program=program,
            now=now,
            terms=Terms(program.version, program.negative_balance, program.expiry_days),
            members=member_states,
            orders=known_orders,
            changes=Changes(),
        )
        # Claw-backs are debits: bring those members' books to now first, as every debit does.
        for state in reversing:
            settled = settle(state.book, now=now, terms=ctx.terms)
            if settled:
                ctx.post(state, settled)
        for it in items:
            ctx.index, ctx.path = it.index, prefix[it.index]
            applied = self._dispatch(ctx, it.event, it.row_id)
            it.result = _result(it.event, applied)

        self._write(session, ctx, items, prefix)

    def _dispatch(self, ctx: Ingestion, event: AnyEvent, event_row: uuid.UUID) -> Applied:
        if isinstance(event, OrderPlaced):
            return orders.order_placed(ctx, event, event_row)
        if isinstance(event, OrderRefunded):
            return orders.order_refunded(ctx, event, event_row)
        if isinstance(event, OrderCancelled):
            return orders.order_cancelled(ctx, event, event_row)
        return enrolment.member_enrolled(ctx, event)

    def _enrol_joiners(
        self,
        session: Session,
        tenant_id: uuid.UUID,
        program: Program,
        items: list[_Item],
        existing: dict[str, Any],
        now: datetime,
    ) -> dict[str, int]:
        """Create the members these events will enrol, before applying anything, so that
        every posting has its member row. Returns external id -> index of the enrolling
        event; events before it still see a non-member."""
        joiners: dict[str, tuple[int, dict[str, Any]]] = {}
        for it in items:
            customer = it.event.customer
            if customer.external_id in existing or customer.external_id in joiners:
                continue
            if isinstance(it.event, MemberEnrolled):
                via = it.event.data.source
                extra = dict(
                    birthday=it.event.data.birthday,
                    accepts_marketing=it.event.data.accepts_marketing,
                )
            elif isinstance(it.event, OrderPlaced) and program.auto_enroll:
                via, extra = "checkout", {}
            else:
                continue
            joiners[customer.external_id] = (
                it.index,
                dict(
                    external_id=customer.external_id,
                    email=customer.email,
                    name=customer.name,
                    enrolled_via=via,
                    **extra,
                ),
            )
        if joiners:
            member_service.enrol_many(
                session, tenant_id=tenant_id, now=now, members=[m for _, m in joiners.values()]
            )
        return {external_id: index for external_id, (index, _) in joiners.items()}

    def _write(
        self, session: Session, ctx: Ingestion, items: list[_Item], prefix: list[str]
    ) -> None:
        """Everything the events changed, in one statement on PostgreSQL."""
        tenant_id = ctx.tenant_id
        new_orders = [o for o in ctx.orders.values() if o.is_new]
        orders_insert = order_repo.insert_op(tenant_id, new_orders)
        ops = [
            orders_insert,
            order_repo.update_op(
                tenant_id, [o for o in ctx.orders.values() if o.changed and not o.is_new]
            ),
            member_repo.states_op(tenant_id, ctx.members.values()),
            *ledger_ops(tenant_id, ctx.changes, update_members=False),
            Op(
                "update",
                Event.__table__,
                [
                    dict(
                        tenant_id=tenant_id,
                        id=it.row_id,
                        status=it.result["status"],  # type: ignore[index]
                        member_id=ctx.member_ids.get(it.index),
                        result=it.result,
                    )
                    for it in items
                ],
            ),
        ]
        bulk.execute(session, ops)
        inserted = set(orders_insert.result)
        for order in new_orders:
            if order.order_id not in inserted:  # reported at the same moment by another event
                index = next(it.index for it in items if it.row_id == order.event_id)
                raise OrderExists(
                    f"order {order.order_id!r} was already reported",
                    field=f"{prefix[index]}data.order_id",
                )


def _result(event: AnyEvent, applied: Applied) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "status": applied.status,
        "duplicate": False,
        "member": applied.member,
        "enrolled": applied.enrolled,
        "points": sum(p.points for p in applied.postings),
        "message": applied.message,
        "postings": [posting_out(p) for p in applied.postings],
    }


events = EventService()
