"""The migrations are the schema: what they build must be exactly what the models declare, and
`patron migrate` must be safe to run on a database that is already up to date."""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Engine,
    String,
    TableClause,
    Uuid,
    column,
    create_engine,
    insert,
    inspect,
    select,
    table,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.types import TypeEngine
from typer.testing import CliRunner

from patron.auth.models import Tenant
from patron.checks import verify_all
from patron.cli.main import app
from patron.db.base import Json, UTCDateTime
from patron.db.engine import make_engine, normalise_url
from patron.db.migrate import alembic_config, upgrade
from patron.db.session import Database
from patron.events.models import Event
from patron.events.service import events
from patron.kit.clock import FrozenClock
from patron.ledger.models import Balance, Entry, Lot, LotUse, Posting
from patron.ledger.service import ledger
from patron.members.schemas import Points as MemberPoints
from patron.members.service import members
from patron.models import metadata
from patron.redemptions.models import Redemption

runner = CliRunner()


def schema_diff(engine: Engine) -> list[Any]:
    """What autogenerate would write into a new migration: nothing, if the schema matches."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


def plain(value: Any) -> Any:
    """Reflected values with SQL clauses (partial index predicates) as their text."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, ClauseElement):
        return str(value)
    return value


def fingerprint(engine: Engine) -> dict[str, Any]:
    """The schema as the database reports it, plus the recorded revision."""
    inspector = inspect(engine)
    tables: dict[str, Any] = {}
    for name in sorted(inspector.get_table_names()):
        tables[name] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                for c in inspector.get_columns(name)
            ],
            "pk": plain(inspector.get_pk_constraint(name)),
            "fks": sorted(map(repr, plain(inspector.get_foreign_keys(name)))),
            "indexes": sorted(map(repr, plain(inspector.get_indexes(name)))),
            "uniques": sorted(map(repr, plain(inspector.get_unique_constraints(name)))),
        }
    with engine.connect() as conn:
        versions = sorted(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    return {"tables": tables, "versions": versions}


def head(url: str) -> str:
    revision = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert revision is not None
    return revision


@pytest.fixture
def fresh_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same kind as the test database."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path}/fresh.db"
        return
    base = make_url(normalise_url(database_url))
    name = f"patron_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def migrate(url: str) -> None:
    result = runner.invoke(app, ["migrate", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


class TestMigrationsMatchTheModels:
    def test_the_migrated_test_database_has_exactly_the_models_schema(self, db: Database) -> None:
        assert schema_diff(db.engine) == []

    def test_the_test_database_is_at_the_head_revision(self, db: Database) -> None:
        with db.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        assert current == head(db.url)

    def test_every_model_table_exists_and_nothing_else(self, db: Database) -> None:
        tables = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert tables == set(metadata.tables)

    def test_the_comparison_notices_a_missing_table(self, fresh_url: str) -> None:
        """The check above can fail: on an empty database it reports every table missing."""
        engine = make_engine(fresh_url)
        try:
            added = {d[1].name for d in schema_diff(engine) if d[0] == "add_table"}
        finally:
            engine.dispose()
        assert added == set(metadata.tables)


class TestMigrateCommand:
    def test_migrate_builds_an_empty_database_to_the_models_schema(self, fresh_url: str) -> None:
        migrate(fresh_url)
        engine = make_engine(fresh_url)
        try:
            assert schema_diff(engine) == []
            assert fingerprint(engine)["versions"] == [head(fresh_url)]
        finally:
            engine.dispose()

    def test_running_migrate_twice_changes_nothing(
        self, fresh_url: str, clock: FrozenClock
    ) -> None:
        migrate(fresh_url)
        engine = make_engine(fresh_url)
        try:
            tenant_id = uuid.uuid4()
            with engine.begin() as conn:
                conn.execute(
                    insert(Tenant).values(tenant_id=tenant_id, name="kept", created_at=clock.now())
                )
            before = fingerprint(engine)
            migrate(fresh_url)
            assert fingerprint(engine) == before
            with engine.connect() as conn:
                names = conn.execute(select(Tenant.name)).scalars().all()
            assert names == ["kept"]
        finally:
            engine.dispose()


# -- upgrading live data from 0002 ---------------------------------------------------------

# The columns of the tables a shop fills, in order, as revisions 0001 and 0002 made them. The
# models describe the schema after 0003, so the old rows are written on table names.
OLD_SCHEMA: dict[str, list[str]] = {
    name: columns.split()
    for name, columns in {
        "tenants": "tenant_id name program_version created_at",
        "program_versions": "tenant_id version document published_at",
        "members": "tenant_id id external_id email email_key name birthday enrolled_via status "
        "accepts_marketing enrolled_at updated_at points_available points_pending "
        "points_lifetime orders_count total_spent first_order_at last_order_at",
        "orders": "tenant_id id order_id member_id customer_external_id currency total subtotal "
        "refunded status points_earned points_reversed placed_at event_id",
        "events": "tenant_id id external_id type occurred_at received_at customer_external_id "
        "member_id body_hash payload status result",
        "postings": "tenant_id id member_id kind points reason event_id order_id "
        "program_version detail created_at",
        "entries": "tenant_id id posting_id member_id account amount",
        "lots": "tenant_id id member_id posting_id order_id state points remaining earned_at "
        "vests_at expires_at",
        "lot_uses": "tenant_id posting_id lot_id points",
        "redemptions": "tenant_id id member_id idempotency_key request_hash points description "
        "posting_id created_at",
    }.items()
}
_UUIDS = {"tenant_id", "id", "member_id", "posting_id", "lot_id", "event_id"}
_JSON = {"document", "payload", "result", "detail"}
_INTEGERS = {
    *("version", "program_version", "points", "amount", "remaining", "total", "subtotal"),
    *("refunded", "orders_count", "total_spent", "points_earned", "points_reversed"),
    *("points_available", "points_pending", "points_lifetime"),
}


def old_type(name: str) -> TypeEngine[Any]:
    """A column's type in the old tables: one name, one type, whatever the table."""
    if name in _UUIDS:
        return Uuid()
    if name in _JSON:
        return cast(TypeEngine[Any], Json)
    if name in _INTEGERS:
        return BigInteger()
    if name.endswith("_at"):
        return UTCDateTime()
    if name == "birthday":
        return Date()
    if name == "accepts_marketing":
        return Boolean()
    return String()


T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
# The program as 0002 stored it; under `debt`, a removal by hand may leave a balance below 0.
PROGRAM = dict(
    name="Bean Club",
    currency="USD",
    points_per_unit="1",
    rounding="down",
    pending_days=14,
    expiry_days=365,
    negative_balance="debt",
    auto_enroll=True,
    timezone="UTC",
)


def old_table(name: str) -> TableClause:
    return table(name, *(column(c, old_type(c)) for c in OLD_SCHEMA[name]))


@dataclass
class LegacyShop:
    """A shop's rows as revision 0002 stored them, by table, written the way 0002's services
    wrote them (ids in creation order, like theirs)."""

    tenant_id: uuid.UUID
    rows: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {name: [] for name in OLD_SCHEMA}
    )
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    ada: uuid.UUID = field(init=False)
    bob: uuid.UUID = field(init=False)

    def new_id(self) -> uuid.UUID:
        return uuid.UUID(int=self.tenant_id.int + next(self.ids))

    def table(self, name: str) -> list[dict[str, Any]]:
        return self.rows[name]

    def find(self, name: str, **match: Any) -> list[dict[str, Any]]:
        return [r for r in self.rows[name] if all(r[k] == v for k, v in match.items())]

    def add(self, into: str, /, **row: Any) -> dict[str, Any]:
        self.rows[into].append({"tenant_id": self.tenant_id, **row})
        return self.rows[into][-1]

    def posting(
        self,
        member: uuid.UUID,
        kind: str,
        points: int,
        at: datetime,
        entries: dict[str, int],
        *,
        reason: str,
        event: uuid.UUID | None = None,
        order: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        p = self.add(
            "postings",
            id=self.new_id(),
            member_id=member,
            kind=kind,
            points=points,
            reason=reason,
            event_id=event,
            order_id=order,
            program_version=1,
            detail=detail or {},
            created_at=at,
        )
        for account, amount in entries.items():
            wallet = member if account in ("available", "pending") else None
            self.add(
                "entries",
                id=self.new_id(),
                posting_id=p["id"],
                member_id=wallet,
                account=account,
                amount=amount,
            )
        return p

    def lot(self, p: dict[str, Any], state: str, *, vests_at: datetime | None) -> dict[str, Any]:
        return self.add(
            "lots",
            id=self.new_id(),
            member_id=p["member_id"],
            posting_id=p["id"],
            order_id=p["order_id"],
            state=state,
            points=p["points"],
            remaining=p["points"],
            earned_at=p["created_at"],
            vests_at=vests_at,
            expires_at=p["created_at"] + 365 * DAY,
        )

    def use(self, p: dict[str, Any], lot: dict[str, Any], points: int) -> None:
        self.add("lot_uses", posting_id=p["id"], lot_id=lot["id"], points=points)
        lot["remaining"] -= points

    def member(
        self,
        id: uuid.UUID,
        external_id: str,
        via: str,
        *,
        orders_count: int = 0,
        total_spent: int = 0,
        first_order_at: datetime | None = None,
        last_order_at: datetime | None = None,
    ) -> None:
        """The member row, its cached points summed from its entries."""
        owned = {p["id"] for p in self.find("postings", member_id=id)}

        def total(account: str) -> int:
            entries = self.find("entries", account=account)
            return sum(e["amount"] for e in entries if e["posting_id"] in owned)

        self.add(
            "members",
            id=id,
            external_id=external_id,
            email=f"{external_id}@example.com",
            email_key=f"{external_id}@example.com",
            name=external_id.title(),
            birthday=None,
            enrolled_via=via,
            status="active",
            accepts_marketing=False,
            enrolled_at=T0,
            updated_at=T0 + 30 * DAY,
            points_available=total("available"),
            points_pending=total("pending"),
            points_lifetime=-total("issued"),
            orders_count=orders_count,
            total_spent=total_spent,
            first_order_at=first_order_at,
            last_order_at=last_order_at,
        )

    def event(
        self, id: uuid.UUID, external_id: str, type: str, member: uuid.UUID, **said: Any
    ) -> None:
        """The event row, its result holding copies of the postings it made, as 0002's did."""
        customer = next(m["external_id"] for m in self.find("members", id=member))
        made = self.find("postings", event_id=id)
        at = made[0]["created_at"] if made else T0
        self.add(
            "events",
            id=id,
            external_id=external_id,
            type=type,
            occurred_at=at,
            received_at=at,
            customer_external_id=customer,
            member_id=member,
            body_hash=hashlib.sha256(external_id.encode()).hexdigest(),
            payload={"id": external_id, "type": type, "customer": {"external_id": customer}},
            status="applied",
            result={
                "id": external_id,
                "type": type,
                "status": "applied",
                "duplicate": False,
                "member": customer,
                "points": sum(p["points"] for p in made),
                "postings": [self.view(p) for p in made],
                **said,
            },
        )

    def view(self, p: dict[str, Any]) -> dict[str, Any]:
        """A posting as 0002's API showed it (and copied it into its event's result)."""
        return {
            "id": str(p["id"]),
            "kind": p["kind"],
            "points": p["points"],
            "reason": p["reason"],
            "order_id": p["order_id"],
            "event_id": str(p["event_id"]) if p["event_id"] else None,
            "program_version": p["program_version"],
            "detail": p["detail"],
            "entries": [
                {"account": e["account"], "amount": e["amount"]}
                for e in self.find("entries", posting_id=p["id"])
            ],
            "created_at": p["created_at"].isoformat().replace("+00:00", "Z"),
        }


def legacy_shop(*, with_redemption: bool = False) -> LegacyShop:
    """Two members. Ada earned on two orders: the first vested, then was partly refunded;
    the second is still pending. Bob was given points by hand and had more taken away, which
    the program's debt policy allowed. Optionally Ada spent some at checkout."""
    shop = LegacyShop(tenant_id=uuid.UUID(int=uuid.uuid4().int >> 32 << 32))
    t1, t2, t3 = T0 + 15 * DAY, T0 + 20 * DAY, T0 + 21 * DAY
    shop.add("tenants", name=f"legacy-{shop.tenant_id.hex}", program_version=1, created_at=T0)
    shop.add("program_versions", version=1, document=PROGRAM, published_at=T0)
    shop.ada, shop.bob = ada, bob = shop.new_id(), shop.new_id()
    e1001, e1002, e1003, e2001 = (shop.new_id() for _ in range(4))

    earn1 = shop.posting(
        ada,
        "earn",
        50,
        T0,
        {"pending": 50, "issued": -50},
        reason="Order #1001",
        event=e1001,
        order="#1001",
        detail={"account": "pending", "rate": "1"},
    )
    lot1 = shop.lot(earn1, "available", vests_at=T0 + 14 * DAY)
    shop.posting(
        ada,
        "vest",
        0,
        t1,
        {"pending": -50, "available": 50},
        reason="Return window closed",
        order="#1001",
        detail={"lot_id": str(lot1["id"]), "points": 50},
    )
    earn2 = shop.posting(
        ada,
        "earn",
        100,
        t2,
        {"pending": 100, "issued": -100},
        reason="Order #1002",
        event=e1002,
        order="#1002",
        detail={"account": "pending", "rate": "1"},
    )
    shop.lot(earn2, "pending", vests_at=t2 + 14 * DAY)
    claw = shop.posting(
        ada,
        "claw_back",
        -20,
        t3,
        {"available": -20, "issued": 20},
        reason="Refund of order #1001",
        event=e1003,
        order="#1001",
        detail={"from_pending": 0, "from_available": 20, "into_debt": 0},
    )
    shop.use(claw, lot1, 20)
    gift = shop.posting(bob, "adjust", 10, t1, {"available": 10, "adjusted": -10}, reason="Gift")
    gift_lot = shop.lot(gift, "available", vests_at=None)
    removal = shop.posting(
        bob, "adjust", -25, t3, {"available": -25, "adjusted": 25}, reason="Fraud"
    )
    shop.use(removal, gift_lot, 10)
    if with_redemption:
        spend = shop.posting(
            ada, "redeem", -5, t3, {"available": -5, "redeemed": 5}, reason="$5 off"
        )
        shop.use(spend, lot1, 5)
        shop.add(
            "redemptions",
            id=shop.new_id(),
            member_id=ada,
            idempotency_key="checkout-1",
            request_hash="0" * 64,
            points=5,
            description="$5 off",
            posting_id=spend["id"],
            created_at=t3,
        )

    shop.member(
        ada,
        "ada",
        "checkout",
        orders_count=2,
        total_spent=13_000,
        first_order_at=T0,
        last_order_at=t2,
    )
    shop.member(bob, "bob", "account")
    for order_id, event, total, refunded, earned, reversed_, at in (
        ("#1001", e1001, 5_000, 2_000, 50, 20, T0),
        ("#1002", e1002, 10_000, 0, 100, 0, t2),
    ):
        shop.add(
            "orders",
            id=shop.new_id(),
            order_id=order_id,
            member_id=ada,
            customer_external_id="ada",
            currency="USD",
            total=total,
            subtotal=None,
            refunded=refunded,
            status="placed",
            points_earned=earned,
            points_reversed=reversed_,
            placed_at=at,
            event_id=event,
        )
    shop.event(e1001, "evt_1001", "order.placed", ada, enrolled=True, message="50 pending")
    shop.event(e1002, "evt_1002", "order.placed", ada, enrolled=False, message="100 pending")
    shop.event(e1003, "evt_1003", "order.refunded", ada, enrolled=False, message="20 back")
    shop.event(e2001, "evt_2001", "member.enrolled", bob, enrolled=True, message="Welcome")
    assert_consistent_ledger(shop)
    return shop


def assert_consistent_ledger(shop: LegacyShop) -> None:
    """The rows are a sound 0002 ledger (what verify-ledger checked then), so whatever is
    wrong after the upgrade is the upgrade's doing."""
    for p in shop.table("postings"):
        entries = shop.find("entries", posting_id=p["id"])
        assert len(entries) >= 2 and sum(e["amount"] for e in entries) == 0, p
    for lot in shop.table("lots"):
        used = sum(u["points"] for u in shop.find("lot_uses", lot_id=lot["id"]))
        assert 0 <= lot["remaining"] == lot["points"] - used, lot
    for m in shop.table("members"):
        lots = shop.find("lots", member_id=m["id"])
        pending = sum(x["remaining"] for x in lots if x["state"] == "pending")
        available = sum(x["remaining"] for x in lots if x["state"] == "available")
        assert (pending, available) == (m["points_pending"], max(m["points_available"], 0))
    for o in shop.table("orders"):
        assert 0 <= o["points_reversed"] <= o["points_earned"], o


def write_at_0002(url: str, shop: LegacyShop) -> None:
    """Migrate a fresh database to 0002 and store the shop there with plain inserts."""
    upgrade(url, "0002")
    engine = make_engine(url)
    try:
        inspector = inspect(engine)
        for name, columns in OLD_SCHEMA.items():
            # Every column the old schema has is written: the rows are 0002's shape.
            assert [c["name"] for c in inspector.get_columns(name)] == columns, name
        with engine.begin() as conn:
            for name, rows in shop.rows.items():
                if rows:
                    conn.execute(old_table(name).insert(), rows)
    finally:
        engine.dispose()


@pytest.fixture
def upgraded(fresh_url: str) -> Iterator[tuple[Database, LegacyShop]]:
    """A shop stored under 0002, then the database upgraded to the head revision."""
    shop = legacy_shop()
    write_at_0002(fresh_url, shop)
    upgrade(fresh_url)
    database = Database(fresh_url)
    try:
        yield database, shop
    finally:
        database.dispose()


class TestUpgradingAShopFrom0002:
    """0003 moves the cached balances, renames the ledger's columns and compacts event results
    on live data: a shop stored under 0002 must read back the same under the head revision."""

    def test_balances_rows_hold_the_members_old_cached_points(
        self, upgraded: tuple[Database, LegacyShop]
    ) -> None:
        db, shop = upgraded
        with db.unit_of_work() as session:
            balances = session.execute(
                select(Balance.wallet_id, Balance.asset, Balance.available, Balance.pending)
                .add_columns(Balance.lifetime)
                .where(Balance.tenant_id == shop.tenant_id)
            ).all()
        assert {tuple(row) for row in balances} == {
            (m["id"], "points", m["points_available"], m["points_pending"], m["points_lifetime"])
            for m in shop.table("members")
        }
        # Spelled out, so that a fixture summing its entries wrongly cannot hide a bug.
        assert {(r.wallet_id, r.available, r.pending, r.lifetime) for r in balances} == {
            (shop.ada, 30, 100, 130),
            (shop.bob, -15, 0, 0),
        }

    def test_the_renamed_columns_hold_the_old_values_and_every_asset_is_points(
        self, upgraded: tuple[Database, LegacyShop]
    ) -> None:
        db, shop = upgraded
        tenant = shop.tenant_id
        with db.unit_of_work() as session:
            postings = session.execute(
                select(Posting.id, Posting.wallet_id, Posting.amount, Posting.asset)
                .add_columns(Posting.kind, Posting.detail)
                .where(Posting.tenant_id == tenant)
            ).all()
            entries = session.execute(
                select(Entry.id, Entry.posting_id, Entry.wallet_id, Entry.account)
                .add_columns(Entry.amount, Entry.asset)
                .where(Entry.tenant_id == tenant)
            ).all()
            lots = session.execute(
                select(Lot.id, Lot.wallet_id, Lot.posting_id, Lot.state, Lot.amount)
                .add_columns(Lot.remaining, Lot.asset)
                .where(Lot.tenant_id == tenant)
            ).all()
            uses = session.execute(
                select(LotUse.posting_id, LotUse.lot_id, LotUse.amount).where(
                    LotUse.tenant_id == tenant
                )
            ).all()
            assets = {
                name: set(session.execute(text(f"SELECT DISTINCT asset FROM {name}")).scalars())
                for name in ("balances", "postings", "entries", "lots")
            }

        def detail_after(p: dict[str, Any]) -> dict[str, Any]:
            """A removal by hand under the debt policy now records what went into debt."""
            if p["kind"] == "adjust" and p["points"] < 0:
                return {**p["detail"], "into_debt": -p["points"]}
            return dict(p["detail"])

        assert {r.id: tuple(r)[1:] for r in postings} == {
            p["id"]: (p["member_id"], p["points"], "points", p["kind"], detail_after(p))
            for p in shop.table("postings")
        }
        assert {r.id: tuple(r)[1:] for r in entries} == {
            e["id"]: (e["posting_id"], e["member_id"], e["account"], e["amount"], "points")
            for e in shop.table("entries")
        }
        assert {r.id: tuple(r)[1:] for r in lots} == {
            x["id"]: (
                x["member_id"],
                x["posting_id"],
                x["state"],
                x["points"],
                x["remaining"],
                "points",
            )
            for x in shop.table("lots")
        }
        assert {tuple(r) for r in uses} == {
            (u["posting_id"], u["lot_id"], u["points"]) for u in shop.table("lot_uses")
        }
        assert assets == {name: {"points"} for name in assets}
        columns = {
            name: {c["name"] for c in inspect(db.engine).get_columns(name)} for name in OLD_SCHEMA
        }
        assert not columns["members"] & {"points_available", "points_pending", "points_lifetime"}
        assert not (columns["postings"] | columns["entries"] | columns["lots"]) & {
            "member_id",
            "points",
        }
        assert "points" not in columns["lot_uses"]

    def test_event_results_keep_what_the_event_said_and_drop_the_copied_postings(
        self, upgraded: tuple[Database, LegacyShop]
    ) -> None:
        db, shop = upgraded
        with db.unit_of_work() as session:
            stored: dict[str, dict[str, Any]] = dict(
                session.execute(
                    select(Event.external_id, Event.result).where(Event.tenant_id == shop.tenant_id)
                ).all()
            )
        assert stored == {
            e["external_id"]: {
                k: e["result"][k] for k in ("member", "enrolled", "points", "message")
            }
            for e in shop.table("events")
        }

    def test_verify_ledger_finds_nothing_wrong_after_the_upgrade(
        self, upgraded: tuple[Database, LegacyShop]
    ) -> None:
        db, shop = upgraded
        with db.unit_of_work() as session:
            assert verify_all(session, shop.tenant_id) == []
            assert verify_all(session) == []

    def test_the_api_reads_members_histories_and_event_replays_as_before(
        self, upgraded: tuple[Database, LegacyShop]
    ) -> None:
        """What the API shows after the upgrade is what it showed before: balances (with
        Bob's debt), a member's history, and an event's first result, rebuilt from the
        ledger's rows now that the event row no longer copies its postings."""
        db, shop = upgraded
        with db.unit_of_work() as session:
            found = members.search(
                session, tenant_id=shop.tenant_id, email=None, q=None, after=None, limit=10
            )
            described = {
                m.external_id: members.describe(m, b, currency="USD").points for m, b in found
            }
            history = ledger.history(
                session, tenant_id=shop.tenant_id, wallet_id=shop.ada, before=None, limit=50
            )
            replays = {
                e["external_id"]: events.get_result(
                    session, tenant_id=shop.tenant_id, event_id=e["external_id"]
                )
                for e in shop.table("events")
            }
        assert [(m.id, b.wallet_id) for m, b in found] == [
            (shop.ada, shop.ada),
            (shop.bob, shop.bob),
        ]
        assert described == {
            "ada": MemberPoints(available=30, pending=100, lifetime_earned=130, debt=0),
            "bob": MemberPoints(available=0, pending=0, lifetime_earned=0, debt=15),
        }
        # Newest first, each posting as 0002 showed it, now naming its asset.
        ada_postings = sorted(shop.find("postings", member_id=shop.ada), key=lambda p: p["id"])
        assert history == [{**shop.view(p), "asset": "points"} for p in reversed(ada_postings)]
        assert replays == {
            e["external_id"]: {
                **e["result"],
                "postings": [{**p, "asset": "points"} for p in e["result"]["postings"]],
            }
            for e in shop.table("events")
        }


class TestUpgradingAShopWithRedemptions:
    def test_a_shop_whose_members_spent_points_upgrades_and_keeps_its_redemptions(
        self, fresh_url: str
    ) -> None:
        """Redemption rows still declare foreign keys to members and postings, which 0003
        rebuilds on SQLite: the upgrade failed there (FOREIGN KEY constraint failed, DROP
        TABLE members) for any shop whose members had spent points."""
        shop = legacy_shop(with_redemption=True)
        write_at_0002(fresh_url, shop)
        upgrade(fresh_url)
        db = Database(fresh_url)
        try:
            with db.unit_of_work() as session:
                assert verify_all(session) == []
                kept = session.execute(
                    select(Redemption.member_id, Redemption.points, Redemption.posting_id)
                ).all()
                balance = session.execute(
                    select(Balance.available, Balance.pending, Balance.lifetime).where(
                        Balance.wallet_id == shop.ada
                    )
                ).one()
        finally:
            db.dispose()
        [spent] = shop.table("redemptions")
        assert [tuple(r) for r in kept] == [(shop.ada, 5, spent["posting_id"])]
        assert tuple(balance) == (25, 100, 130)
