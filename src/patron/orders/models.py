import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from patron.db.base import Base, Points, TenantScoped


class Order(TenantScoped, Base):
    """An order as the shop reported it. Kept for non-members too (member_id null), so
    member-versus-non-member figures can be drawn later."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("uq_orders_tenant_id_order_id", "tenant_id", "order_id", unique=True),
        Index("ix_orders_tenant_id_member_id", "tenant_id", "member_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # The shop's order id.
    order_id: Mapped[str] = mapped_column(String(255))
    member_id: Mapped[uuid.UUID | None]
    customer_external_id: Mapped[str] = mapped_column(String(255))
    currency: Mapped[str] = mapped_column(String(3))
    # Minor units of `currency`.
    total: Mapped[int] = mapped_column(Points)
    subtotal: Mapped[int | None] = mapped_column(Points)
    refunded: Mapped[int] = mapped_column(Points, default=0)
    # placed | cancelled
    status: Mapped[str] = mapped_column(String(20))
    # Points the order earned, and how many of them have been taken back (clawed back or
    # written off). reversed <= earned always.
    points_earned: Mapped[int] = mapped_column(Points, default=0)
    points_reversed: Mapped[int] = mapped_column(Points, default=0)
    placed_at: Mapped[datetime]
    event_id: Mapped[uuid.UUID]
    # How the points were earned, as the refunds reverse them (patron.orders.earning): each
    # share of the order (a line, shipping, tax, the order's own bonuses) with the points each
    # rule gave it and the part refunded so far. Null for orders placed before rules existed
    # or that earned nothing.
    earning: Mapped[dict[str, Any] | None]
