import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKeyConstraint, Index, String, text
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
        # Few members are merged: the index holds only them, and enrolling costs nothing more.
        Index(
            "ix_members_merged_into",
            "tenant_id",
            "merged_into",
            postgresql_where=text("merged_into IS NOT NULL"),
            sqlite_where=text("merged_into IS NOT NULL"),
        ),
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
    # active | suspended | merged | erased (schemas.MemberStatus): only an active member earns
    # and spends. See docs/privacy.md for merged and erased.
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

    # A merged duplicate: the member it was folded into, which the duplicate's later events
    # reach. Always a member that is not merged itself (merging a member re-points the
    # duplicates merged into it), so following it is one step.
    merged_into: Mapped[uuid.UUID | None]


class MemberMerge(TenantScoped, Base):
    """One merge of a duplicate member into another, once per Idempotency-Key."""

    __tablename__ = "member_merges"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "target_id"], ["members.tenant_id", "members.id"]),
        ForeignKeyConstraint(["tenant_id", "source_id"], ["members.tenant_id", "members.id"]),
        Index("uq_member_merges_idempotency", "tenant_id", "idempotency_key", unique=True),
        Index("ix_member_merges_tenant_id_target_id", "tenant_id", "target_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the request (target and duplicate): the same key for another merge is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    # The surviving member, and the duplicate folded into it.
    target_id: Mapped[uuid.UUID]
    source_id: Mapped[uuid.UUID]
    # What the merge moved, by internal ids and amounts (no customer ids: an erasure leaves
    # this row as it is), to answer a replay with the first result.
    result: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
