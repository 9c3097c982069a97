"""A member as one ingestion sees it: locked, with its points book and order statistics."""

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from patron.ledger.engine import Book
from patron.rules.engine import MemberIn


@dataclass(frozen=True, slots=True)
class Profile:
    """What rules read of a member besides its statistics."""

    email: str | None = None
    name: str | None = None
    birthday: date | None = None
    enrolled_via: str = ""
    enrolled_at: datetime | None = None
    accepts_marketing: bool = False


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
    profile: Profile = Profile()

    def for_rules(self) -> MemberIn:
        """The member as the rules read it: as it is before the event being applied."""
        profile = self.profile
        return MemberIn(
            id=self.external_id,
            email=profile.email or "",
            name=profile.name or "",
            enrolled_via=profile.enrolled_via,
            birthday=profile.birthday.isoformat() if profile.birthday else "",
            enrolled_at=profile.enrolled_at,
            accepts_marketing=profile.accepts_marketing,
            orders=self.orders_count,
            spend=self.total_spent,
            points=self.book.available,
            first_order_at=self.first_order_at,
            last_order_at=self.last_order_at,
        )

    def count_order(self, total: int, at: datetime) -> None:
        self.orders_count += 1
        self.total_spent += total
        self.first_order_at = min(self.first_order_at or at, at)
        self.last_order_at = max(self.last_order_at or at, at)
        self.changed = True
