"""The order events a shop sends. Money is a decimal string, never a JSON number."""

from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from patron.events.schemas import Currency, EventBase, Id, Money, Strict, check_amounts
from patron.kit.json_types import JsonBool, JsonInt, Text
from patron.kit.money import to_minor


class OrderLine(Strict):
    id: Id | None = Field(
        None,
        description="The shop's line id, which a refund of this line can name (or name its "
        "SKU). In explanations, a line without an id is named by its position: 1 for the "
        "first.",
        examples=["11021"],
    )
    sku: Id = Field(description="The product's stock-keeping unit.", examples=["BEAN-250"])
    product_id: Id | None = Field(None, description="The product's id.", examples=["8812"])
    category: Text | None = Field(
        None, max_length=100, description="The product's category.", examples=["coffee"]
    )
    tags: list[Annotated[Text, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list,
        max_length=50,
        description="Free tags rules can match.",
        examples=[["organic", "new"]],
    )
    quantity: JsonInt = Field(gt=0, le=1_000_000, description="Units ordered.", examples=[2])
    unit_price: Money = Field(description="The price of one unit.", examples=["12.50"])
    discount: Money | None = Field(
        None, description="The discount on this line, for all its units.", examples=["2.50"]
    )
    gift_card: JsonBool = Field(
        False,
        description="The line sells a gift card: it earns no points unless the program says so.",
    )


class Payment(Strict):
    method: Literal["card", "cash", "points", "store_credit", "gift_card", "other"] = Field(
        description="How this part was paid. Points lower the earning base like a discount; "
        "gift cards and store credit never do.",
        examples=["gift_card"],
    )
    amount: Money = Field(description="The amount paid this way.", examples=["20.00"])


class OrderPlacedData(Strict):
    order_id: Id = Field(description="The shop's order id.", examples=["#1001"])
    currency: Currency = Field(description="ISO 4217 code of the order's amounts.")
    total: Money = Field(
        description="What the customer paid for the order, shipping and tax included.",
        examples=["84.50"],
    )
    subtotal: Money | None = Field(
        None, description="The goods after discounts, before shipping and taxes."
    )
    discount: Money | None = Field(
        None,
        description="Order-level discounts (not those already on lines), shared over the lines "
        "in proportion to their amounts.",
        examples=["5.00"],
    )
    shipping: Money | None = Field(None, description="Shipping charged.", examples=["4.90"])
    tax: Money | None = Field(None, description="Tax charged.", examples=["6.80"])
    lines: list[OrderLine] = Field(
        default_factory=list,
        max_length=1000,
        description="The order's lines. Without lines the whole order is one share: points on "
        "the total less shipping and tax, refunds in proportion to the amount.",
    )
    payments: list[Payment] = Field(
        default_factory=list, max_length=20, description="How the order was paid; optional."
    )

    @model_validator(mode="after")
    def _fits_currency(self) -> "OrderPlacedData":
        check_amounts(
            self.currency,
            total=self.total,
            subtotal=self.subtotal,
            discount=self.discount,
            shipping=self.shipping,
            tax=self.tax,
        )
        ids: set[str] = set()
        for i, line in enumerate(self.lines):
            check_amounts(
                self.currency,
                **{f"lines.{i}.unit_price": line.unit_price, f"lines.{i}.discount": line.discount},
            )
            if (
                line.discount is not None
                and to_minor(line.discount, self.currency)
                > to_minor(line.unit_price, self.currency) * line.quantity
            ):
                raise PydanticCustomError(
                    "money",
                    "{message}",
                    {"message": "is more than the line's price", "at": f"lines.{i}.discount"},
                )
            key = line.id or ""
            if line.id is not None and key in ids:
                raise PydanticCustomError(
                    "line",
                    "{message}",
                    {"message": "another line has this id", "at": f"lines.{i}.id"},
                )
            ids.add(key)
        for i, payment in enumerate(self.payments):
            check_amounts(self.currency, **{f"payments.{i}.amount": payment.amount})
        return self


class RefundedLine(Strict):
    id: Id | None = Field(
        None, description="The line's id as the order gave it.", examples=["11021"]
    )
    sku: Id | None = Field(
        None,
        description="Or the line's SKU (the first line of it with units left).",
        examples=["BEAN-250"],
    )
    quantity: JsonInt = Field(gt=0, le=1_000_000, description="Units refunded.", examples=[1])

    @model_validator(mode="after")
    def _names_a_line(self) -> "RefundedLine":
        if (self.id is None) == (self.sku is None):
            raise ValueError("name the line by its id or by its sku (one of them)")
        return self


class OrderRefundedData(Strict):
    order_id: Id = Field(description="The refunded order's id.", examples=["#1001"])
    amount: Money = Field(description="Refunded now; several partial refunds may follow.")
    currency: Currency | None = Field(None, description="If given, must be the order's.")
    lines: list[RefundedLine] = Field(
        default_factory=list,
        max_length=1000,
        description="The lines refunded: exactly what they earned is taken back, under the "
        "rules that earned it. Without lines, the amount's share of what is left is.",
    )
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
