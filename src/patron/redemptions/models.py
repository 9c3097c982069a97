import uuid
from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from patron.db.base import Base, Points, TenantScoped


class Redemption(TenantScoped, Base):
    """Points spent by a member, once per Idempotency-Key."""

    __tablename__ = "redemptions"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"]),
        ForeignKeyConstraint(["tenant_id", "posting_id"], ["postings.tenant_id", "postings.id"]),
        Index(
            "uq_redemptions_idempotency",
            "tenant_id",
            "member_id",
            "idempotency_key",
            unique=True,
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    member_id: Mapped[uuid.UUID]
    idempotency_key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the request body: the same key with another body is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    points: Mapped[int] = mapped_column(Points)
    description: Mapped[str] = mapped_column(String(500))
    posting_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime]
