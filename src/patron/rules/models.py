import uuid

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from patron.db.base import Base, Points, TenantScoped


class RuleUsage(TenantScoped, Base):
    """What a rule paid one member in one period of one of its limits: the counter the limit
    is checked against. Written in the same statement as the credit, read under the member's
    lock; a reversed credit gives its points (and, once wholly reversed, its count) back."""

    __tablename__ = "rule_usage"

    member_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # The rule's id in the program: limits follow it across versions.
    rule_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # "<per>:<period>[:<by value>]": "month:2026-11", "lifetime:lifetime:instagram".
    period: Mapped[str] = mapped_column(String(300), primary_key=True)
    count: Mapped[int] = mapped_column(Points)
    points: Mapped[int] = mapped_column(Points)


class RuleBudget(TenantScoped, Base):
    """Points a budgeted rule has paid to all members. Locked by every ingestion that may pay
    from it, so two cannot both spend its last points."""

    __tablename__ = "rule_budgets"

    rule_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    spent: Mapped[int] = mapped_column(Points)
