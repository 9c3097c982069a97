"""No foreign keys on the tables every event writes.

Their per-row checks cost more than the writes themselves; verify-ledger checks the
references instead (see patron.ledger.models).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 21:32:04.277003
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_entries_tenant_id_posting_id_postings"), type_="foreignkey"
        )

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_events_tenant_id_tenants"), type_="foreignkey")

    with op.batch_alter_table("lot_uses", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_lot_uses_tenant_id_posting_id_postings"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_lot_uses_tenant_id_lot_id_lots"), type_="foreignkey"
        )

    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_lots_tenant_id_member_id_members"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_lots_tenant_id_posting_id_postings"), type_="foreignkey"
        )

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_members_tenant_id_tenants"), type_="foreignkey")

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_orders_tenant_id_member_id_members"), type_="foreignkey"
        )

    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_postings_tenant_id_member_id_members"), type_="foreignkey"
        )


def downgrade() -> None:

    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_postings_tenant_id_member_id_members"),
            "members",
            ["tenant_id", "member_id"],
            ["tenant_id", "id"],
        )

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_orders_tenant_id_member_id_members"),
            "members",
            ["tenant_id", "member_id"],
            ["tenant_id", "id"],
        )

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_members_tenant_id_tenants"), "tenants", ["tenant_id"], ["tenant_id"]
        )

    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_lots_tenant_id_posting_id_postings"),
            "postings",
            ["tenant_id", "posting_id"],
            ["tenant_id", "id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_lots_tenant_id_member_id_members"),
            "members",
            ["tenant_id", "member_id"],
            ["tenant_id", "id"],
        )

    with op.batch_alter_table("lot_uses", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_lot_uses_tenant_id_lot_id_lots"),
            "lots",
            ["tenant_id", "lot_id"],
            ["tenant_id", "id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_lot_uses_tenant_id_posting_id_postings"),
            "postings",
            ["tenant_id", "posting_id"],
            ["tenant_id", "id"],
        )

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_events_tenant_id_tenants"), "tenants", ["tenant_id"], ["tenant_id"]
        )

    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_entries_tenant_id_posting_id_postings"),
            "postings",
            ["tenant_id", "posting_id"],
            ["tenant_id", "id"],
        )
