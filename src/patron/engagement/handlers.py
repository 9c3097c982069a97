"""The engagement events in ingestion: each pays what the program's rules for its type say,
at once (no return window), within their limits and budgets. `account.created` enrols the
customer first; the others reward members only. Custom events are checked against the fields
the program declares for them before anything runs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from patron.engagement.schemas import (
    AccountCreated,
    Birthday_,
    CustomEventIn,
    NewsletterSubscribed,
    ProfileCompleted,
    ReviewWritten,
    SocialShared,
    SurveyCompleted,
)
from patron.errors import InvalidInput
from patron.events.schemas import EventBase
from patron.ingest.batch import Batch, Item, Outcome, Status
from patron.ingest.books import BOOKS
from patron.ingest.limits import RULES, keys_to_pay
from patron.ingest.registry import KeyFn, Slot, handler
from patron.ledger import engine as ledger
from patron.members.handlers import MEMBERS, customer, enrolling
from patron.members.schemas import MemberStatus
from patron.rules.engine import EventIn, calculate
from patron.rules.expressions import FieldType
from patron.rules.schemas import CUSTOM_PREFIX


def _rule_keys(batch: Batch, item: Item) -> Iterable[Any]:
    state = batch.part(MEMBERS).states.get(item.event.customer.external_id)
    return keys_to_pay(batch, state.id if state else None, item.event.type, item.event.occurred_at)


def earn(batch: Batch, item: Item, data: dict[str, Any]) -> Outcome:
    """Run the program's rules for the event and credit what they give."""
    event, program = item.event, batch.program
    member = batch.part(MEMBERS).visible(batch, event.customer.external_id)
    if member is None:
        return Outcome(
            Status.NOT_MEMBER, f"{event.customer.external_id} is not a member: nothing earned"
        )
    enrolled = member.joined_by == item.index
    who = member.external_id
    if member.status != MemberStatus.ACTIVE:
        return Outcome(Status.MEMBER_SUSPENDED, f"{who} is suspended: nothing earned", member=who)
    rules = batch.part(RULES)
    calculation = calculate(
        program.ruleset,
        event=EventIn(event.id, event.type, event.occurred_at, data),
        member=member.for_rules(),
        usage=rules.view(member.id),
        budgets=rules.budgets,
    )
    if calculation.points <= 0:
        why = "; ".join(f"{s['rule']}: {s['reason']}" for s in calculation.skipped)
        return Outcome(
            Status.NO_EFFECT,
            f"{event.type} earns nothing" + (f" ({why})" if why else ": no rule pays for it"),
            member=who,
            enrolled=enrolled,
        )
    rules.consume(member.id, calculation)
    posting = ledger.earn(
        member.book,
        calculation.points,
        now=batch.now,
        earned_at=event.occurred_at,
        vests_at=None,
        expires_at=(
            event.occurred_at + timedelta(days=program.expiry_days) if program.expiry_days else None
        ),
        reason=_reason(event),
        terms=batch.terms,
        event_id=item.row_id,
        detail=calculation.explanation(),
    )
    batch.part(BOOKS).post(member.book, posting)
    paid = ", ".join(f"+{f.points} by {f.rule}" for f in calculation.fired if f.points)
    return Outcome(
        Status.APPLIED,
        f"{calculation.points} points for {event.type}: {paid} (program v{program.version})",
        member=who,
        enrolled=enrolled,
        postings=[posting],
    )


def _reason(event: EventBase) -> str:
    return {
        "account.created": "Joined",
        "birthday": "Birthday",
        "review.written": "Review",
        "social.shared": "Shared",
        "survey.completed": "Survey",
        "newsletter.subscribed": "Newsletter",
        "profile.completed": "Profile completed",
    }.get(event.type, event.type)


NEEDS: dict[Slot[Any], KeyFn] = {MEMBERS: customer, RULES: _rule_keys}


@handler("account.created", schema=AccountCreated, needs={MEMBERS: enrolling, RULES: _rule_keys})
def account_created(batch: Batch, item: Item) -> Outcome:
    assert isinstance(item.event, AccountCreated)
    return earn(batch, item, item.event.data.model_dump(include={"source"}))


def _builtin(event_type: str, schema: type[EventBase]) -> None:
    def apply(batch: Batch, item: Item) -> Outcome:
        data = getattr(item.event, "data")  # noqa: B009  (each schema has its own data model)
        return earn(batch, item, data.model_dump())

    apply.__name__ = apply.__qualname__ = event_type.replace(".", "_")
    handler(event_type, schema=schema, needs=NEEDS)(apply)


for _type, _schema in (
    ("birthday", Birthday_),
    ("review.written", ReviewWritten),
    ("social.shared", SocialShared),
    ("survey.completed", SurveyCompleted),
    ("newsletter.subscribed", NewsletterSubscribed),
    ("profile.completed", ProfileCompleted),
):
    _builtin(_type, _schema)


@handler("custom.*", schema=CustomEventIn, needs=NEEDS)
def custom_event(batch: Batch, item: Item) -> Outcome:
    assert isinstance(item.event, CustomEventIn)
    name = item.event.type.removeprefix(CUSTOM_PREFIX)
    declared = batch.program.custom_events.get(name)
    if declared is None:
        raise InvalidInput(
            f"the program declares no custom event {name!r} (custom_events)",
            field=f"{item.path}type",
        )
    data = _typed(item, dict(declared.fields), declared.required)
    return earn(batch, item, data)


def _typed(item: Item, fields: dict[str, FieldType], required: list[str]) -> dict[str, Any]:
    """The custom event's data checked against its declaration, as CEL reads it."""
    assert isinstance(item.event, CustomEventIn)
    given = item.event.data
    out: dict[str, Any] = {}
    for name, value in given.items():
        at = f"{item.path}data.{name}"
        kind = fields.get(name)
        if kind is None:
            raise InvalidInput(f"is not a field of {item.event.type}", field=at)
        if value is None:
            continue
        out[name] = _value(kind, value, at)
    for name in required:
        if given.get(name) is None:
            raise InvalidInput("is required", field=f"{item.path}data.{name}")
    return out


def _value(kind: FieldType, value: Any, at: str) -> Any:
    ok = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool) and abs(v) < 2**63,
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "strings": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        "timestamp": lambda v: isinstance(v, str),
    }[kind]
    if not ok(value):
        raise InvalidInput(f"must be of type {kind}", field=at)
    if kind == "number":
        return float(value)
    if kind == "timestamp":
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput("must be a date and time in ISO 8601", field=at) from None
        if parsed.tzinfo is None:
            raise InvalidInput("must carry a time zone", field=at)
        return parsed
    return value
