"""Erasure, export and merges of members (docs/privacy.md).

- `members.merged_into`: a merged duplicate names the member it was folded into; a partial
  index holds only the merged rows.
- `member_merges`: one row per merge, once per Idempotency-Key.
- `events` gets an index by customer: erasure and export find a customer's events with it.
  It is one more index to maintain on every event written.

Existing rows need nothing: no member is merged yet, and every existing status stays valid.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import patron.db.base

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("members") as batch_op:
        batch_op.add_column(sa.Column("merged_into", sa.Uuid(), nullable=True))
        batch_op.create_index(
            "ix_members_merged_into",
            ["tenant_id", "merged_into"],
            unique=False,
            postgresql_where=sa.text("merged_into IS NOT NULL"),
            sqlite_where=sa.text("merged_into IS NOT NULL"),
        )
    with op.batch_alter_table("events") as batch_op:
        batch_op.create_index(
            "ix_events_tenant_id_customer_external_id",
            ["tenant_id", "customer_external_id"],
            unique=False,
        )
    op.create_table(
        "member_merges",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column(
            "result",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", patron.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "source_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_member_merges_tenant_id_source_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "target_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_member_merges_tenant_id_target_id_members"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_member_merges")),
    )
    with op.batch_alter_table("member_merges") as batch_op:
        batch_op.create_index(
            "uq_member_merges_idempotency", ["tenant_id", "idempotency_key"], unique=True
        )
        batch_op.create_index(
            "ix_member_merges_tenant_id_target_id", ["tenant_id", "target_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("member_merges")
    with op.batch_alter_table("events") as batch_op:
        batch_op.drop_index("ix_events_tenant_id_customer_external_id")
    with op.batch_alter_table("members") as batch_op:
        batch_op.drop_index("ix_members_merged_into")
        batch_op.drop_column("merged_into")
