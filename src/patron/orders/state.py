"""An order as one ingestion sees it: locked, changed in memory, written back in bulk."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class OrderStatus(StrEnum):
    PLACED = "placed"
    CANCELLED = "cancelled"


@dataclass
class OrderState:
    id: uuid.UUID
    order_id: str
    member_id: uuid.UUID | None
    customer_external_id: str
    currency: str
    total: int
    subtotal: int | None
    refunded: int
    status: str
    points_earned: int
    points_reversed: int
    placed_at: datetime
    event_id: uuid.UUID
    is_new: bool = False
    changed: bool = False
