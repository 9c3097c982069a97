import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from patron.db.base import Base, TenantScoped


class Event(TenantScoped, Base):
    """An event as received, with what it did, written once, in the statement that writes its
    effects. The unique (tenant, external id) index is what makes ingestion idempotent, also
    for duplicates that arrive at the same moment."""

    __tablename__ = "events"
    __table_args__ = (
        Index("uq_events_tenant_id_external_id", "tenant_id", "external_id", unique=True),
        # A customer's events, for erasure and export (docs/privacy.md).
        Index("ix_events_tenant_id_customer_external_id", "tenant_id", "customer_external_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # The sender's id for the event.
    external_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]
    customer_external_id: Mapped[str | None] = mapped_column(String(255))
    member_id: Mapped[uuid.UUID | None]
    # SHA-256 of the canonical JSON body: a replay with another body is a conflict. `erased`
    # once the customer's data was erased (the hash of a body that held it is itself a
    # fingerprint of it): any replay of the id is then answered as a duplicate.
    body_hash: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    # applied | not_member | member_suspended | no_effect
    status: Mapped[str] = mapped_column(String(30))
    # What the event did, compactly: {member, enrolled, points, message}. The postings it
    # made are the ledger's rows with this event id; together they rebuild the response
    # given the first time, which every replay gets again.
    result: Mapped[dict[str, Any]]
