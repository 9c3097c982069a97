"""Orders: placed earns points, refunded claws back the refunded share, cancelled reverses
what the order still holds."""

import uuid
from datetime import timedelta

from patron.errors import InvalidInput
from patron.events.errors import OrderExists
from patron.events.schemas import OrderCancelled, OrderPlaced, OrderRefunded
from patron.flows.context import Applied, Ingestion
from patron.kit.ids import uuid7
from patron.kit.money import MoneyError, format_amount, to_minor
from patron.ledger import engine as ledger
from patron.members.state import MemberState
from patron.orders.state import OrderState
from patron.programs.engine import clawback_target, points_for_order


def order_placed(ctx: Ingestion, event: OrderPlaced, event_row: uuid.UUID) -> Applied:
    data, program = event.data, ctx.program
    if data.order_id in ctx.orders:
        raise OrderExists(
            f"order {data.order_id!r} was already reported by another event",
            field=f"{ctx.path}data.order_id",
        )
    if data.currency != program.currency:
        raise InvalidInput(
            f"the program counts in {program.currency}, not {data.currency}",
            field=f"{ctx.path}data.currency",
        )
    total = to_minor(data.total, data.currency)
    customer = event.customer.external_id
    member = ctx.member(customer)
    order = OrderState(
        id=uuid7(),
        order_id=data.order_id,
        member_id=member.id if member else None,
        customer_external_id=customer,
        currency=data.currency,
        total=total,
        subtotal=to_minor(data.subtotal, data.currency) if data.subtotal else None,
        refunded=0,
        status="placed",
        points_earned=0,
        points_reversed=0,
        placed_at=event.occurred_at,
        event_id=event_row,
        is_new=True,
    )
    ctx.orders[data.order_id] = order
    if member is None:
        return Applied("not_member", f"{customer} is not a member: order stored, no points")
    enrolled = member.joined_by == ctx.index
    member.count_order(total, event.occurred_at)
    if member.status != "active":
        return Applied(
            "member_suspended", f"{customer} is suspended: order stored, no points", member=customer
        )
    points, explanation = points_for_order(program, total, data.currency)
    explanation["program_version"] = program.version
    if points <= 0:
        return Applied(
            "no_effect",
            f"order total {data.total} {data.currency} earns no points",
            member=customer,
            enrolled=enrolled,
        )
    vests_at = (
        event.occurred_at + timedelta(days=program.pending_days) if program.pending_days else None
    )
    expires_at = (
        event.occurred_at + timedelta(days=program.expiry_days) if program.expiry_days else None
    )
    posting = ledger.earn(
        member.book,
        points,
        now=ctx.now,
        earned_at=event.occurred_at,
        vests_at=vests_at,
        expires_at=expires_at,
        reason=f"Order {data.order_id}",
        terms=ctx.terms,
        event_id=event_row,
        order_id=data.order_id,
        detail=explanation,
    )
    order.points_earned = points
    ctx.post(member, posting)
    where = (
        "pending until " + vests_at.date().isoformat()
        if posting.detail["account"] == "pending" and vests_at is not None
        else "available now"
    )
    return Applied(
        "applied",
        f"{points} points for order {data.order_id}: {explanation['base']} {data.currency} x "
        f"{explanation['rate']} rounded {program.rounding} (program v{program.version}), "
        f"{where}",
        member=customer,
        enrolled=enrolled,
        postings=[posting],
    )


def _order(ctx: Ingestion, order_id: str) -> OrderState:
    order = ctx.orders.get(order_id)
    if order is None:
        raise InvalidInput(
            f"no order {order_id!r} was reported: send order.placed first",
            field=f"{ctx.path}data.order_id",
        )
    return order


def _reverse(
    ctx: Ingestion,
    order: OrderState,
    points: int,
    event_row: uuid.UUID,
    reason: str,
    member: MemberState | None,
) -> list[ledger.PostingDraft]:
    if points <= 0 or member is None:
        return []
    postings = ledger.claw_back(
        member.book,
        points,
        now=ctx.now,
        reason=reason,
        terms=ctx.terms,
        order_id=order.order_id,
        event_id=event_row,
        detail={
            "order_points_earned": order.points_earned,
            "order_points_reversed_before": order.points_reversed,
        },
    )
    order.points_reversed += points
    ctx.post(member, postings)
    return postings


def order_refunded(ctx: Ingestion, event: OrderRefunded, event_row: uuid.UUID) -> Applied:
    data = event.data
    order = _order(ctx, data.order_id)
    if data.currency and data.currency != order.currency:
        raise InvalidInput(
            f"order {order.order_id} was in {order.currency}", field=f"{ctx.path}data.currency"
        )
    try:
        amount = to_minor(data.amount, order.currency, allow_zero=False)
    except MoneyError as exc:
        raise InvalidInput(f"amount {exc}", field=f"{ctx.path}data.amount") from None
    if order.refunded + amount > order.total:
        raise InvalidInput(
            f"refunds would exceed the order total: {format_amount(order.refunded, order.currency)}"
            f" of {format_amount(order.total, order.currency)} {order.currency} refunded already",
            field=f"{ctx.path}data.amount",
        )
    order.refunded += amount
    order.changed = True
    member = ctx.member_by_id(order.member_id) if order.member_id else None
    if member is not None:
        member.total_spent -= amount
        member.changed = True
    target = clawback_target(order.points_earned, order.total, order.refunded)
    claw = target - order.points_reversed
    refunded = f"{data.amount} {order.currency}"
    postings = _reverse(ctx, order, claw, event_row, f"Refund on order {order.order_id}", member)
    if not postings:
        return Applied(
            "no_effect" if member else "not_member",
            f"refund of {refunded} recorded; no points to take back",
            member=member.external_id if member else None,
        )
    return Applied(
        "applied",
        f"{claw} points taken back: {refunded} of {format_amount(order.total, order.currency)}"
        f" refunded, the order earned {order.points_earned}",
        member=member.external_id if member else None,
        postings=postings,
    )


def order_cancelled(ctx: Ingestion, event: OrderCancelled, event_row: uuid.UUID) -> Applied:
    order = _order(ctx, event.data.order_id)
    member = ctx.member_by_id(order.member_id) if order.member_id else None
    who = member.external_id if member else None
    if order.status == "cancelled":
        return Applied("no_effect", f"order {order.order_id} was cancelled already", member=who)
    order.status = "cancelled"
    order.changed = True
    if member is not None:
        member.orders_count -= 1
        member.total_spent -= order.total - order.refunded
        member.changed = True
    claw = order.points_earned - order.points_reversed
    postings = _reverse(ctx, order, claw, event_row, f"Order {order.order_id} cancelled", member)
    if not postings:
        return Applied(
            "no_effect" if member else "not_member",
            f"order {order.order_id} cancelled; no points to take back",
            member=who,
        )
    return Applied(
        "applied",
        f"order {order.order_id} cancelled: {claw} points taken back",
        member=who,
        postings=postings,
    )
