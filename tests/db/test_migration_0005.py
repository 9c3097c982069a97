"""Migration 0005 (erasure, export and merges) on a database holding a shop: the members and
events written under 0004 come through unchanged, with no member merged, and the upgrade can
be undone and done again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import inspect, select, table, text
from sqlalchemy.sql import column

from patron.db.engine import make_engine
from patron.db.migrate import alembic_config, upgrade
from tests.db.test_migrations import fresh_url, schema_diff  # noqa: F401  (fixture)

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

MEMBER = {
    "tenant_id": None,
    "id": None,
    "external_id": "ada",
    "email": "ada@example.com",
    "email_key": "ada@example.com",
    "name": "Ada",
    "birthday": None,
    "enrolled_via": "checkout",
    "status": "active",
    "accepts_marketing": False,
    "enrolled_at": AT,
    "updated_at": AT,
    "orders_count": 1,
    "total_spent": 5000,
    "first_order_at": AT,
    "last_order_at": AT,
}


def _rows_at_0004(url: str) -> None:
    upgrade(url, "0004")
    tenant_id, member_id = uuid.uuid4(), uuid.uuid4()
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO tenants (tenant_id, name, program_version, created_at) "
                    "VALUES (:t, 'old shop', NULL, :at)"
                ),
                {
                    "t": tenant_id if engine.dialect.name == "postgresql" else tenant_id.hex,
                    "at": AT,
                },
            )
            members = table("members", *(column(c) for c in MEMBER))
            conn.execute(
                members.insert(),
                [
                    {
                        **MEMBER,
                        "tenant_id": _id(engine.dialect.name, tenant_id),
                        "id": _id(engine.dialect.name, member_id),
                        "enrolled_at": _at(engine.dialect.name),
                        "updated_at": _at(engine.dialect.name),
                        "first_order_at": _at(engine.dialect.name),
                        "last_order_at": _at(engine.dialect.name),
                    }
                ],
            )
    finally:
        engine.dispose()


def _id(dialect: str, value: uuid.UUID) -> object:
    return value if dialect == "postgresql" else value.hex


def _at(dialect: str) -> object:
    return AT if dialect == "postgresql" else AT.replace(tzinfo=None)


def test_upgrading_keeps_the_members_and_merges_no_one(fresh_url: str) -> None:  # noqa: F811
    _rows_at_0004(fresh_url)
    upgrade(fresh_url)
    engine = make_engine(fresh_url)
    try:
        assert schema_diff(engine) == []
        inspector = inspect(engine)
        assert "merged_into" in [c["name"] for c in inspector.get_columns("members")]
        assert "member_merges" in inspector.get_table_names()
        assert "ix_events_tenant_id_customer_external_id" in [
            i["name"] for i in inspector.get_indexes("events")
        ]
        members = table("members", *(column(c) for c in (*MEMBER, "merged_into")))
        with engine.connect() as conn:
            row = conn.execute(select(members)).mappings().one()
        assert (row["external_id"], row["email"], row["status"], row["merged_into"]) == (
            "ada",
            "ada@example.com",
            "active",
            None,
        )
        assert (row["orders_count"], row["total_spent"]) == (1, 5000)
    finally:
        engine.dispose()


def test_the_upgrade_can_be_undone_and_done_again(fresh_url: str) -> None:  # noqa: F811
    _rows_at_0004(fresh_url)
    upgrade(fresh_url)
    command.downgrade(alembic_config(fresh_url), "0004")
    engine = make_engine(fresh_url)
    try:
        inspector = inspect(engine)
        assert "merged_into" not in [c["name"] for c in inspector.get_columns("members")]
        assert "member_merges" not in inspector.get_table_names()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT external_id FROM members")).scalars().all() == ["ada"]
    finally:
        engine.dispose()
    upgrade(fresh_url)
    engine = make_engine(fresh_url)
    try:
        assert schema_diff(engine) == []
    finally:
        engine.dispose()
