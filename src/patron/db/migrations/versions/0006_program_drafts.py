"""Program drafts (docs/rules.md): one unpublished edit per shop.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import patron.db.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "program_drafts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column(
            "document",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("based_on", sa.Integer(), nullable=True),
        sa.Column("saved_at", patron.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.tenant_id"],
            name=op.f("fk_program_drafts_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_program_drafts")),
    )


def downgrade() -> None:
    op.drop_table("program_drafts")
