"""core schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 20:06:42.664507
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import patron.db.base

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "tenants",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("program_version", sa.Integer(), nullable=True),
        sa.Column("created_at", patron.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("name", name=op.f("uq_tenants_name")),
    )
    op.create_table(
        "api_keys",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "scopes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", patron.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", patron.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_api_keys_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_api_keys")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index("uq_api_keys_secret_hash", ["secret_hash"], unique=True)

    op.create_table(
        "events",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("occurred_at", patron.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", patron.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("customer_external_id", sa.String(length=255), nullable=True),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column(
            "result",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_events_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "uq_events_tenant_id_external_id", ["tenant_id", "external_id"], unique=True
        )

    op.create_table(
        "members",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("email_key", sa.String(length=320), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("birthday", sa.Date(), nullable=True),
        sa.Column("enrolled_via", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("accepts_marketing", sa.Boolean(), nullable=False),
        sa.Column("enrolled_at", patron.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", patron.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("points_available", sa.BigInteger(), nullable=False),
        sa.Column("points_pending", sa.BigInteger(), nullable=False),
        sa.Column("points_lifetime", sa.BigInteger(), nullable=False),
        sa.Column("orders_count", sa.Integer(), nullable=False),
        sa.Column("total_spent", sa.BigInteger(), nullable=False),
        sa.Column("first_order_at", patron.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_order_at", patron.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_members_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_members")),
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.create_index(
            "ix_members_tenant_id_email_key", ["tenant_id", "email_key"], unique=False
        )
        batch_op.create_index(
            "uq_members_tenant_id_external_id", ["tenant_id", "external_id"], unique=True
        )

    op.create_table(
        "program_versions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "document",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("published_at", patron.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_program_versions_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "version", name=op.f("pk_program_versions")),
    )
    op.create_table(
        "orders",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.String(length=255), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("customer_external_id", sa.String(length=255), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("subtotal", sa.BigInteger(), nullable=True),
        sa.Column("refunded", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("points_earned", sa.BigInteger(), nullable=False),
        sa.Column("points_reversed", sa.BigInteger(), nullable=False),
        sa.Column("placed_at", patron.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "member_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_orders_tenant_id_member_id_members"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_orders")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_orders_tenant_id_member_id", ["tenant_id", "member_id"], unique=False
        )
        batch_op.create_index(
            "uq_orders_tenant_id_order_id", ["tenant_id", "order_id"], unique=True
        )

    op.create_table(
        "postings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("order_id", sa.String(length=255), nullable=True),
        sa.Column("program_version", sa.Integer(), nullable=True),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", patron.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "member_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_postings_tenant_id_member_id_members"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_postings")),
    )
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_postings_tenant_id_event_id", ["tenant_id", "event_id"], unique=False
        )
        batch_op.create_index(
            "ix_postings_tenant_id_member_id_id", ["tenant_id", "member_id", "id"], unique=False
        )

    op.create_table(
        "entries",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("posting_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("account", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "posting_id"],
            ["postings.tenant_id", "postings.id"],
            name=op.f("fk_entries_tenant_id_posting_id_postings"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_entries")),
    )
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_entries_tenant_id_member_id_account",
            ["tenant_id", "member_id", "account"],
            unique=False,
        )
        batch_op.create_index(
            "ix_entries_tenant_id_posting_id", ["tenant_id", "posting_id"], unique=False
        )

    op.create_table(
        "lots",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("posting_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("earned_at", patron.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("vests_at", patron.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", patron.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "member_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_lots_tenant_id_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "posting_id"],
            ["postings.tenant_id", "postings.id"],
            name=op.f("fk_lots_tenant_id_posting_id_postings"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_lots")),
    )
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_lots_available_expires_at",
            ["expires_at"],
            unique=False,
            postgresql_where=sa.text("remaining > 0 AND state = 'available'"),
            sqlite_where=sa.text("remaining > 0 AND state = 'available'"),
        )
        batch_op.create_index(
            "ix_lots_open_by_member",
            ["tenant_id", "member_id"],
            unique=False,
            postgresql_where=sa.text("remaining > 0"),
            sqlite_where=sa.text("remaining > 0"),
        )
        batch_op.create_index(
            "ix_lots_pending_vests_at",
            ["vests_at"],
            unique=False,
            postgresql_where=sa.text("remaining > 0 AND state = 'pending'"),
            sqlite_where=sa.text("remaining > 0 AND state = 'pending'"),
        )
        batch_op.create_index("ix_lots_tenant_id_order_id", ["tenant_id", "order_id"], unique=False)

    op.create_table(
        "redemptions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("posting_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", patron.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "member_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_redemptions_tenant_id_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "posting_id"],
            ["postings.tenant_id", "postings.id"],
            name=op.f("fk_redemptions_tenant_id_posting_id_postings"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_redemptions")),
    )
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.create_index(
            "uq_redemptions_idempotency", ["tenant_id", "member_id", "idempotency_key"], unique=True
        )

    op.create_table(
        "lot_uses",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("posting_id", sa.Uuid(), nullable=False),
        sa.Column("lot_id", sa.Uuid(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "lot_id"],
            ["lots.tenant_id", "lots.id"],
            name=op.f("fk_lot_uses_tenant_id_lot_id_lots"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "posting_id"],
            ["postings.tenant_id", "postings.id"],
            name=op.f("fk_lot_uses_tenant_id_posting_id_postings"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "posting_id", "lot_id", name=op.f("pk_lot_uses")),
    )


def downgrade() -> None:

    op.drop_table("lot_uses")
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.drop_index("uq_redemptions_idempotency")

    op.drop_table("redemptions")
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.drop_index("ix_lots_tenant_id_order_id")
        batch_op.drop_index(
            "ix_lots_pending_vests_at",
            postgresql_where=sa.text("remaining > 0 AND state = 'pending'"),
            sqlite_where=sa.text("remaining > 0 AND state = 'pending'"),
        )
        batch_op.drop_index(
            "ix_lots_open_by_member",
            postgresql_where=sa.text("remaining > 0"),
            sqlite_where=sa.text("remaining > 0"),
        )
        batch_op.drop_index(
            "ix_lots_available_expires_at",
            postgresql_where=sa.text("remaining > 0 AND state = 'available'"),
            sqlite_where=sa.text("remaining > 0 AND state = 'available'"),
        )

    op.drop_table("lots")
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_index("ix_entries_tenant_id_posting_id")
        batch_op.drop_index("ix_entries_tenant_id_member_id_account")

    op.drop_table("entries")
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.drop_index("ix_postings_tenant_id_member_id_id")
        batch_op.drop_index("ix_postings_tenant_id_event_id")

    op.drop_table("postings")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("uq_orders_tenant_id_order_id")
        batch_op.drop_index("ix_orders_tenant_id_member_id")

    op.drop_table("orders")
    op.drop_table("program_versions")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index("uq_members_tenant_id_external_id")
        batch_op.drop_index("ix_members_tenant_id_email_key")

    op.drop_table("members")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("uq_events_tenant_id_external_id")

    op.drop_table("events")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index("uq_api_keys_secret_hash")

    op.drop_table("api_keys")
    op.drop_table("tenants")
