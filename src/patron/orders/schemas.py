"""The order events a shop sends. Money is a decimal string, never a JSON number."""

from typing import Literal

from pydantic import Field, model_validator

from patron.events.schemas import Currency, EventBase, Id, Money, Strict, check_amounts


class OrderLine(Strict):
    sku: Id = Field(examples=["BEAN-250"])
    category: str | None = Field(None, max_length=100, examples=["coffee"])
    quantity: int = Field(gt=0, le=1_000_000, examples=[2])
    unit_price: Money


class OrderPlacedData(Strict):
    order_id: Id = Field(description="The shop's order id.", examples=["#1001"])
    currency: Currency
    total: Money = Field(description="What the customer paid, the base for points.")
    subtotal: Money | None = None
    lines: list[OrderLine] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _fits_currency(self) -> "OrderPlacedData":
        check_amounts(self.currency, total=self.total, subtotal=self.subtotal)
        for i, line in enumerate(self.lines):
            check_amounts(self.currency, **{f"lines.{i}.unit_price": line.unit_price})
        return self


class OrderRefundedData(Strict):
    order_id: Id = Field(examples=["#1001"])
    amount: Money = Field(description="Refunded now; several partial refunds may follow.")
    currency: Currency | None = Field(None, description="If given, must be the order's.")
    reason: str | None = Field(None, max_length=500)


class OrderCancelledData(Strict):
    order_id: Id = Field(examples=["#1001"])
    reason: str | None = Field(None, max_length=500)


class OrderPlaced(EventBase):
    type: Literal["order.placed"]
    data: OrderPlacedData


class OrderRefunded(EventBase):
    type: Literal["order.refunded"]
    data: OrderRefundedData


class OrderCancelled(EventBase):
    type: Literal["order.cancelled"]
    data: OrderCancelledData
