"""Ledger tables: double-entry, append-only, for several assets.

An asset is `points` or a currency (`USD`): amounts are integers in its unit (a point, a minor
unit). A wallet is one holder's balance in one asset: a member's points (the wallet id is the
member's id), a member's store credit, one gift card. Wallet accounts (`available`,
`pending`) are the entries with that wallet id; the program's accounts (`issued`, `redeemed`,
`expired`, `adjusted`, `written_off`) are the entries with none. Wallet accounts are positive
when the program owes the holder; each posting's program entries are their mirror image, so
every posting sums to zero, and a posting has one asset.

The tables written on every event declare no foreign keys: their per-row checks took 270 of
420 ms when writing a batch of 1,000 events (EXPLAIN ANALYZE, see docs/benchmarks.md). Every
row is written by the ledger repository in the same statement as what it refers to, and
`patron verify-ledger` checks that no row refers to one that does not exist.

Program accounts keep no cached balance: updating one row per tenant on every earn would
serialise the whole shop. Their balances are sums of entries. Wallet balances are cached in
`balances`, updated in the same transaction as the entries.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from patron.db.base import Base, Points, TenantScoped


class Balance(TenantScoped, Base):
    """A wallet and its cached balances. The row is also the wallet's lock: every change to
    the wallet's balances takes it (SELECT ... FOR UPDATE on PostgreSQL) first.

    `available` and `pending` always equal the sums of the wallet's entries on those accounts,
    and `lifetime` minus the sum of the `issued` entries of the wallet's postings
    (`patron verify-ledger` proves it). One row per wallet rather than per account: an earn
    updates one row.
    """

    __tablename__ = "balances"

    wallet_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # `points`, or the ISO 4217 code of a money wallet.
    asset: Mapped[str] = mapped_column(String(10))
    # Available may be negative only under the debt policy.
    available: Mapped[int] = mapped_column(Points)
    pending: Mapped[int] = mapped_column(Points)
    # Net amount ever issued to the wallet by earning (earned minus clawed back); never spent
    # down.
    lifetime: Mapped[int] = mapped_column(Points)


class Posting(TenantScoped, Base):
    """One journal transaction: two or more entries that sum to zero. Never updated."""

    __tablename__ = "postings"
    __table_args__ = (
        Index("ix_postings_tenant_id_wallet_id_id", "tenant_id", "wallet_id", "id"),
        Index("ix_postings_tenant_id_event_id", "tenant_id", "event_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # The wallet whose accounts the posting moves.
    wallet_id: Mapped[uuid.UUID]
    asset: Mapped[str] = mapped_column(String(10))
    # earn | vest | claw_back | write_off | adjust | redeem | expire (ledger.assets.Kind)
    kind: Mapped[str] = mapped_column(String(20))
    # Net change to what the wallet holds (available + pending): +earn, -redeem, 0 for a vest.
    amount: Mapped[int] = mapped_column(Points)
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
    """One leg of a posting: a signed amount on one account, in the posting's asset."""

    __tablename__ = "entries"
    __table_args__ = (
        Index("ix_entries_tenant_id_posting_id", "tenant_id", "posting_id"),
        Index("ix_entries_tenant_id_wallet_id_account", "tenant_id", "wallet_id", "account"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    posting_id: Mapped[uuid.UUID]
    # Set for wallet accounts (available, pending); null for program accounts.
    wallet_id: Mapped[uuid.UUID | None]
    account: Mapped[str] = mapped_column(String(20))
    asset: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(Points)


class Lot(TenantScoped, Base):
    """An amount credited together, with one vesting and one expiry date.

    `remaining` is what is left to spend. The sum of `remaining` over a wallet's pending lots
    equals its pending balance; over available lots, its available balance when that is
    positive (a wallet in debt has no lots left). Debits consume lots soonest-expiring first.
    """

    __tablename__ = "lots"
    __table_args__ = (
        Index(
            "ix_lots_open_by_wallet",
            "tenant_id",
            "wallet_id",
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
    wallet_id: Mapped[uuid.UUID]
    asset: Mapped[str] = mapped_column(String(10))
    # The posting that credited the lot.
    posting_id: Mapped[uuid.UUID]
    order_id: Mapped[str | None] = mapped_column(String(255))
    # pending (inside the return window) | available
    state: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(Points)
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
    amount: Mapped[int] = mapped_column(Points)
