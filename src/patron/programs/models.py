from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKeyConstraint
from sqlalchemy.orm import Mapped, mapped_column

from patron.db.base import Base, TenantScoped


class ProgramVersion(TenantScoped, Base):
    """An immutable published version of a tenant's program document."""

    __tablename__ = "program_versions"
    __table_args__ = (ForeignKeyConstraint(["tenant_id"], ["tenants.tenant_id"]),)

    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    document: Mapped[dict[str, Any]]
    published_at: Mapped[datetime]


class ProgramDraft(TenantScoped, Base):
    """The shop's one unpublished edit of its program: validated like a publish, applied to
    nothing until published. `based_on` is the version it was edited from."""

    __tablename__ = "program_drafts"
    __table_args__ = (ForeignKeyConstraint(["tenant_id"], ["tenants.tenant_id"]),)

    document: Mapped[dict[str, Any]]
    based_on: Mapped[int | None]
    saved_at: Mapped[datetime]
