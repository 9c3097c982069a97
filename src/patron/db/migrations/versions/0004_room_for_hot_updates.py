"""Room on each page for in-place updates of the rows every event updates.

`members` (order statistics), `balances` (every posting), `orders` (refunds) and `lots`
(consumption) are updated row by row. With full pages, PostgreSQL writes each new row version
to another page and adds an entry to every index of the table; with room left on the page
(fillfactor 80) it can update in place (a HOT update), touching no index. New rows fill pages
to 80% only; existing pages get room as they are rewritten (VACUUM FULL or a dump and
restore). PostgreSQL only; SQLite has no such setting.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 19:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("members", "balances", "orders", "lots")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} SET (fillfactor = 80)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
