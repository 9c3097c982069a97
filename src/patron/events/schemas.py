"""Events the shop sends. Money is a decimal string, never a JSON number: an amount must not
pass through a binary float on its way to the ledger."""

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
)
from pydantic_core import PydanticCustomError

from patron.kit.json_types import DateTimeString, Text
from patron.kit.money import CURRENCIES, MoneyError, to_minor
from patron.kit.opaque import Id
from patron.ledger.schemas import PostingOut

MONEY_PATTERN = r"^[0-9]{1,15}(\.[0-9]{1,6})?$"
_MONEY = re.compile(MONEY_PATTERN)


def _decimal_string(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError(
            'must be a decimal string such as "42.50" (JSON numbers are refused '
            "so that no amount passes through a float)"
        )
    if not _MONEY.match(value):
        if value.strip().startswith("-"):
            raise ValueError(f"must not be negative (got {value!r})")
        raise ValueError(
            f'must be a decimal string of digits with an optional "." and up to 6 '
            f'decimals, such as "42.50" (got {value[:40]!r})'
        )
    return value


def _currency(value: Any) -> Any:
    if isinstance(value, str) and value not in CURRENCIES:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return value


Money = Annotated[
    str,
    BeforeValidator(_decimal_string),
    Field(
        examples=["42.50"],
        description="A non-negative decimal string in the currency's units.",
        json_schema_extra={"pattern": MONEY_PATTERN},
    ),
]
Currency = Annotated[str, BeforeValidator(_currency), Field(examples=["USD"])]


def check_amounts(currency: str, **amounts: str | None) -> None:
    """Each amount fits the currency (no more decimals than it has, not too large). A
    model's after-validator calls it; the error names the amount's own field (`at`, a
    dotted path inside the model), which the API adds to the model's location."""
    for name, amount in amounts.items():
        if amount is not None:
            try:
                to_minor(amount, currency)
            except MoneyError as exc:
                raise PydanticCustomError(
                    "money", "{message}", {"message": str(exc), "at": name}
                ) from None


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


def _not_before_epoch(value: datetime) -> datetime:
    if value < EARLIEST:
        raise ValueError("must not be before 1970-01-01T00:00:00Z")
    return value


# The offsets time zones use: PostgreSQL stores no offset beyond 15:59 either way.
MIN_OFFSET, MAX_OFFSET = timedelta(hours=-12), timedelta(hours=14)


def _real_offset(value: datetime) -> datetime:
    offset = value.utcoffset()
    if offset is not None and not MIN_OFFSET <= offset <= MAX_OFFSET:
        raise ValueError("its time zone offset must be between -12:00 and +14:00")
    return value


# An ISO 8601 string with a time zone, never a number of seconds (patron.kit.json_types).
OccurredAt = Annotated[
    AwareDatetime, DateTimeString, AfterValidator(_real_offset), AfterValidator(_not_before_epoch)
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Customer(Strict):
    external_id: Id = Field(description="The shop's customer id.", examples=["cust_1042"])
    email: EmailStr | None = Field(
        None,
        description="The customer's email, if the shop knows it: set on the member when the "
        "event enrols them.",
        examples=["ada@example.com"],
    )
    name: Text | None = Field(
        None,
        max_length=200,
        description="The customer's name, set on the member when the event enrols them.",
        examples=["Ada Lovelace"],
    )


class EventBase(Strict):
    """What every event carries. Each event type adds `type` (a literal) and `data`."""

    id: Id = Field(
        description="The sender's unique id for this event: sending it again "
        "returns the first result and applies nothing twice.",
        examples=["evt_01HF3Z"],
    )
    occurred_at: OccurredAt = Field(
        description="When it happened, with a time zone; not before 1970 and not in the future.",
        examples=["2026-11-22T10:15:00Z"],
    )
    customer: Customer = Field(description="Who the event is about.")
    type: str = Field(description="The event type, which decides the shape of `data`.")


class EventResult(BaseModel):
    id: str = Field(description="The event's id as sent.")
    type: str = Field(description="The event's type, as sent.", examples=["order.placed"])
    status: Literal["applied", "not_member", "member_suspended", "no_effect"] = Field(
        description="applied: effects recorded; not_member: stored, nothing awarded; "
        "member_suspended: stored, nothing awarded; no_effect: nothing to do."
    )
    duplicate: bool = Field(
        description="True when this id was seen before: the first "
        "result is returned and nothing is applied again."
    )
    member: str | None = Field(description="The member's external id, if a member.")
    enrolled: bool = Field(description="The event enrolled the customer.")
    points: int = Field(description="Net change to the member's points.")
    message: str = Field(description="What happened, in words.")
    postings: list[PostingOut] = Field(
        description="The ledger postings the event made, in the order they were made."
    )


class EventPreview(EventResult):
    """What an event would do: nothing of it was stored."""

    preview: bool = Field(description="Always true: nothing was written.", examples=[True])
    program_version: int = Field(
        description="The program version it was run under (the draft's would-be number when "
        "run against the draft).",
        examples=[4],
    )


class BatchResult(BaseModel):
    results: list[EventResult] = Field(
        description="One result per event, in the order the events were sent."
    )
