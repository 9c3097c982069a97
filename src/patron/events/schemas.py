"""Events the shop sends. Money is a decimal string, never a JSON number: an amount must not
pass through a binary float on its way to the ledger."""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    model_validator,
)

from patron.kit.money import CURRENCIES, MoneyError, to_minor
from patron.members.schemas import EnrolledVia

EVENT_TYPES = ("order.placed", "order.refunded", "order.cancelled", "member.enrolled")


def _decimal_string(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError(
            'must be a decimal string such as "42.50" (JSON numbers are refused '
            "so that no amount passes through a float)"
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
        pattern=r"^[0-9]{1,15}(\.[0-9]{1,6})?$",
        examples=["42.50"],
        description="A non-negative decimal string in the currency's units.",
    ),
]
Currency = Annotated[str, BeforeValidator(_currency), Field(examples=["USD"])]
Id = Annotated[str, Field(min_length=1, max_length=255)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Customer(Strict):
    external_id: Id = Field(description="The shop's customer id.", examples=["cust_1042"])
    email: EmailStr | None = Field(None, examples=["ada@example.com"])
    name: str | None = Field(None, max_length=200, examples=["Ada Lovelace"])


class OrderLine(Strict):
    sku: Id = Field(examples=["BEAN-250"])
    category: str | None = Field(None, max_length=100, examples=["coffee"])
    quantity: int = Field(gt=0, le=1_000_000, examples=[2])
    unit_price: Money


def _check_amounts(currency: str, **amounts: str | None) -> None:
    for name, amount in amounts.items():
        if amount is not None:
            try:
                to_minor(amount, currency)
            except MoneyError as exc:
                raise ValueError(f"{name} {exc}") from None


class OrderPlacedData(Strict):
    order_id: Id = Field(description="The shop's order id.", examples=["#1001"])
    currency: Currency
    total: Money = Field(description="What the customer paid, the base for points.")
    subtotal: Money | None = None
    lines: list[OrderLine] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _fits_currency(self) -> "OrderPlacedData":
        _check_amounts(self.currency, total=self.total, subtotal=self.subtotal)
        for line in self.lines:
            _check_amounts(self.currency, unit_price=line.unit_price)
        return self


class OrderRefundedData(Strict):
    order_id: Id = Field(examples=["#1001"])
    amount: Money = Field(description="Refunded now; several partial refunds may follow.")
    currency: Currency | None = Field(None, description="If given, must be the order's.")
    reason: str | None = Field(None, max_length=500)


class OrderCancelledData(Strict):
    order_id: Id = Field(examples=["#1001"])
    reason: str | None = Field(None, max_length=500)


class MemberEnrolledData(Strict):
    source: EnrolledVia = Field("account", description="How the customer joined.")
    birthday: date | None = None
    accepts_marketing: bool = False


class _Event(Strict):
    id: Id = Field(
        description="The sender's unique id for this event: sending it again "
        "returns the first result and applies nothing twice.",
        examples=["evt_01HF3Z"],
    )
    occurred_at: AwareDatetime = Field(
        description="When it happened, with a time zone.", examples=["2026-11-22T10:15:00Z"]
    )
    customer: Customer


class OrderPlaced(_Event):
    type: Literal["order.placed"]
    data: OrderPlacedData


class OrderRefunded(_Event):
    type: Literal["order.refunded"]
    data: OrderRefundedData


class OrderCancelled(_Event):
    type: Literal["order.cancelled"]
    data: OrderCancelledData


class MemberEnrolled(_Event):
    type: Literal["member.enrolled"]
    data: MemberEnrolledData = Field(default_factory=MemberEnrolledData)


EventIn = Annotated[
    OrderPlaced | OrderRefunded | OrderCancelled | MemberEnrolled,
    Field(discriminator="type"),
]


class EventBatch(Strict):
    events: list[EventIn] = Field(min_length=1, max_length=1000)


class EntryOut(BaseModel):
    account: str = Field(examples=["pending"])
    amount: int = Field(examples=[42])


class PostingOut(BaseModel):
    id: str
    kind: str = Field(
        examples=["earn"], description="earn, vest, claw_back, write_off, adjust, redeem or expire."
    )
    points: int = Field(examples=[42], description="Change to what the member holds.")
    reason: str = Field(examples=["Order #1001"])
    order_id: str | None = None
    event_id: str | None = None
    program_version: int | None = Field(None, examples=[3])
    detail: dict[str, Any] = Field(description="How the amount was computed.")
    entries: list[EntryOut]
    created_at: datetime


class EventResult(BaseModel):
    id: str = Field(description="The event's id as sent.")
    type: str
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
    postings: list[PostingOut]


class BatchResult(BaseModel):
    results: list[EventResult]
