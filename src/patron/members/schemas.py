from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from patron.events.schemas import EventBase, Strict

EnrolledVia = Literal["checkout", "account", "import", "api"]


class MemberStatus(StrEnum):
    """A suspended member earns and spends nothing."""

    ACTIVE = "active"
    SUSPENDED = "suspended"


Status = Literal["active", "suspended"]


class MemberUpsert(BaseModel):
    """Fields to set. On update, fields left out keep their value; null clears them."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr | None = Field(
        None, description="The member's email address.", examples=["ada@example.com"]
    )
    name: str | None = Field(
        None, max_length=200, description="The member's name.", examples=["Ada Lovelace"]
    )
    birthday: date | None = Field(
        None, description="The member's date of birth.", examples=["1990-12-10"]
    )
    enrolled_via: EnrolledVia = Field(
        "api",
        description="How the member joined (kept from the first enrolment).",
        examples=["account"],
    )
    status: Status = Field(
        "active", description="A suspended member earns and spends nothing.", examples=["active"]
    )
    accepts_marketing: bool = Field(False, description="Consent to marketing messages.")


class Points(BaseModel):
    available: int = Field(description="Points the member can spend now.", examples=[1200])
    pending: int = Field(
        description="Points inside the return window, not yet spendable.", examples=[300]
    )
    lifetime_earned: int = Field(
        description="Net points ever earned from orders (earned minus clawed back).",
        examples=[5400],
    )
    debt: int = Field(
        description="Points owed after claw-backs (debt policy); future earnings pay it first.",
        examples=[0],
    )


class OrderStats(BaseModel):
    orders_count: int = Field(description="Orders placed and not cancelled.", examples=[7])
    total_spent: str = Field(
        description="Net of refunds, in the program currency.", examples=["412.50"]
    )
    currency: str | None = Field(
        description="The program's currency; null until a program is published.",
        examples=["USD"],
    )
    first_order_at: datetime | None = Field(
        description="When the member's first order was placed; null before any.",
        examples=["2026-11-22T10:15:00Z"],
    )
    last_order_at: datetime | None = Field(
        description="When the member's latest order was placed; null before any.",
        examples=["2026-11-22T10:15:00Z"],
    )


class Member(BaseModel):
    external_id: str = Field(description="The shop's customer id.", examples=["cust_1042"])
    email: str | None = Field(
        description="The member's email address.", examples=["ada@example.com"]
    )
    name: str | None = Field(description="The member's name.", examples=["Ada Lovelace"])
    birthday: date | None = Field(
        description="The member's date of birth.", examples=["1990-12-10"]
    )
    enrolled_via: EnrolledVia = Field(
        description="How the member joined: at checkout (their first order), by creating an "
        "account, by an import, or through the API.",
        examples=["checkout"],
    )
    status: Status = Field(
        description="A suspended member earns and spends nothing.", examples=["active"]
    )
    accepts_marketing: bool = Field(description="Consent to marketing messages.", examples=[False])
    enrolled_at: datetime = Field(
        description="When the member joined.", examples=["2026-11-22T10:15:00Z"]
    )
    updated_at: datetime = Field(
        description="When the member's details last changed.", examples=["2026-11-22T10:15:00Z"]
    )
    points: Points = Field(description="The member's points balances.")
    stats: OrderStats = Field(description="The member's order statistics.")


class MemberEnrolledData(Strict):
    source: EnrolledVia = Field("account", description="How the customer joined.")
    birthday: date | None = Field(
        None, description="The customer's date of birth.", examples=["1990-12-10"]
    )
    accepts_marketing: bool = Field(
        False, description="Consent to marketing messages.", examples=[True]
    )


class MemberEnrolled(EventBase):
    type: Literal["member.enrolled"] = Field(description="The event type.")
    data: MemberEnrolledData = Field(
        default_factory=MemberEnrolledData, description="How the customer joined."
    )
