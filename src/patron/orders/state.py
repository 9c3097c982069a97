"""An order as one ingestion sees it: locked, changed in memory, written back in bulk."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


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
    # How the points were earned (patron.orders.earning); None: in proportion to the amount.
    earning: dict[str, Any] | None = None
    is_new: bool = False
    changed: bool = False
