"""The orders domain's part in erasing, exporting and merging members
(`patron.members.privacy.Holder`; docs/privacy.md).

An order stays when its customer's data is erased: its amounts and points are the ledger's
history. What goes is the customer id it was placed under, which becomes the customer's
anonymous id. Orders a customer placed before they were a member are found through their
`order.placed` events.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from patron.events.service import events as event_service
from patron.kit.money import format_amount
from patron.members.errors import MemberBusy
from patron.members.models import Member
from patron.members.privacy import Erasing, Subject
from patron.orders import repository
from patron.orders.models import Order


def _placed_by(session: Session, subject: Subject) -> list[str]:
    """The ids of the orders the subject's customer ids placed, member or not."""
    stored = event_service.of_customers(session, tenant_id=subject.tenant_id, names=subject.names)
    return sorted(
        {
            str(e.payload["data"]["order_id"])
            for e in stored
            if e.type == "order.placed" and isinstance(e.payload.get("data"), dict)
        }
    )


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


class OrdersHolder:
    section = "orders"
    # What an erased order event keeps: the order's facts, no customer and no free text.
    kept = {
        "order.placed": frozenset({"order_id", "currency", "total", "subtotal", "lines"}),
        "order.refunded": frozenset({"order_id", "amount", "currency"}),
        "order.cancelled": frozenset({"order_id"}),
    }

    def _orders(self, session: Session, subject: Subject, *, lock: bool = False) -> list[Order]:
        return repository.of_members(
            session, subject.tenant_id, subject.member_ids, _placed_by(session, subject), lock=lock
        )

    def lock(self, session: Session, subject: Subject) -> None:
        self._orders(session, subject, lock=True)

    def export(self, session: Session, subject: Subject) -> list[dict[str, Any]]:
        return [
            {
                "order_id": o.order_id,
                "customer": o.customer_external_id,
                "currency": o.currency,
                "total": format_amount(o.total, o.currency),
                "subtotal": format_amount(o.subtotal, o.currency)
                if o.subtotal is not None
                else None,
                "refunded": format_amount(o.refunded, o.currency),
                "status": o.status,
                "points_earned": o.points_earned,
                "points_reversed": o.points_reversed,
                "placed_at": _iso(o.placed_at),
            }
            for o in self._orders(session, subject)
        ]

    def erase(self, session: Session, subject: Subject, erasing: Erasing) -> None:
        for order in self._orders(session, subject):
            anonymous = erasing.anonymous.get(order.customer_external_id)
            if anonymous is not None:
                order.customer_external_id = anonymous
                erasing.counts["orders"] = erasing.counts.get("orders", 0) + 1

    def merge(self, session: Session, tenant_id: uuid.UUID, source: Member, target: Member) -> int:
        # The duplicate's orders were locked before the members (`lock`). One placed since and
        # now held by a refund in flight would be locked out of order: refused instead.
        if repository.held_elsewhere(session, tenant_id, source.id):
            raise MemberBusy(
                f"an order of {source.external_id!r} is being refunded or cancelled right now: "
                "send the merge again",
                field="from",
            )
        return repository.repoint(session, tenant_id, source.id, target.id)


HOLDER = OrdersHolder()
