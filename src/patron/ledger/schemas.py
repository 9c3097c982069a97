"""What the API shows of the ledger: postings with their entries, and adjustments."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from patron.kit.json_types import JsonInt, Text
from patron.ledger.engine import EntryLine, PostingDraft
from patron.ledger.models import Entry, Posting


class EntryOut(BaseModel):
    account: str = Field(
        description="available or pending (the wallet's); issued, redeemed, expired, adjusted "
        "or written_off (the program's).",
        examples=["pending"],
    )
    amount: int = Field(description="Signed, in the posting's asset.", examples=[42])


class PostingOut(BaseModel):
    id: str = Field(
        description="The posting's id.", examples=["0193a4c2-7e1f-7c3a-9f0e-2b8d1c4e5f60"]
    )
    kind: str = Field(
        examples=["earn"], description="earn, vest, claw_back, write_off, adjust, redeem or expire."
    )
    asset: str = Field(
        description="`points`, or the currency of a money wallet.", examples=["points"]
    )
    points: int = Field(
        examples=[42],
        description="Change to what the wallet holds (available + pending), in the asset's unit.",
    )
    reason: str = Field(description="Why, in words.", examples=["Order #1001"])
    order_id: str | None = Field(None, description="The order it concerns.", examples=["#1001"])
    event_id: str | None = Field(None, description="The stored event that caused it.")
    program_version: int | None = Field(
        None, description="The program version it was made under.", examples=[3]
    )
    detail: dict[str, Any] = Field(description="How the amount was computed.")
    entries: list[EntryOut] = Field(
        description="The double-entry lines: two or more, summing to zero."
    )
    created_at: datetime = Field(
        description="When it was recorded.", examples=["2026-11-22T10:15:00Z"]
    )


class Transaction(PostingOut):
    """One posting in a member's history."""


class AdjustmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: JsonInt = Field(
        description="Points to add (positive) or remove (negative).", examples=[250]
    )
    reason: Text = Field(
        min_length=1,
        max_length=500,
        description="Why: shown in the member's history and the audit trail.",
        examples=["Goodwill: parcel arrived late"],
    )


class Adjustment(BaseModel):
    transaction: Transaction = Field(description="The posting the adjustment made.")
    available: int = Field(description="Available points after the adjustment.", examples=[242])
    debt: int = Field(description="Debt after the adjustment.", examples=[0])


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def posting_view(p: PostingDraft) -> dict[str, Any]:
    """A posting just made, as `PostingOut` (a plain dict: the hot path renders it with orjson
    without validating it again)."""
    return stored_posting_view(p, p.entries)


def stored_posting_view(
    posting: Posting | PostingDraft, entries: Sequence[Entry | EntryLine]
) -> dict[str, Any]:
    """A posting as `PostingOut`: a stored one exactly as it was shown when it was made."""
    return {
        "id": str(posting.id),
        "kind": posting.kind,
        "asset": posting.asset,
        "points": posting.amount,
        "reason": posting.reason,
        "order_id": posting.order_id,
        "event_id": str(posting.event_id) if posting.event_id else None,
        "program_version": posting.program_version,
        "detail": posting.detail,
        "entries": [{"account": e.account, "amount": e.amount} for e in entries],
        "created_at": _iso(posting.created_at),
    }
