import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import false, func, or_, select, update
from sqlalchemy.orm import Session

from patron.db import bulk
from patron.db.bulk import Op
from patron.orders.models import Order
from patron.orders.state import OrderState

_FIELDS = (
    "id",
    "order_id",
    "member_id",
    "customer_external_id",
    "currency",
    "total",
    "subtotal",
    "refunded",
    "status",
    "points_earned",
    "points_reversed",
    "placed_at",
    "event_id",
    "earning",
)


def lock_many(
    session: Session, tenant_id: uuid.UUID, order_ids: Sequence[str]
) -> dict[str, OrderState]:
    """The orders with these ids, locked in order-id order."""
    if not order_ids:
        return {}
    stmt = (
        select(*(getattr(Order, f) for f in _FIELDS))
        .where(
            Order.tenant_id == tenant_id,
            bulk.one_of(session, Order.order_id, sorted(set(order_ids))),
        )
        .order_by(Order.order_id)
        .with_for_update()
    )
    return {row.order_id: OrderState(**row._asdict()) for row in session.connection().execute(stmt)}


def insert_op(tenant_id: uuid.UUID, orders: Iterable[OrderState]) -> Op:
    """Insert new orders; the op's result lists the order ids inserted (one reported at the
    same moment by another event is left out)."""
    # In order-id order: concurrent batches placing the same ids wait on the unique index in
    # one order, and cannot deadlock.
    rows = [
        dict(tenant_id=tenant_id, **{f: getattr(o, f) for f in _FIELDS})
        for o in sorted(orders, key=lambda o: o.order_id)
    ]
    return Op(
        "insert_ignore",
        Order.__table__,
        rows,
        conflict=("tenant_id", "order_id"),
        returning="order_id",
    )


def update_op(tenant_id: uuid.UUID, orders: Iterable[OrderState]) -> Op:
    return Op(
        "update",
        Order.__table__,
        [
            dict(
                tenant_id=tenant_id,
                id=o.id,
                refunded=o.refunded,
                status=o.status,
                points_reversed=o.points_reversed,
                earning=o.earning,
            )
            for o in orders
        ],
    )


def other_currency(session: Session, tenant_id: uuid.UUID, currency: str) -> str | None:
    """A currency, other than `currency`, that some order of the tenant was placed in."""
    stmt = (
        select(Order.currency)
        .where(Order.tenant_id == tenant_id, Order.currency != currency)
        .limit(1)
    )
    return session.execute(stmt).scalar_one_or_none()


# -- erasure, export, merges (patron.orders.privacy) ------------------------------------------


def _of(session: Session, member_ids: Sequence[uuid.UUID], order_ids: Sequence[str]) -> Any:
    """Orders of these members, or with these order ids."""
    found = []
    if member_ids:
        found.append(bulk.one_of(session, Order.member_id, member_ids))
    if order_ids:
        found.append(bulk.one_of(session, Order.order_id, order_ids))
    return or_(*found) if found else false()


def of_members(
    session: Session,
    tenant_id: uuid.UUID,
    member_ids: Sequence[uuid.UUID],
    order_ids: Sequence[str] = (),
    *,
    lock: bool = False,
) -> list[Order]:
    """The orders of these members, and those with these ids, in order-id order (locked in
    that order with `lock`, as ingestion locks orders)."""
    stmt = (
        select(Order)
        .where(Order.tenant_id == tenant_id, _of(session, member_ids, order_ids))
        .order_by(Order.order_id)
    )
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return list(session.execute(stmt).scalars())


def held_elsewhere(session: Session, tenant_id: uuid.UUID, member_id: uuid.UUID) -> int:
    """How many of the member's orders another transaction holds locked (PostgreSQL; 0 on
    SQLite, where one writer runs at a time)."""
    every = session.execute(
        select(func.count()).where(Order.tenant_id == tenant_id, Order.member_id == member_id)
    ).scalar_one()
    free = session.execute(
        select(Order.id)
        .where(Order.tenant_id == tenant_id, Order.member_id == member_id)
        .with_for_update(skip_locked=True)
    ).all()
    return int(every) - len(free)


def repoint(session: Session, tenant_id: uuid.UUID, source: uuid.UUID, target: uuid.UUID) -> int:
    """Give one member's orders to another; returns how many."""
    result = session.execute(
        update(Order)
        .where(Order.tenant_id == tenant_id, Order.member_id == source)
        .values(member_id=target)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
