"""The `patron` command, run in-process with Typer's runner against the test database, and
checked against the running API server.

`verify-ledger` and `jobs run` work on every tenant of the shared test database, so the tests
that use them leave it as they found it (a corrupted balance is restored in `finally`).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner, Result

from patron import __version__
from patron.auth.models import ApiKey, Tenant
from patron.cli.main import app
from patron.db.session import Database
from patron.kit.clock import FrozenClock
from patron.ledger.models import Balance
from patron.members.models import Member
from patron.models import metadata
from tests.cli.helpers import one_line, run
from tests.factories import Shop, create_shop, order_placed, violations

runner = CliRunner()


def patron(database_url: str, *args: str) -> Result:
    return runner.invoke(app, [*args, "--database-url", database_url])


def text(result: Result) -> str:
    """Everything printed, with Rich's line wrapping undone."""
    return " ".join((result.output or "").split())


def unique_name() -> str:
    return f"cli-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def tenant(database_url: str) -> str:
    name = unique_name()
    result = patron(database_url, "tenants", "create", name)
    assert result.exit_code == 0, result.output
    return name


def create_key(database_url: str, tenant: str, *scopes: str) -> str:
    args = ["keys", "create", "--tenant", tenant]
    for scope in scopes:
        args += ["--scope", scope]
    result = patron(database_url, *args)
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert key.startswith("pk_"), result.output
    return key


def api(base_url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


class TestTenants:
    def test_create_makes_a_tenant(self, database_url: str, db: Database) -> None:
        name = unique_name()
        result = patron(database_url, "tenants", "create", name)
        assert result.exit_code == 0, result.output
        assert name in text(result)
        with db.unit_of_work() as session:
            found = session.execute(select(Tenant).where(Tenant.name == name)).scalar_one()
        assert str(found.tenant_id) in text(result)

    def test_creating_the_same_name_twice_fails_with_a_clear_message(
        self, database_url: str, tenant: str, db: Database
    ) -> None:
        result = patron(database_url, "tenants", "create", tenant)
        assert result.exit_code != 0
        assert f"a tenant named {tenant!r} exists already" in text(result)
        assert "Traceback" not in result.output
        with db.unit_of_work() as session:
            count = session.execute(select(Tenant.tenant_id).where(Tenant.name == tenant)).all()
        assert len(count) == 1

    def test_list_shows_the_tenant(self, database_url: str, tenant: str) -> None:
        result = patron(database_url, "tenants", "list")
        assert result.exit_code == 0, result.output
        assert tenant in text(result)


class TestKeys:
    def test_create_prints_a_key_that_authenticates(
        self, database_url: str, tenant: str, base_url: str
    ) -> None:
        key = create_key(database_url, tenant)
        with api(base_url, key) as client:
            r = client.put("/v1/members/cust-1", json={"email": "a@example.com"})
            assert r.status_code == 201, r.text
            assert client.get("/v1/members").json()["items"][0]["external_id"] == "cust-1"

    def test_only_the_sha256_of_the_key_is_stored(
        self, database_url: str, tenant: str, db: Database
    ) -> None:
        key = create_key(database_url, tenant)
        with db.unit_of_work() as session:
            tenant_id = session.execute(
                select(Tenant.tenant_id).where(Tenant.name == tenant)
            ).scalar_one()
            [row] = session.execute(
                select(ApiKey.__table__).where(ApiKey.tenant_id == tenant_id)
            ).all()
            assert row.secret_hash == hashlib.sha256(key.encode()).hexdigest()
            assert key.startswith(row.prefix) and len(row.prefix) < len(key) // 2
            everything = []
            for table in metadata.sorted_tables:
                if "tenant_id" in table.c:
                    rows = session.execute(
                        select(table).where(table.c.tenant_id == tenant_id)
                    ).all()
                    everything += [str(value) for r in rows for value in r]
        secret = key.removeprefix("pk_")
        assert not [value for value in everything if secret[:16] in value]

    def test_create_for_a_missing_tenant_fails(self, database_url: str) -> None:
        missing = unique_name()
        result = patron(database_url, "keys", "create", "--tenant", missing)
        assert result.exit_code != 0
        assert missing in text(result)
        assert "pk_" not in result.output

    def test_create_with_an_unknown_scope_fails(self, database_url: str, tenant: str) -> None:
        result = patron(database_url, "keys", "create", "--tenant", tenant, "--scope", "root")
        assert result.exit_code != 0
        assert "unknown scopes" in text(result)

    def test_a_key_created_with_a_scope_can_do_only_that(
        self, database_url: str, tenant: str, base_url: str
    ) -> None:
        key = create_key(database_url, tenant, "members:read")
        with api(base_url, key) as client:
            assert client.get("/v1/members").status_code == 200
            assert client.put("/v1/members/cust-1", json={}).status_code == 403

    def test_list_shows_prefixes_and_state_never_the_secret(
        self, database_url: str, tenant: str
    ) -> None:
        key = create_key(database_url, tenant)
        result = patron(database_url, "keys", "list", "--tenant", tenant)
        assert result.exit_code == 0, result.output
        assert key[:10] in text(result)
        assert "active" in text(result)
        assert key not in result.output
        assert key[10:20] not in result.output

    def test_list_for_a_missing_tenant_fails_with_a_clear_message(self, database_url: str) -> None:
        missing = unique_name()
        result = patron(database_url, "keys", "list", "--tenant", missing)
        assert result.exit_code != 0
        assert f"no tenant named {missing!r}" in text(result)

    def test_revoke_stops_the_key_at_once(
        self, database_url: str, tenant: str, base_url: str
    ) -> None:
        key = create_key(database_url, tenant)
        kept = create_key(database_url, tenant)
        with api(base_url, key) as client:
            assert client.get("/v1/members").status_code == 200
            result = patron(database_url, "keys", "revoke", key[:10], "--tenant", tenant)
            assert result.exit_code == 0, result.output
            assert client.get("/v1/members").status_code == 401
        with api(base_url, kept) as other:
            assert other.get("/v1/members").status_code == 200
        listing = patron(database_url, "keys", "list", "--tenant", tenant)
        lines = {line.split("\t")[0]: line for line in listing.stdout.splitlines()}
        assert "revoked" in lines[key[:10]]
        assert "active" in lines[kept[:10]]

    def test_revoke_accepts_the_prefix_as_list_prints_it(
        self, database_url: str, tenant: str, base_url: str
    ) -> None:
        key = create_key(database_url, tenant)
        result = patron(database_url, "keys", "revoke", key[:10] + "…", "--tenant", tenant)
        assert result.exit_code == 0, result.output
        with api(base_url, key) as client:
            assert client.get("/v1/members").status_code == 401

    def test_revoking_an_unknown_prefix_fails(self, database_url: str, tenant: str) -> None:
        result = patron(database_url, "keys", "revoke", "pk_nothing", "--tenant", tenant)
        assert result.exit_code != 0
        assert "pk_nothing" in text(result)


class TestVerifyLedger:
    def test_exits_0_on_a_clean_database(
        self, database_url: str, client: httpx.Client, clock: FrozenClock
    ) -> None:
        r = client.post("/v1/events", json=order_placed("cust-1", "o-1", "42.00", at=clock.now()))
        assert r.status_code == 201, r.text
        result = patron(database_url, "verify-ledger")
        assert result.exit_code == 0, result.output
        assert "ledger OK" in text(result)

    @pytest.fixture
    def corrupted(
        self, db: Database, shop: Shop, client: httpx.Client, clock: FrozenClock
    ) -> Iterator[tuple[Shop, uuid.UUID]]:
        """`shop` with cust-1's cached available balance off by 7, restored afterwards, and
        cust-1's points wallet (the member's id)."""
        r = client.post("/v1/events", json=order_placed("cust-1", "o-1", "42.00", at=clock.now()))
        assert r.status_code == 201, r.text
        with db.unit_of_work() as session:
            member_id = session.execute(
                select(Member.id).where(
                    Member.tenant_id == shop.tenant_id, Member.external_id == "cust-1"
                )
            ).scalar_one()
        wallet = (Balance.tenant_id == shop.tenant_id) & (Balance.wallet_id == member_id)
        with db.unit_of_work() as session:
            session.execute(update(Balance).where(wallet).values(available=Balance.available + 7))
        try:
            yield shop, member_id
        finally:
            with db.unit_of_work() as session:
                session.execute(
                    update(Balance).where(wallet).values(available=Balance.available - 7)
                )
            assert violations(db, shop) == []

    def test_exits_1_naming_a_corrupted_balance(
        self, database_url: str, corrupted: tuple[Shop, uuid.UUID]
    ) -> None:
        shop, wallet_id = corrupted
        # SQLite keeps uuids as 32 hex digits, and the check prints what is stored.
        wallet = wallet_id.hex if database_url.startswith("sqlite") else str(wallet_id)
        result = patron(database_url, "verify-ledger")
        assert result.exit_code == 1, result.output
        output = text(result)
        assert "available_matches_entries" in output
        assert f"tenant {shop.tenant_id} wallet {wallet} (points)" in output
        assert "cached available 49 but entries sum to 42" in output


class TestJobsRun:
    def test_prints_what_it_vested_and_expired(
        self, database_url: str, db: Database, base_url: str, clock: FrozenClock
    ) -> None:
        """`jobs run` reads the real clock: the orders are placed 60 real days ago."""
        drained = patron(database_url, "jobs", "run")  # anything other tests left due
        assert drained.exit_code == 0, drained.output
        clock.set(datetime.now(UTC) - timedelta(days=60))
        vesting = create_shop(db, now=clock.now(), program={"pending_days": 14})
        expiring = create_shop(db, now=clock.now(), program={"expiry_days": 30})
        for shop, total in ((vesting, "50.00"), (expiring, "80.00")):
            with api(base_url, shop.key) as client:
                r = client.post("/v1/events", json=order_placed("c1", "o-1", total, at=clock.now()))
                assert r.status_code == 201, r.text

        result = patron(database_url, "jobs", "run")
        assert result.exit_code == 0, result.output
        assert (
            text(result) == "vested 50 points in 1 lots; expired 80 points in 1 lots; 0 birthdays"
        )

        with api(base_url, vesting.key) as client:
            points = client.get("/v1/members/c1").json()["points"]
            assert (points["available"], points["pending"]) == (50, 0)
        with api(base_url, expiring.key) as client:
            points = client.get("/v1/members/c1").json()["points"]
            assert (points["available"], points["pending"]) == (0, 0)
            kinds = [t["kind"] for t in client.get("/v1/members/c1/transactions").json()["items"]]
            assert kinds == ["expire", "earn"]
        assert violations(db, vesting) == []
        assert violations(db, expiring) == []

        again = patron(database_url, "jobs", "run")
        assert text(again) == "vested 0 points in 0 lots; expired 0 points in 0 lots; 0 birthdays"

    def test_now_runs_the_jobs_as_of_another_time(
        self, database_url: str, db: Database, base_url: str, clock: FrozenClock
    ) -> None:
        """Only what is due by `--now` moves: a window that closes after it stays pending."""
        shop = create_shop(db, now=clock.now(), program={"pending_days": 14})
        with api(base_url, shop.key) as client:
            r = client.post("/v1/events", json=order_placed("c1", "o-1", "30.00", at=clock.now()))
            assert r.status_code == 201, r.text
        before_window = (clock.now() + timedelta(days=13)).strftime("%Y-%m-%dT%H:%M:%S")
        after_window = (clock.now() + timedelta(days=15)).strftime("%Y-%m-%dT%H:%M:%S")

        assert patron(database_url, "jobs", "run", "--now", before_window).exit_code == 0
        with api(base_url, shop.key) as client:
            assert client.get("/v1/members/c1").json()["points"]["pending"] == 30
        assert patron(database_url, "jobs", "run", "--now", after_window).exit_code == 0
        with api(base_url, shop.key) as client:
            points = client.get("/v1/members/c1").json()["points"]
            assert (points["available"], points["pending"]) == (30, 0)
        assert violations(db, shop) == []

    def test_a_malformed_now_is_refused(self, database_url: str) -> None:
        result = patron(database_url, "jobs", "run", "--now", "yesterday")
        assert result.exit_code == 2 and "--now" in result.output


class TestNowOption:
    """`--now` as ISO 8601: an offset or `Z`, a plain date (midnight UTC), a naive time (UTC).
    The order's points vest at 2027-11-30T23:00Z, between midnight in UTC+2 (22:00Z) and
    midnight UTC."""

    ORDERED = datetime(2027, 11, 16, 23, 0, tzinfo=UTC)

    @pytest.fixture
    def pending(self, db: Database, base_url: str, clock: FrozenClock) -> Shop:
        clock.set(self.ORDERED)
        shop = create_shop(db, now=clock.now(), program={"pending_days": 14})
        with api(base_url, shop.key) as client:
            r = client.post("/v1/events", json=order_placed("c1", "o-1", "30.00", at=clock.now()))
            assert r.status_code == 201, r.text
        return shop

    def pending_points(self, base_url: str, shop: Shop) -> int:
        with api(base_url, shop.key) as client:
            pending: int = client.get("/v1/members/c1").json()["points"]["pending"]
            return pending

    @pytest.mark.parametrize(
        ("now", "vested"),
        [
            ("2027-12-01T00:00:00+02:00", False),  # 22:00 UTC
            ("2027-12-01T00:00:00Z", True),
            ("2027-11-30T23:30:00", True),  # naive: UTC, not the machine's zone
            ("2027-11-30T22:30:00", False),
            ("2027-12-01", True),  # midnight UTC
            ("2027-11-30", False),
            (" 2027-12-01T01:00:00+01:00 ", True),  # midnight UTC, with spaces around
        ],
    )
    def test_times_and_dates_as_iso_8601(
        self, database_url: str, base_url: str, pending: Shop, now: str, vested: bool
    ) -> None:
        result = patron(database_url, "jobs", "run", "--now", now)
        assert result.exit_code == 0, result.output
        assert self.pending_points(base_url, pending) == (0 if vested else 30)

    @pytest.mark.parametrize(
        "value", ["yesterday", "2027-13-01", "2027-12-01T25:00", "", "0001-01-01T00:00:00+02:00"]
    )
    def test_a_bad_value_is_one_line_naming_the_option_and_exit_2(
        self, database_url: str, value: str
    ) -> None:
        result = patron(database_url, "jobs", "run", "--now", value)
        assert result.exit_code == 2, result.output
        line = one_line(result.stderr)
        assert line.startswith(f"error: Invalid value for '--now': {value!r}")
        assert "Traceback" not in result.output

    def test_the_help_says_how_a_time_without_offset_is_read(self, database_url: str) -> None:
        output = patron(database_url, "jobs", "run", "--help").output
        help_text = " ".join(output.replace("│", " ").split())
        assert "2027-12-01 (midnight UTC)" in help_text
        assert "a time without an offset is UTC" in help_text


def test_version_prints_the_package_version() -> None:
    result = run("--version")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"patron {__version__}\n"
