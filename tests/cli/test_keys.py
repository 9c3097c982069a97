"""`patron keys revoke` by the whole key or any unique start of it, and `keys list` / `tenants
list` as a program reads them: tab-separated lines when piped, JSON with --json, a table only
at a terminal."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pty
import secrets
import struct
import subprocess
import termios
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select

from patron.auth.models import ApiKey, Tenant
from patron.auth.scopes import ALL_SCOPES
from patron.db.session import Database
from patron.kit.clock import FrozenClock
from patron.kit.ids import uuid7
from tests.cli.helpers import one_line, patron, patron_script, unique_name
from tests.factories import Shop

HEADER = ["prefix", "name", "state", "scopes", "created_at", "revoked_at"]


@pytest.fixture
def tenant(database_url: str) -> str:
    name = unique_name()
    result = patron(database_url, "tenants", "create", name)
    assert result.exit_code == 0, result.output
    return name


def create_key(database_url: str, tenant: str, name: str = "default") -> str:
    result = patron(database_url, "keys", "create", "--tenant", tenant, "--name", name)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def tenant_id(db: Database, name: str) -> uuid.UUID:
    with db.unit_of_work() as session:
        return session.execute(select(Tenant.tenant_id).where(Tenant.name == name)).scalar_one()


def add_key_with_prefix(db: Database, tenant: str, prefix: str, name: str) -> None:
    """A key whose stored prefix is chosen, to make prefixes collide on purpose."""
    with db.unit_of_work() as session:
        session.add(
            ApiKey(
                tenant_id=tenant_id(db, tenant),
                id=uuid7(),
                name=name,
                prefix=prefix,
                secret_hash=hashlib.sha256(secrets.token_bytes(32)).hexdigest(),
                scopes=list(ALL_SCOPES),
                created_at=datetime.now(UTC),
            )
        )


def revoked_at(db: Database, tenant: str, prefix: str) -> datetime | None:
    with db.unit_of_work() as session:
        return session.execute(
            select(ApiKey.revoked_at).where(
                ApiKey.tenant_id == tenant_id(db, tenant), ApiKey.prefix == prefix
            )
        ).scalar_one()


def works(base_url: str, key: str) -> bool:
    r = httpx.get(f"{base_url}/v1/members", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code in (200, 401), r.text
    return r.status_code == 200


def listed(database_url: str, tenant: str) -> dict[str, dict[str, str]]:
    """`keys list` as tab-separated rows, by prefix."""
    result = patron(database_url, "keys", "list", "--tenant", tenant)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split("\t") == HEADER
    rows = [dict(zip(HEADER, line.split("\t"), strict=True)) for line in lines[1:]]
    return {row["prefix"]: row for row in rows}


class TestRevoke:
    def test_the_whole_key_revokes_it(self, database_url: str, tenant: str, base_url: str) -> None:
        key = create_key(database_url, tenant)
        kept = create_key(database_url, tenant)
        result = patron(database_url, "keys", "revoke", key, "--tenant", tenant)
        assert result.exit_code == 0, result.output
        assert f"revoked key {key[:10]} (default)" in result.stdout
        assert not works(base_url, key)
        assert works(base_url, kept)

    def test_the_whole_publishable_key_revokes_it(
        self, database_url: str, tenant: str, base_url: str
    ) -> None:
        created = patron(database_url, "keys", "create", "--tenant", tenant, "--publishable")
        assert created.exit_code == 0, created.output
        key = created.stdout.strip()
        headers = {"X-Patron-Key": key}
        assert httpx.get(f"{base_url}/v1/program", headers=headers).status_code != 401
        result = patron(database_url, "keys", "revoke", key, "--tenant", tenant)
        assert result.exit_code == 0, result.output
        assert f"revoked key {key[:10]}" in result.stdout
        assert httpx.get(f"{base_url}/v1/program", headers=headers).status_code == 401

    @pytest.mark.parametrize("length", [7, 8, 10])
    def test_a_unique_start_revokes_the_key(
        self, database_url: str, tenant: str, base_url: str, length: int
    ) -> None:
        key = create_key(database_url, tenant)
        result = patron(database_url, "keys", "revoke", key[:length], "--tenant", tenant)
        assert result.exit_code == 0, result.output
        assert not works(base_url, key)

    def test_a_start_shared_by_several_keys_is_refused_naming_them(
        self, database_url: str, tenant: str, db: Database
    ) -> None:
        add_key_with_prefix(db, tenant, "pk_AbCd111", "backend")
        add_key_with_prefix(db, tenant, "pk_AbCd222", "reports")
        result = patron(database_url, "keys", "revoke", "pk_AbCd", "--tenant", tenant)
        assert result.exit_code == 2, result.output
        line = one_line(result.stderr)
        assert "'pk_AbCd' is the start of 2 keys" in line
        assert "pk_AbCd111 (backend)" in line and "pk_AbCd222 (reports)" in line
        assert "Traceback" not in result.output
        assert revoked_at(db, tenant, "pk_AbCd111") is None
        assert revoked_at(db, tenant, "pk_AbCd222") is None

        more = patron(database_url, "keys", "revoke", "pk_AbCd2", "--tenant", tenant)
        assert more.exit_code == 0, more.output
        assert revoked_at(db, tenant, "pk_AbCd111") is None
        assert revoked_at(db, tenant, "pk_AbCd222") is not None

    @pytest.mark.parametrize(
        "given",
        [
            "pk_abcd111",  # another case: keys are case-sensitive (SQLite's LIKE is not)
            "pk_AbC_111",  # `_` is a character, not LIKE's wildcard
            "pk_AbC%",
        ],
    )
    def test_a_start_matches_characters_exactly(
        self, database_url: str, tenant: str, db: Database, given: str
    ) -> None:
        add_key_with_prefix(db, tenant, "pk_AbCd111", "backend")
        result = patron(database_url, "keys", "revoke", given, "--tenant", tenant)
        assert result.exit_code == 2, result.output
        assert f"no key of this tenant starts with {given!r}" in one_line(result.stderr)
        assert revoked_at(db, tenant, "pk_AbCd111") is None

    def test_revoking_a_revoked_key_says_since_when_and_changes_nothing(
        self, database_url: str, tenant: str, db: Database
    ) -> None:
        key = create_key(database_url, tenant)
        assert patron(database_url, "keys", "revoke", key, "--tenant", tenant).exit_code == 0
        first = revoked_at(db, tenant, key[:10])
        assert first is not None

        again = patron(database_url, "keys", "revoke", key[:10], "--tenant", tenant)
        assert again.exit_code == 0, again.output
        assert f"already revoked on {first:%Y-%m-%d %H:%M:%S} UTC" in again.stdout
        assert "revoked key" not in again.stdout
        assert revoked_at(db, tenant, key[:10]) == first

    def test_a_whole_key_that_is_not_the_tenants_is_not_found_and_not_echoed(
        self, database_url: str, tenant: str, base_url: str
    ) -> None:
        key = create_key(database_url, tenant)
        other = unique_name()
        assert patron(database_url, "tenants", "create", other).exit_code == 0
        for wrong, where in ((key, other), (key[:-3] + "xyz", tenant)):
            result = patron(database_url, "keys", "revoke", wrong, "--tenant", where)
            assert result.exit_code == 2, result.output
            assert "no key of this tenant is" in one_line(result.stderr)
            assert key[10:] not in result.output and wrong[10:] not in result.output
        assert works(base_url, key)

    @pytest.mark.parametrize("given", ["pk_", "pk_Ab", "", "   "])
    def test_a_start_too_short_to_name_a_key_is_refused(
        self, database_url: str, tenant: str, base_url: str, given: str
    ) -> None:
        """Even when the tenant has a single key, which `pk_` (or an empty `pk_$ID`) would
        name."""
        key = create_key(database_url, tenant)
        result = patron(database_url, "keys", "revoke", given, "--tenant", tenant)
        assert result.exit_code == 2, result.output
        assert "too short to name a key" in one_line(result.stderr)
        assert works(base_url, key)

    def test_the_help_says_what_each_exit_status_means(self, database_url: str) -> None:
        result = patron(database_url, "keys", "revoke", "--help")
        text = " ".join(result.output.replace("│", " ").split())
        assert "Exit 0 when the key is revoked, also when it already was" in text
        assert "exit 2 when no key of the tenant matches" in text


class TestListsForPrograms:
    def test_keys_list_piped_is_tab_separated_under_a_header_never_wrapped(
        self, database_url: str, tenant: str
    ) -> None:
        key = create_key(database_url, tenant, name="backend")
        revoked = create_key(database_url, tenant, name="old")
        assert patron(database_url, "keys", "revoke", revoked, "--tenant", tenant).exit_code == 0

        rows = listed(database_url, tenant)
        assert set(rows) == {key[:10], revoked[:10]}
        active = rows[key[:10]]
        assert (active["name"], active["state"], active["revoked_at"]) == ("backend", "active", "")
        assert active["scopes"] == ",".join(ALL_SCOPES)
        datetime.fromisoformat(active["created_at"])
        old = rows[revoked[:10]]
        assert old["state"] == "revoked"
        assert datetime.fromisoformat(old["revoked_at"]) >= datetime.fromisoformat(
            old["created_at"]
        )
        # One line per key however long: no box, no wrapping at 80 columns.
        result = patron(database_url, "keys", "list", "--tenant", tenant)
        assert max(len(line) for line in result.stdout.splitlines()) > 80
        assert not set("│┃━─…") & set(result.stdout)
        assert key[10:] not in result.stdout

    def test_keys_list_json(self, database_url: str, tenant: str, db: Database) -> None:
        key = create_key(database_url, tenant, name="backend")
        result = patron(database_url, "keys", "list", "--tenant", tenant, "--json")
        assert result.exit_code == 0, result.output
        [row] = json.loads(result.stdout)
        assert row["prefix"] == key[:10]
        assert (row["name"], row["state"], row["revoked_at"]) == ("backend", "active", None)
        assert row["scopes"] == list(ALL_SCOPES)
        with db.unit_of_work() as session:
            stored = session.execute(
                select(ApiKey).where(ApiKey.tenant_id == tenant_id(db, tenant))
            ).scalar_one()
        assert row["id"] == str(stored.id)
        assert datetime.fromisoformat(row["created_at"]) == stored.created_at
        assert key[10:] not in result.stdout

    def test_tenants_list_json(self, database_url: str, shop: Shop) -> None:
        result = patron(database_url, "tenants", "list", "--json")
        assert result.exit_code == 0, result.output
        rows = {row["name"]: row for row in json.loads(result.stdout)}
        assert rows[shop.name]["tenant_id"] == str(shop.tenant_id)
        assert rows[shop.name]["program_version"] == shop.program_version == 1

    def test_tenants_list_piped_keeps_one_tenant_per_line_whatever_its_name(
        self, database_url: str, db: Database, clock: FrozenClock
    ) -> None:
        """A name with a tab, a newline or a backslash is escaped as PostgreSQL's COPY does,
        so it cannot break the columns."""
        name = f"odd\tname\nwith \\ {uuid.uuid4().hex[:8]}"
        with db.unit_of_work() as session:
            session.add(Tenant(tenant_id=uuid7(), name=name, created_at=clock.now()))
        result = patron(database_url, "tenants", "list")
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert lines[0].split("\t") == ["name", "tenant_id", "program_version", "created_at"]
        assert all(len(line.split("\t")) == 4 for line in lines)
        escaped = name.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
        assert escaped in [line.split("\t")[0] for line in lines]

    def test_verify_ledger_json(self, database_url: str) -> None:
        result = patron(database_url, "verify-ledger", "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == {"ok": True, "violations": []}


def test_at_a_terminal_keys_list_is_a_table(database_url: str, tenant: str) -> None:
    """What a person sees: the installed script on a pseudo-terminal 160 columns wide."""
    key = create_key(database_url, tenant, name="backend")
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    proc = subprocess.Popen(
        [patron_script(), "keys", "list", "--tenant", tenant, "--database-url", database_url],
        stdout=follower,
        stderr=follower,
        env={**os.environ, "TERM": "xterm"},
    )
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the process is gone and the terminal closed
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    assert proc.wait(timeout=30) == 0, out
    screen = out.decode()
    assert "┃" in screen and "│" in screen
    assert key[:10] in screen and "backend" in screen
    assert "\t" not in screen
