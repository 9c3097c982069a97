import uuid
from datetime import date, datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from patron.db.base import Base, Points, TenantScoped


class Member(TenantScoped, Base):
    """A customer in the program.

    The member's points are a ledger wallet whose id is the member's id (the `balances` row
    created with the member). Changes to a member's points lock the member row, then the
    wallet's balance row, in that order (SELECT ... FOR UPDATE on PostgreSQL).
    """

    __tablename__ = "members"
    __table_args__ = (
        Index("uq_members_tenant_id_external_id", "tenant_id", "external_id", unique=True),
        Index("ix_members_tenant_id_email_key", "tenant_id", "email_key"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # The shop's own customer id: how the shop and the API name the member.
    external_id: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    # Lower-cased email, for search.
    email_key: Mapped[str | None] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(200))
    birthday: Mapped[date | None]
    # checkout | account | import | api
    enrolled_via: Mapped[str] = mapped_column(String(20))
    # active | suspended: a suspended member earns and spends nothing.
    status: Mapped[str] = mapped_column(String(20), default="active")
    accepts_marketing: Mapped[bool] = mapped_column(default=False)
    enrolled_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    # Running order statistics that rules and segments read. Spend is in the program
    # currency's minor units, net of refunds.
    orders_count: Mapped[int] = mapped_column(default=0)
    total_spent: Mapped[int] = mapped_column(Points, default=0)
    first_order_at: Mapped[datetime | None]
    last_order_at: Mapped[datetime | None]
