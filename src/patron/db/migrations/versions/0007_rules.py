"""Earning rules (docs/rules.md).

- `orders.earning`: how an order's points were earned, share by share and rule by rule, so
  that refunds reverse exactly that. Orders placed before have none and are reversed as
  before, in proportion to the amount refunded.
- `rule_usage`: what each rule paid each member per period of its limits.
- `rule_budgets`: what each budgeted rule paid in all.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch_op:
        batch_op.add_column(
            sa.Column(
                "earning",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
    op.create_table(
        "rule_usage",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=300), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "member_id", "rule_id", "period", name=op.f("pk_rule_usage")
        ),
    )
    op.create_table(
        "rule_budgets",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("spent", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "rule_id", name=op.f("pk_rule_budgets")),
    )


def downgrade() -> None:
    op.drop_table("rule_budgets")
    op.drop_table("rule_usage")
    with op.batch_alter_table("orders") as batch_op:
        batch_op.drop_column("earning")
