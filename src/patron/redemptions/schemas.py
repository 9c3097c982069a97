from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from patron.kit.json_types import JsonInt, Text


class RedemptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: JsonInt = Field(gt=0, le=100_000_000, description="Points to spend.", examples=[500])
    description: Text | None = Field(
        None,
        min_length=1,
        max_length=500,
        description="What the points were spent on; optional.",
        examples=["$5 off order #1042"],
    )


class Redemption(BaseModel):
    id: str = Field(
        description="The redemption's id.", examples=["0193a4c2-8b10-7d2e-a1f4-5c6d7e8f9a0b"]
    )
    points: int = Field(description="Points spent.", examples=[500])
    description: str = Field(description='As sent, or "Points redeemed".')
    transaction_id: str = Field(description="The ledger posting that debited the points.")
    available: int = Field(
        description="Available points after this redemption; on a replay, available points now."
    )
    created_at: datetime = Field(
        description="When the points were spent.", examples=["2026-11-22T10:15:00Z"]
    )
    replayed: bool = Field(
        description="True when this Idempotency-Key was used before: nothing was spent again."
    )
