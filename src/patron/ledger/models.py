"""Ledger tables.

Accounts are named, not stored: a member has `available` and `pending` (entries carry the
member id); the program has `issued`, `redeemed`, `expired`, `adjusted` and `written_off`
(entries with no member id). Member accounts are positive when points are owed to the
member; each posting's program entries are the mirror image, so every posting sums to zero.

The tables written on every event (members, events, orders, postings, entries, lots, lot
uses) declare no foreign keys: their per-row checks took 270 of 420 ms when writing a batch of
1,000 events (EXPLAIN ANALYZE, see docs/benchmarks.md). Every row is written by the ledger
repository in the same statement as what it refers to, and `patron verify-ledger` checks
that no row refers to one that does not exist.

Program accounts keep no cached balance: updating one row per tenant on every earn would
serialise the whole shop. Their balances are sums of entries. Member balances are cached on
the member row, updated in the same transaction as the entries.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from patron.db.base import Base, Points, TenantScoped


class Posting(TenantScoped, Base):
    """One journal transaction: two or more entries that sum to zero. Never updated."""

    __tablename__ = "postings"
    __table_args__ = (
        Index("ix_postings_tenant_id_member_id_id", "tenant_id", "member_id", "id"),
        Index("ix_postings_tenant_id_event_id", "tenant_id", "event_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    member_id: Mapped[uuid.UUID]
    # earn | vest | claw_back | write_off | adjust | redeem | expire
    kind: Mapped[str] = mapped_column(String(20))
    # Net change to what the member holds (available + pending): +earn, -redeem, 0 for a vest.
    points: Mapped[int] = mapped_column(Points)
    reason: Mapped[str] = mapped_column(String(500))
    # What caused it: the event (order placed, refunded...), the order, or neither (an
    # adjustment by a support agent, a scheduled job).
    event_id: Mapped[uuid.UUID | None]
    order_id: Mapped[str | None] = mapped_column(String(255))
    # The program version whose terms produced this posting.
    program_version: Mapped[int | None]
    # How the amount was computed: rate, base amount, rounding, lots used...
    detail: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class Entry(TenantScoped, Base):
    """One leg of a posting: a signed amount on one account."""

    __tablename__ = "entries"
    __table_args__ = (
        Index("ix_entries_tenant_id_posting_id", "tenant_id", "posting_id"),
        Index("ix_entries_tenant_id_member_id_account", "tenant_id", "member_id", "account"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    posting_id: Mapped[uuid.UUID]
    # Set for member accounts (available, pending); null for program accounts.
    member_id: Mapped[uuid.UUID | None]
    account: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(Points)


class Lot(TenantScoped, Base):
    """Points credited together, with one vesting and one expiry date.

    `remaining` is what is left to spend. The sum of `remaining` over a member's pending lots
    equals their pending balance; over available lots, their available balance when it is
    positive (a member in debt has no lots left). Debits consume lots soonest-expiring first.
    """

    __tablename__ = "lots"
    __table_args__ = (
        Index(
            "ix_lots_open_by_member",
            "tenant_id",
            "member_id",
            postgresql_where=text("remaining > 0"),
            sqlite_where=text("remaining > 0"),
        ),
        Index(
            "ix_lots_pending_vests_at",
            "vests_at",
            postgresql_where=text("remaining > 0 AND state = 'pending'"),
            sqlite_where=text("remaining > 0 AND state = 'pending'"),
        ),
        Index(
            "ix_lots_available_expires_at",
            "expires_at",
            postgresql_where=text("remaining > 0 AND state = 'available'"),
            sqlite_where=text("remaining > 0 AND state = 'available'"),
        ),
        Index("ix_lots_tenant_id_order_id", "tenant_id", "order_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    member_id: Mapped[uuid.UUID]
    # The posting that credited the lot.
    posting_id: Mapped[uuid.UUID]
    order_id: Mapped[str | None] = mapped_column(String(255))
    # pending (inside the return window) | available
    state: Mapped[str] = mapped_column(String(10))
    points: Mapped[int] = mapped_column(Points)
    remaining: Mapped[int] = mapped_column(Points)
    earned_at: Mapped[datetime]
    vests_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]


class LotUse(TenantScoped, Base):
    """Which lots a debit consumed, and how much of each."""

    __tablename__ = "lot_uses"
    __table_args__ = ()

    posting_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    lot_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    points: Mapped[int] = mapped_column(Points)
