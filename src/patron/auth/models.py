import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from patron.db.base import Base, TenantScoped


class Tenant(Base):
    """One shop. Its id is the `tenant_id` every other row carries."""

    __tablename__ = "tenants"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # The published program version events are evaluated with; null until one is published.
    program_version: Mapped[int | None]
    created_at: Mapped[datetime]


class ApiKey(TenantScoped, Base):
    """A secret that authenticates requests as its tenant. Only a SHA-256 of it is kept:
    keys are 256 bits of randomness, so a slow hash adds nothing and would cost every call."""

    __tablename__ = "api_keys"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.tenant_id"]),
        Index("uq_api_keys_secret_hash", "secret_hash", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # First characters of the key, shown in listings so a person can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[Any]]
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
