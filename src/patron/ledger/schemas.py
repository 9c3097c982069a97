from pydantic import BaseModel, ConfigDict, Field

from patron.events.schemas import PostingOut


class AdjustmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: int = Field(
        description="Points to add (positive) or remove (negative).", examples=[250]
    )
    reason: str = Field(
        min_length=1,
        max_length=500,
        description="Why: shown in the member's history and the audit trail.",
        examples=["Goodwill: parcel arrived late"],
    )


class Transaction(PostingOut):
    """One posting in a member's history."""


class Adjustment(BaseModel):
    transaction: Transaction
    available: int = Field(description="Available points after the adjustment.")
    debt: int = Field(description="Debt after the adjustment.")
