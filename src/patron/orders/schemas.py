"""The order events a shop sends. Money is a decimal string, never a JSON number."""

from typing import Literal

from pydantic import Field, model_validator

from patron.events.schemas import Currency, EventBase, Id, Money, Strict, check_amounts
from patron.kit.json_types import JsonInt, Text


class OrderLine(Strict):
    sku: Id = Field(description="The product's stock-keeping unit.", examples=["BEAN-250"])
    category: Text | None = Field(
        None, max_length=100, description="The product's category.", examples=["coffee"]
    )
    quantity: JsonInt = Field(gt=0, le=1_000_000, description="Units ordered.", examples=[2])
    unit_price: Money = Field(description="The price of one unit.", examples=["12.50"])


class OrderPlacedData(Strict):
    order_id: Id = Field(description="The shop's order id.", examples=["#1001"])
    currency: Currency = Field(description="ISO 4217 code of the order's amounts.")
    total: Money = Field(
        description="What the customer paid, the base for points.", examples=["84.50"]
    )
    subtotal: Money | None = Field(
        None, description="Before shipping and taxes; recorded, not used for points."
    )
    lines: list[OrderLine] = Field(
        default_factory=list, max_length=1000, description="The order's lines; optional."
    )

    @model_validator(mode="after")
    def _fits_currency(self) -> "OrderPlacedData":
        check_amounts(self.currency, total=self.total, subtotal=self.subtotal)
        for i, line in enumerate(self.lines):
            check_amounts(self.currency, **{f"lines.{i}.unit_price": line.unit_price})
        return self


class OrderRefundedData(Strict):
    order_id: Id = Field(description="The refunded order's id.", examples=["#1001"])
    amount: Money = Field(description="Refunded now; several partial refunds may follow.")
    currency: Currency | None = Field(None, description="If given, must be the order's.")
    reason: Text | None = Field(
        None, max_length=500, description="Why, in words.", examples=["Damaged in transit"]
    )


class OrderCancelledData(Strict):
    order_id: Id = Field(description="The cancelled order's id.", examples=["#1001"])
    reason: Text | None = Field(
        None, max_length=500, description="Why, in words.", examples=["Customer request"]
    )


class OrderPlaced(EventBase):
    type: Literal["order.placed"] = Field(description="The event type.")
    data: OrderPlacedData = Field(description="The order.")


class OrderRefunded(EventBase):
    type: Literal["order.refunded"] = Field(description="The event type.")
    data: OrderRefundedData = Field(description="The refund.")


class OrderCancelled(EventBase):
    type: Literal["order.cancelled"] = Field(description="The event type.")
    data: OrderCancelledData = Field(description="The cancellation.")
