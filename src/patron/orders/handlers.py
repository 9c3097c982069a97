"""The orders domain in ingestion: the part that locks the orders events refer to and writes
the orders they create, and the handlers of `order.placed` (earns points), `order.refunded`
(takes back the refunded share) and `order.cancelled` (takes back what the order still holds).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from patron.db.bulk import Op
from patron.errors import InvalidInput
from patron.ingest.batch import Batch, Item, Outcome, Status
from patron.ingest.books import BOOKS
from patron.ingest.limits import RULES, keys_to_give_back, keys_to_pay
from patron.ingest.registry import Slot, handler
from patron.kit.ids import uuid7
from patron.kit.money import MoneyError, format_amount, to_minor
from patron.ledger import engine as ledger
from patron.ledger.engine import PostingDraft
from patron.members.handlers import MEMBERS, MemberKey, customer, enrolment
from patron.members.schemas import MemberStatus
from patron.members.state import MemberState
from patron.orders import repository
from patron.orders.earning import (
    RefundedLine,
    RefundError,
    Reversal,
    cancel,
    order_input,
    record,
    refund,
    summary,
)
from patron.orders.errors import OrderExists
from patron.orders.schemas import OrderCancelled, OrderPlaced, OrderRefunded
from patron.orders.state import OrderState, OrderStatus
from patron.programs.engine import clawback_target
from patron.rules.engine import EventIn, calculate


@dataclass(frozen=True, slots=True)
class OrderKey:
    """An order an event names; `placed_by` is the customer when the event places it."""

    order_id: str
    placed_by: str | None = None


class OrdersPart:
    def __init__(self) -> None:
        self.orders: dict[str, OrderState] = {}
        # Orders placed by events of this batch: order id -> customer.
        self.placing: dict[str, str] = {}

    def load(self, session: Session, batch: Batch, wants: list[tuple[Item, Any]]) -> None:
        keys: list[OrderKey] = [k for _, k in wants]
        for k in keys:
            if k.placed_by is not None:
                self.placing.setdefault(k.order_id, k.placed_by)
        # Only refunds and cancellations read stored orders. An order placed twice is caught
        # by the unique index when the batch is written, which saves the common case a read.
        read = sorted({k.order_id for k in keys if k.placed_by is None})
        self.orders = repository.lock_many(session, batch.tenant_id, read)

    def owner(self, order_id: str) -> str | None:
        """The customer an order belongs to, whether stored or placed in this batch."""
        stored = self.orders.get(order_id)
        return stored.customer_external_id if stored else self.placing.get(order_id)

    def get(self, batch: Batch, order_id: str) -> OrderState:
        order = self.orders.get(order_id)
        if order is None:
            raise InvalidInput(
                f"no order {order_id!r} was reported: send order.placed first",
                field=f"{batch.current.path}data.order_id",
            )
        return order

    def ops(self, batch: Batch) -> list[Op]:
        self._insert = repository.insert_op(
            batch.tenant_id, [o for o in self.orders.values() if o.is_new]
        )
        changed = [o for o in self.orders.values() if o.changed and not o.is_new]
        return [self._insert, repository.update_op(batch.tenant_id, changed)]

    def written(self, batch: Batch, ops: list[Op]) -> None:
        inserted = set(self._insert.result)
        for row in self._insert.rows:
            if row["order_id"] not in inserted:  # reported at the same moment by another event
                item = next(it for it in batch.items if it.row_id == row["event_id"])
                raise OrderExists(
                    f"order {row['order_id']!r} was already reported",
                    field=f"{item.path}data.order_id",
                )


ORDERS: Slot[OrdersPart] = Slot("orders", rank=10, factory=OrdersPart)


# -- what each event needs -----------------------------------------------------------------


def _placed_order(batch: Batch, item: Item) -> Iterable[OrderKey]:
    assert isinstance(item.event, OrderPlaced)
    return [OrderKey(item.event.data.order_id, placed_by=item.event.customer.external_id)]


def _named_order(batch: Batch, item: Item) -> Iterable[OrderKey]:
    assert isinstance(item.event, OrderRefunded | OrderCancelled)
    return [OrderKey(item.event.data.order_id)]


def _placing_customer(batch: Batch, item: Item) -> Iterable[MemberKey]:
    if batch.program.auto_enroll:
        return [enrolment(item, "checkout")]
    return customer(batch, item)


def _order_owner(batch: Batch, item: Item) -> Iterable[MemberKey]:
    assert isinstance(item.event, OrderRefunded | OrderCancelled)
    owner = batch.part(ORDERS).owner(item.event.data.order_id)
    return [*customer(batch, item), *([MemberKey(owner)] if owner else [])]


def _placing_rules(batch: Batch, item: Item) -> Iterable[Any]:
    """The counters of the limited rules the order may meet, and the budgets."""
    state = batch.part(MEMBERS).states.get(item.event.customer.external_id)
    return keys_to_pay(batch, state.id if state else None, "order.placed", item.event.occurred_at)


def _reversed_rules(batch: Batch, item: Item) -> Iterable[Any]:
    """The counters and budgets the reversed order's rules counted in."""
    assert isinstance(item.event, OrderRefunded | OrderCancelled)
    order = batch.part(ORDERS).orders.get(item.event.data.order_id)
    if order is None or not order.earning:
        return []
    return keys_to_give_back(order.member_id, order.earning.get("r", {}))


def _owner_wallet(batch: Batch, item: Item) -> Iterable[Any]:
    """Claw-backs consume lots: the wallet of the member whose order the event reverses."""
    assert isinstance(item.event, OrderRefunded | OrderCancelled)
    owner = batch.part(ORDERS).owner(item.event.data.order_id)
    state = batch.part(MEMBERS).states.get(owner) if owner else None
    return [state.book.wallet_id] if state else []


# -- handlers ------------------------------------------------------------------------------


@handler(
    "order.placed",
    schema=OrderPlaced,
    needs={ORDERS: _placed_order, MEMBERS: _placing_customer, RULES: _placing_rules},
)
def order_placed(batch: Batch, item: Item) -> Outcome:
    assert isinstance(item.event, OrderPlaced)
    event, program, path = item.event, batch.program, item.path
    data = event.data
    orders = batch.part(ORDERS)
    if data.order_id in orders.orders:
        raise OrderExists(
            f"order {data.order_id!r} was already reported by another event",
            field=f"{path}data.order_id",
        )
    if data.currency != program.currency:
        raise InvalidInput(
            f"the program counts in {program.currency}, not {data.currency}",
            field=f"{path}data.currency",
        )
    total = to_minor(data.total, data.currency)
    external_id = event.customer.external_id
    member = batch.part(MEMBERS).visible(batch, external_id)
    order_in = order_input(data)
    orders.orders[data.order_id] = order = OrderState(
        id=uuid7(),
        order_id=data.order_id,
        member_id=member.id if member else None,
        customer_external_id=external_id,
        currency=data.currency,
        total=total,
        subtotal=to_minor(data.subtotal, data.currency) if data.subtotal else None,
        refunded=0,
        status=OrderStatus.PLACED,
        points_earned=0,
        points_reversed=0,
        placed_at=event.occurred_at,
        event_id=item.row_id,
        is_new=True,
        earning=record(None, order_in.lines),
    )
    if member is None:
        return Outcome(Status.NOT_MEMBER, f"{external_id} is not a member: order stored, no points")
    enrolled = member.joined_by == item.index
    external_id = member.external_id  # a merged duplicate's id reaches the survivor
    before = member.for_rules()
    member.count_order(total, event.occurred_at)
    if member.status != MemberStatus.ACTIVE:
        return Outcome(
            Status.MEMBER_SUSPENDED,
            f"{external_id} is suspended: order stored, no points",
            member=external_id,
        )
    rules = batch.part(RULES)
    calculation = calculate(
        program.ruleset,
        event=EventIn(event.id, event.type, event.occurred_at),
        member=before,
        order=order_in,
        usage=rules.view(member.id),
        budgets=rules.budgets,
    )
    explanation = calculation.explanation()
    points = calculation.points
    if points <= 0:
        why = explanation.get("note") or "no rule gave points"
        return Outcome(
            Status.NO_EFFECT,
            f"order {data.order_id} ({data.total} {data.currency}) earns no points: {why}",
            member=external_id,
            enrolled=enrolled,
        )
    rules.consume(member.id, calculation)
    order.earning = record(calculation, order_in.lines)
    vests_at = (
        event.occurred_at + timedelta(days=program.pending_days) if program.pending_days else None
    )
    expires_at = (
        event.occurred_at + timedelta(days=program.expiry_days) if program.expiry_days else None
    )
    posting = ledger.earn(
        member.book,
        points,
        now=batch.now,
        earned_at=event.occurred_at,
        vests_at=vests_at,
        expires_at=expires_at,
        reason=f"Order {data.order_id}",
        terms=batch.terms,
        event_id=item.row_id,
        order_id=data.order_id,
        detail=explanation,
    )
    order.points_earned = points
    batch.part(BOOKS).post(member.book, posting)
    where = (
        "pending until " + vests_at.date().isoformat()
        if posting.detail["account"] == "pending" and vests_at is not None
        else "available now"
    )
    return Outcome(
        Status.APPLIED,
        f"{points} points for order {data.order_id}: {summary(calculation)} "
        f"(program v{program.version}), {where}",
        member=external_id,
        enrolled=enrolled,
        postings=[posting],
    )


def _reverse(
    batch: Batch,
    item: Item,
    order: OrderState,
    points: int,
    reason: str,
    member: MemberState | None,
    by_rule: dict[str, int] | None = None,
) -> list[PostingDraft]:
    if points <= 0 or member is None:
        return []
    detail: dict[str, Any] = {
        "order_points_earned": order.points_earned,
        "order_points_reversed_before": order.points_reversed,
    }
    if by_rule:
        detail["rules"] = by_rule
        detail["program_version"] = (order.earning or {}).get("v")
    postings = ledger.claw_back(
        member.book,
        points,
        now=batch.now,
        reason=reason,
        terms=batch.terms,
        order_id=order.order_id,
        event_id=item.row_id,
        detail=detail,
    )
    order.points_reversed += points
    batch.part(BOOKS).post(member.book, postings)
    return postings


def _give_back(batch: Batch, order: OrderState, reversal: Reversal) -> None:
    """The limits and budgets the reversed points counted in get them back."""
    counted = (order.earning or {}).get("r", {})
    if order.member_id is None:
        return
    part = batch.part(RULES)
    for rule_id, points in reversal.points.items():
        if rule_id in counted:
            part.give_back(
                order.member_id,
                rule_id,
                periods=counted[rule_id].get("p", ()),
                points=points,
                count=rule_id in reversal.whole,
                budget=bool(counted[rule_id].get("b")),
            )


def _reversed(
    member: MemberState | None, postings: list[PostingDraft], *, nothing: str, done: str
) -> Outcome:
    """What a refund or cancellation did: points taken back, or nothing to take back."""
    who = member.external_id if member else None
    if not postings:
        return Outcome(Status.NO_EFFECT if member else Status.NOT_MEMBER, nothing, member=who)
    return Outcome(Status.APPLIED, done, member=who, postings=postings)


def _reversible(batch: Batch, item: Item, order_id: str) -> OrderState:
    """The order a refund or cancellation names, if the event may reverse it: it names the
    order's own customer (or a customer id of the same member, since a merge), and it
    happened after the order was placed."""
    assert isinstance(item.event, OrderRefunded | OrderCancelled)
    order = batch.part(ORDERS).get(batch, order_id)
    event, path = item.event, item.path
    named = batch.part(MEMBERS).states.get(event.customer.external_id)
    same_member = named is not None and named.id == order.member_id
    if event.customer.external_id != order.customer_external_id and not same_member:
        raise InvalidInput(
            f"order {order.order_id!r} belongs to another customer",
            field=f"{path}customer.external_id",
        )
    if event.occurred_at < order.placed_at:
        raise InvalidInput(
            f"is before order {order.order_id!r} was placed "
            f"({order.placed_at.isoformat().replace('+00:00', 'Z')})",
            field=f"{path}occurred_at",
        )
    return order


def _owner(batch: Batch, order: OrderState) -> MemberState | None:
    return batch.part(MEMBERS).by_id(batch, order.member_id) if order.member_id else None


@handler(
    "order.refunded",
    schema=OrderRefunded,
    needs={
        ORDERS: _named_order,
        MEMBERS: _order_owner,
        RULES: _reversed_rules,
        BOOKS: _owner_wallet,
    },
)
def order_refunded(batch: Batch, item: Item) -> Outcome:
    assert isinstance(item.event, OrderRefunded)
    data, path = item.event.data, item.path
    order = _reversible(batch, item, data.order_id)
    if data.currency and data.currency != order.currency:
        raise InvalidInput(
            f"order {order.order_id} was in {order.currency}", field=f"{path}data.currency"
        )
    try:
        amount = to_minor(data.amount, order.currency, allow_zero=False)
    except MoneyError as exc:
        raise InvalidInput(f"amount {exc}", field=f"{path}data.amount") from None
    if order.refunded + amount > order.total:
        raise InvalidInput(
            f"refunds would exceed the order total: {format_amount(order.refunded, order.currency)}"
            f" of {format_amount(order.total, order.currency)} {order.currency} refunded already",
            field=f"{path}data.amount",
        )
    reversal: Reversal | None = None
    if order.earning is not None:
        try:
            reversal = refund(
                order.earning,
                lines=[RefundedLine(line.id, line.sku, line.quantity) for line in data.lines],
                amount=amount,
                total=order.total,
                refunded_before=order.refunded,
            )
        except RefundError as exc:
            raise InvalidInput(str(exc), field=f"{path}data.{exc.at}") from None
    elif data.lines:
        raise InvalidInput(
            f"order {order.order_id!r} was reported without lines: refund it by amount",
            field=f"{path}data.lines",
        )
    order.refunded += amount
    order.changed = True
    member = _owner(batch, order)
    if member is not None and order.status != OrderStatus.CANCELLED:
        # A cancelled order no longer counts in the spend: the cancellation took off what
        # was not refunded yet, so a refund arriving after it (as shops send them) takes
        # nothing off again.
        member.total_spent -= amount
        member.changed = True
    if reversal is not None:
        claw = reversal.total
        _give_back(batch, order, reversal)
    else:
        claw = clawback_target(order.points_earned, order.total, order.refunded)
        claw -= order.points_reversed
    refunded = f"{data.amount} {order.currency}"
    postings = _reverse(
        batch,
        item,
        order,
        claw,
        f"Refund on order {order.order_id}",
        member,
        reversal.points if reversal else None,
    )
    what = (
        f"{len(data.lines)} line{'s' if len(data.lines) != 1 else ''} "
        if data.lines
        else f"{refunded} of {format_amount(order.total, order.currency)} "
    )
    return _reversed(
        member,
        postings,
        nothing=f"refund of {refunded} recorded; no points to take back",
        done=f"{claw} points taken back: {what}refunded, of the {order.points_earned} the "
        "order earned",
    )


@handler(
    "order.cancelled",
    schema=OrderCancelled,
    needs={
        ORDERS: _named_order,
        MEMBERS: _order_owner,
        RULES: _reversed_rules,
        BOOKS: _owner_wallet,
    },
)
def order_cancelled(batch: Batch, item: Item) -> Outcome:
    assert isinstance(item.event, OrderCancelled)
    order = _reversible(batch, item, item.event.data.order_id)
    member = _owner(batch, order)
    who = member.external_id if member else None
    if order.status == OrderStatus.CANCELLED:
        return Outcome(
            Status.NO_EFFECT, f"order {order.order_id} was cancelled already", member=who
        )
    order.status = OrderStatus.CANCELLED
    order.changed = True
    if member is not None:
        member.orders_count -= 1
        member.total_spent -= order.total - order.refunded
        member.changed = True
    if order.earning is not None:
        reversal = cancel(order.earning)
        claw = reversal.total
        _give_back(batch, order, reversal)
        by_rule: dict[str, int] | None = reversal.points
    else:
        claw, by_rule = order.points_earned - order.points_reversed, None
    postings = _reverse(
        batch, item, order, claw, f"Order {order.order_id} cancelled", member, by_rule
    )
    return _reversed(
        member,
        postings,
        nothing=f"order {order.order_id} cancelled; no points to take back",
        done=f"order {order.order_id} cancelled: {claw} points taken back",
    )
