"""A ledger for several assets; events written once.

- `balances`: one row per wallet (a member's points wallet has the member's id), holding the
  cached balances that were the `points_*` columns of `members`.
- postings, entries, lots name their wallet (`member_id` becomes `wallet_id`) and their asset
  (`points` for every existing row); `points` columns become `amount`.
- A removal by a support agent under the debt policy records what went into debt
  (`into_debt`), as claw-backs always did, so verify-ledger can tell allowed debt apart.
- Event results are stored compactly: the postings an event made are the ledger's rows with
  its id, so they are no longer copied into the event row.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _asset() -> sa.Column[str]:
    """The asset column, filled with `points` for the rows that exist."""
    return sa.Column("asset", sa.String(length=10), nullable=False, server_default="points")


def upgrade() -> None:
    op.create_table(
        "balances",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("wallet_id", sa.Uuid(), nullable=False),
        sa.Column("asset", sa.String(length=10), nullable=False),
        sa.Column("available", sa.BigInteger(), nullable=False),
        sa.Column("pending", sa.BigInteger(), nullable=False),
        sa.Column("lifetime", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "wallet_id", name=op.f("pk_balances")),
    )
    op.execute(
        "INSERT INTO balances (tenant_id, wallet_id, asset, available, pending, lifetime) "
        "SELECT tenant_id, id, 'points', points_available, points_pending, points_lifetime "
        "FROM members"
    )
    with op.batch_alter_table("members") as batch_op:
        batch_op.drop_column("points_available")
        batch_op.drop_column("points_pending")
        batch_op.drop_column("points_lifetime")

    with op.batch_alter_table("postings") as batch_op:
        batch_op.drop_index("ix_postings_tenant_id_member_id_id")
        batch_op.alter_column("member_id", new_column_name="wallet_id")
        batch_op.alter_column("points", new_column_name="amount")
        batch_op.add_column(_asset())
    with op.batch_alter_table("postings") as batch_op:
        batch_op.alter_column("asset", server_default=None)
        batch_op.create_index(
            "ix_postings_tenant_id_wallet_id_id", ["tenant_id", "wallet_id", "id"], unique=False
        )

    with op.batch_alter_table("entries") as batch_op:
        batch_op.drop_index("ix_entries_tenant_id_member_id_account")
        batch_op.alter_column("member_id", new_column_name="wallet_id")
        batch_op.add_column(_asset())
    with op.batch_alter_table("entries") as batch_op:
        batch_op.alter_column("asset", server_default=None)
        batch_op.create_index(
            "ix_entries_tenant_id_wallet_id_account",
            ["tenant_id", "wallet_id", "account"],
            unique=False,
        )

    with op.batch_alter_table("lots") as batch_op:
        batch_op.drop_index("ix_lots_open_by_member")
        batch_op.alter_column("member_id", new_column_name="wallet_id")
        batch_op.alter_column("points", new_column_name="amount")
        batch_op.add_column(_asset())
    with op.batch_alter_table("lots") as batch_op:
        batch_op.alter_column("asset", server_default=None)
        batch_op.create_index(
            "ix_lots_open_by_wallet",
            ["tenant_id", "wallet_id"],
            unique=False,
            postgresql_where=sa.text("remaining > 0"),
            sqlite_where=sa.text("remaining > 0"),
        )

    with op.batch_alter_table("lot_uses") as batch_op:
        batch_op.alter_column("points", new_column_name="amount")

    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE events SET result = result - 'postings' - 'id' - 'type' - 'status' "
            "- 'duplicate'"
        )
        op.execute(
            "UPDATE postings p SET detail = p.detail || jsonb_build_object('into_debt', -p.amount) "
            "FROM program_versions v WHERE v.tenant_id = p.tenant_id "
            "AND v.version = p.program_version AND v.document->>'negative_balance' = 'debt' "
            "AND p.kind = 'adjust' AND p.amount < 0"
        )
    else:
        op.execute(
            "UPDATE events SET result = json_remove(result, '$.postings', '$.id', '$.type', "
            "'$.status', '$.duplicate')"
        )
        op.execute(
            "UPDATE postings SET detail = json_set(detail, '$.into_debt', -amount) "
            "WHERE kind = 'adjust' AND amount < 0 AND EXISTS (SELECT 1 FROM program_versions v "
            "WHERE v.tenant_id = postings.tenant_id AND v.version = postings.program_version "
            "AND json_extract(v.document, '$.negative_balance') = 'debt')"
        )


def downgrade() -> None:
    raise NotImplementedError("0003 moves balances and renames ledger columns; restore a backup")
