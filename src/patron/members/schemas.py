from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from patron.events.schemas import EventBase, Strict
from patron.kit.json_types import DateString, JsonBool, Text
from patron.kit.opaque import Id
from patron.ledger.schemas import PostingOut

EnrolledVia = Literal["checkout", "account", "import", "api"]


class MemberStatus(StrEnum):
    """Only an active member earns and spends. A suspended one may become active again; a
    merged or erased one stays so (docs/privacy.md)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    MERGED = "merged"
    ERASED = "erased"


Status = Literal["active", "suspended"]

# A date string, never a number of seconds (patron.kit.json_types).
Birthday = Annotated[date | None, DateString]


class MemberUpsert(BaseModel):
    """Fields to set. On update, fields left out keep their value; null clears them."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr | None = Field(
        None, description="The member's email address.", examples=["ada@example.com"]
    )
    name: Text | None = Field(
        None, max_length=200, description="The member's name.", examples=["Ada Lovelace"]
    )
    birthday: Birthday = Field(
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
    accepts_marketing: JsonBool = Field(
        False, description="Consent to marketing messages.", examples=[True]
    )


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
    status: Literal["active", "suspended", "merged", "erased"] = Field(
        description="Only an active member earns and spends. `merged`: folded into the member "
        "named by `merged_into`; `erased`: their personal data was erased (docs/privacy.md).",
        examples=["active"],
    )
    merged_into: str | None = Field(
        None,
        description="For a merged member, the customer id of the member it was folded into.",
        examples=[None],
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
    birthday: Birthday = Field(
        None, description="The customer's date of birth.", examples=["1990-12-10"]
    )
    accepts_marketing: JsonBool = Field(
        False, description="Consent to marketing messages.", examples=[True]
    )


class MemberEnrolled(EventBase):
    type: Literal["member.enrolled"] = Field(description="The event type.")
    data: MemberEnrolledData = Field(
        default_factory=MemberEnrolledData, description="How the customer joined."
    )


# -- erasure, export and merges (docs/privacy.md) -------------------------------------------


class Erasure(BaseModel):
    """What an erasure removed."""

    external_id: str = Field(
        description="The customer id erased, as sent. Patron keeps it nowhere any more.",
        examples=["cust_1042"],
    )
    erased_at: datetime = Field(
        description="When the data was erased.", examples=["2026-11-22T10:15:00Z"]
    )
    members: int = Field(
        description="Member records erased: the member and the duplicates merged into it; 0 "
        "when the customer was never a member.",
        examples=[1],
    )
    events: int = Field(
        description="Stored events about the customer whose personal data was removed.",
        examples=[3],
    )
    orders: int = Field(description="Orders that no longer name the customer.", examples=[2])
    texts: int = Field(
        description="Free texts (reasons in the points history, redemption descriptions) the "
        "customer's id, email or name was removed from.",
        examples=[0],
    )


class MergeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Id = Field(
        alias="from",
        description="The duplicate's customer id: it is folded into the member of the path.",
        examples=["cust_2001"],
    )


class MergeMoved(BaseModel):
    available: int = Field(description="Available points moved.", examples=[120])
    pending: int = Field(
        description="Pending points moved; they stay pending until they would have vested.",
        examples=[40],
    )
    debt: int = Field(description="Debt moved (debt policy).", examples=[0])
    lifetime: int = Field(description="Lifetime points moved.", examples=[300])


class Merge(BaseModel):
    id: str = Field(
        description="The merge's id.", examples=["0193a4c2-8b10-7d2e-a1f4-5c6d7e8f9a0c"]
    )
    target: str = Field(description="The surviving member's customer id.", examples=["cust_1042"])
    merged: str = Field(
        description="The duplicate's customer id. Its later events reach the surviving member.",
        examples=["cust_2001"],
    )
    moved: MergeMoved = Field(description="What the duplicate's points wallet held, moved.")
    orders: int = Field(description="The duplicate's orders, now the member's.", examples=[3])
    transactions: list[str] = Field(
        description="The two ledger postings of the transfer (out of the duplicate's wallet, "
        "into the member's); none if the duplicate never had points."
    )
    merged_at: datetime = Field(
        description="When the merge was made.", examples=["2026-11-22T10:15:00Z"]
    )
    replayed: bool = Field(
        description="True when this Idempotency-Key was used before: nothing was merged again."
    )
    member: Member = Field(description="The surviving member now.")


class Wallet(BaseModel):
    wallet_id: str = Field(description="The wallet's id.")
    asset: str = Field(description="`points`, or the currency of a money wallet.")
    available: int = Field(description="Spendable now, in the asset's unit.", examples=[120])
    pending: int = Field(description="Not yet spendable (return window).", examples=[40])
    lifetime: int = Field(description="Net amount ever earned.", examples=[300])
    debt: int = Field(description="Owed after claw-backs (debt policy).", examples=[0])


class ExportPosting(PostingOut):
    wallet_id: str = Field(description="The wallet the posting moved.")


class ExportLot(BaseModel):
    id: str = Field(description="The lot's id.")
    wallet_id: str = Field(description="The wallet it belongs to.")
    asset: str = Field(description="The lot's asset.", examples=["points"])
    posting_id: str = Field(description="The posting that credited it.")
    order_id: str | None = Field(description="The order it was earned on, if any.")
    state: str = Field(description="pending or available.", examples=["available"])
    amount: int = Field(description="Credited.", examples=[84])
    remaining: int = Field(description="Left to spend.", examples=[42])
    earned_at: datetime = Field(description="When it was earned.")
    vests_at: datetime | None = Field(description="When it stops being pending.")
    expires_at: datetime | None = Field(description="When what is left of it expires.")


class ExportAdjustment(BaseModel):
    transaction_id: str = Field(description="The adjustment's posting.")
    points: int = Field(description="Added (positive) or removed (negative).", examples=[200])
    reason: str = Field(description="Why.", examples=["Welcome gift"])
    created_at: datetime = Field(description="When it was made.")


class ExportEvent(BaseModel):
    id: str = Field(description="The event's id, as the shop sent it.", examples=["evt_1001"])
    type: str = Field(description="The event type.", examples=["order.placed"])
    occurred_at: datetime = Field(description="When it happened.")
    received_at: datetime = Field(description="When Patron received it.")
    customer: str | None = Field(description="The customer id it named.")
    status: str = Field(description="What it did: applied, not_member...", examples=["applied"])
    payload: dict[str, Any] = Field(description="The event as received (validated).")
    result: dict[str, Any] = Field(description="What it did, in short.")


class ExportMerge(BaseModel):
    id: str = Field(description="The merge's id.")
    merged: str = Field(description="The duplicate's customer id.", examples=["cust_2001"])
    into: str = Field(description="The surviving member's customer id.", examples=["cust_1042"])
    created_at: datetime = Field(description="When it was made.")
    moved: MergeMoved = Field(description="What it moved.")


class MemberExport(BaseModel):
    """Everything Patron holds about one member, in one document."""

    format: Literal["patron.member-export.v1"] = Field(
        description="The document's format and version."
    )
    exported_at: datetime = Field(description="When the document was made.")
    member: Member = Field(description="The member: details, status, points, order statistics.")
    merged_members: list[Member] = Field(
        description="Duplicates folded into this member, with the details they were known by."
    )
    wallets: list[Wallet] = Field(description="Every wallet: each asset's balances.")
    orders: list[dict[str, Any]] = Field(
        description="Every order of the member and of the duplicates merged into it: order id, "
        "customer id it was placed under, currency, total, subtotal, refunded, status "
        "(placed or cancelled), points earned and taken back, when it was placed.",
        examples=[
            [
                {
                    "order_id": "#1001",
                    "customer": "cust_1042",
                    "currency": "USD",
                    "total": "84.50",
                    "subtotal": None,
                    "refunded": "42.25",
                    "status": "placed",
                    "points_earned": 84,
                    "points_reversed": 42,
                    "placed_at": "2026-11-22T10:15:00Z",
                }
            ]
        ],
    )
    postings: list[ExportPosting] = Field(
        description="Every posting on the wallets, oldest first, with its entries."
    )
    lots: list[ExportLot] = Field(description="Every lot of the wallets, spent or not.")
    redemptions: list[dict[str, Any]] = Field(
        description="Every redemption: id, points, description, its posting, when.",
        examples=[
            [
                {
                    "id": "0193a4c2-8b10-7d2e-a1f4-5c6d7e8f9a0b",
                    "points": 150,
                    "description": "$5 off order #1004",
                    "transaction_id": "0193a4c2-8b10-7d2e-a1f4-5c6d7e8f9a0d",
                    "created_at": "2026-11-22T10:15:00Z",
                }
            ]
        ],
    )
    adjustments: list[ExportAdjustment] = Field(
        description="Support adjustments (the postings of kind `adjust`, in short)."
    )
    events: list[ExportEvent] = Field(
        description="Every stored event that named the member or a merged duplicate."
    )
    merges: list[ExportMerge] = Field(description="The merges that folded duplicates into it.")
