"""A member as one ingestion sees it: locked, with its points book and order statistics."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from patron.ledger.engine import Book


@dataclass(slots=True)
class MemberState:
    id: uuid.UUID
    external_id: str
    status: str
    book: Book
    orders_count: int
    total_spent: int
    first_order_at: datetime | None
    last_order_at: datetime | None
    # Index of the event in the batch that enrols the member (None: a member already);
    # events before it see no member.
    joined_by: int | None = None
    changed: bool = False

    def count_order(self, total: int, at: datetime) -> None:
        self.orders_count += 1
        self.total_spent += total
        self.first_order_at = min(self.first_order_at or at, at)
        self.last_order_at = max(self.last_order_at or at, at)
        self.changed = True
