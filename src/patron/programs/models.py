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
