import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import select
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
