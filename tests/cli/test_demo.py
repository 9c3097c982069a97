"""`patron demo`: the plan it draws from a seed, the shop it builds, the ledger it leaves behind
and the key and curl example it prints.

The command runs as a subprocess of the installed `patron` script, as a newcomer runs it. It
always builds on a SQLite file of its own (that is what the demo is for), whichever database
the rest of the suite uses.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from patron.cli import demo_shop as shop
from patron.members.schemas import MemberEnrolled
from patron.orders.schemas import OrderPlaced, OrderRefunded

MEMBERS = 40
SEED = 7


def patron_script() -> str:
    beside = Path(sys.executable).with_name("patron")
    found = str(beside) if beside.exists() else shutil.which("patron")
    assert found, "the `patron` script is not installed"
    return found


def patron(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [patron_script(), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@dataclass
class Built:
    url: str
    stdout: str

    @property
    def key(self) -> str:
        return printed_key(self.stdout)

    def scalar(self, sql: str, **params: object) -> object:
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                return conn.execute(text(sql), params).scalar_one()
        finally:
            engine.dispose()


def printed_key(stdout: str) -> str:
    found = re.findall(r"^\s*export PATRON_API_KEY=(pk_\S+)$", stdout, re.M)
    assert len(found) == 1, stdout
    return found[0]


def printed_curls(stdout: str) -> list[list[str]]:
    return [shlex.split(line) for line in stdout.splitlines() if line.strip().startswith("curl ")]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    started = time.monotonic()
    result = patron(
        "demo", "--no-serve", "--members", str(MEMBERS), "--seed", str(SEED), "--database-url", url
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The demo is the first thing a newcomer runs: it must not keep them waiting.
    assert time.monotonic() - started < 60
    return Built(url, result.stdout)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(built: Built) -> Iterator[str]:
    """`patron serve` on the demo's file, as the demo itself would serve it."""
    port = _free_port()
    env = {**os.environ, "PATRON_JOBS_INTERVAL": "0"}
    proc = subprocess.Popen(
        [patron_script(), "serve", "--port", str(port), "--database-url", built.url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "patron serve did not start"
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class TestPlan:
    END = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)

    def test_the_same_seed_draws_the_same_shop(self) -> None:
        a = shop.plan(members=30, seed=3, end=self.END)
        b = shop.plan(members=30, seed=3, end=self.END)
        assert a.events == b.events
        assert a.actions == b.actions

    def test_another_seed_draws_another_shop(self) -> None:
        a = shop.plan(members=30, seed=3, end=self.END)
        b = shop.plan(members=30, seed=4, end=self.END)
        assert a.events != b.events

    def test_every_customer_joins_by_ordering_or_signing_up(self) -> None:
        plan = shop.plan(members=60, seed=1, end=self.END)
        joined = {
            e.customer.external_id
            for e in plan.events
            if isinstance(e, OrderPlaced | MemberEnrolled)
        }
        assert joined == set(plan.customers)
        assert len(plan.customers) == 60

    def test_events_come_in_time_order_within_the_year_before_the_end(self) -> None:
        plan = shop.plan(members=60, seed=1, end=self.END)
        times = [e.occurred_at for e in plan.events]
        assert times == sorted(times)
        assert times[0] >= self.END - timedelta(days=shop.DAYS)
        assert times[-1] <= self.END
        assert len({e.id for e in plan.events}) == len(plan.events)

    def test_refunds_are_partial(self) -> None:
        plan = shop.plan(members=200, seed=1, end=self.END)
        totals = {
            e.data.order_id: Decimal(e.data.total)
            for e in plan.events
            if isinstance(e, OrderPlaced)
        }
        refunded: dict[str, Decimal] = {}
        for e in plan.events:
            if isinstance(e, OrderRefunded):
                refunded[e.data.order_id] = refunded.get(e.data.order_id, Decimal(0)) + Decimal(
                    e.data.amount
                )
        assert refunded, "the plan has no refunds"
        for order_id, amount in refunded.items():
            assert 0 < amount < totals[order_id], order_id

    def test_a_member_takes_the_dearest_reward_they_can_afford(self) -> None:
        assert shop.reward_for(500, 730) == shop.REWARDS[0]
        assert shop.reward_for(500, 250)[0] == 200  # type: ignore[index]
        assert shop.reward_for(200, 10_000)[0] == 200  # type: ignore[index]
        assert shop.reward_for(500, 99) is None


class TestBuild:
    def test_the_demo_tenant_has_a_published_program_and_the_requested_members(
        self, built: Built
    ) -> None:
        tenant = built.scalar("SELECT tenant_id FROM tenants WHERE name = 'demo'")
        assert tenant is not None
        members = built.scalar("SELECT count(*) FROM members WHERE tenant_id = :t", t=tenant)
        assert members == MEMBERS
        document = built.scalar(
            "SELECT v.document FROM program_versions v JOIN tenants t "
            "ON t.tenant_id = v.tenant_id AND t.program_version = v.version WHERE t.name = 'demo'"
        )
        program = json.loads(str(document))
        assert program["currency"] == "USD"
        assert Decimal(program["points_per_unit"]) == 1
        assert (program["pending_days"], program["expiry_days"]) == (14, 365)
        assert (program["negative_balance"], program["auto_enroll"]) == ("forbid", True)

    @pytest.mark.parametrize("kind", ["earn", "claw_back", "vest", "expire", "redeem", "adjust"])
    def test_the_history_has_postings_of_every_kind(self, built: Built, kind: str) -> None:
        count = built.scalar("SELECT count(*) FROM postings WHERE kind = :k", k=kind)
        assert isinstance(count, int) and count > 0, kind

    def test_some_customers_joined_before_their_first_order(self, built: Built) -> None:
        count = built.scalar("SELECT count(*) FROM members WHERE enrolled_via = 'account'")
        assert isinstance(count, int) and 0 < count < MEMBERS

    def test_the_jobs_kept_up_with_the_clock(self, built: Built) -> None:
        """The clock stopped at the end of the build; nothing was left due a day before."""
        cutoff = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
        overdue = built.scalar(
            "SELECT count(*) FROM lots WHERE remaining > 0 AND ("
            "(state = 'pending' AND vests_at < :c) OR (state = 'available' AND expires_at < :c))",
            c=cutoff,
        )
        assert overdue == 0
        pending = built.scalar(
            "SELECT count(*) FROM lots WHERE state = 'pending' AND remaining > 0"
        )
        assert isinstance(pending, int) and pending > 0, "recent orders should still be pending"

    def test_verify_ledger_finds_nothing_wrong(self, built: Built) -> None:
        assert "verify-ledger: OK" in built.stdout
        result = patron("verify-ledger", "--database-url", built.url)
        assert result.returncode == 0, result.stderr
        assert "ledger OK" in result.stdout


class TestPrintedKeyAndExamples:
    def test_the_key_reads_members(self, built: Built, server: str) -> None:
        auth = {"Authorization": f"Bearer {built.key}"}
        r = httpx.get(f"{server}/v1/members", params={"limit": 1}, headers=auth)
        assert r.status_code == 200, r.text
        assert len(r.json()["items"]) == 1

    def test_a_wrong_key_is_refused(self, server: str) -> None:
        auth = {"Authorization": "Bearer pk_not-the-demo-key"}
        r = httpx.get(f"{server}/v1/members", params={"limit": 1}, headers=auth)
        assert r.status_code == 401

    def test_the_curl_examples_work_as_printed(self, built: Built, server: str) -> None:
        get, post = printed_curls(built.stdout)
        auth = {"Authorization": f"Bearer {built.key}"}
        port = server.rsplit(":", 1)[1]

        url = get[2].replace(":8000", f":{port}")
        member = httpx.get(url, headers=auth)
        assert member.status_code == 200, member.text
        before = member.json()["points"]["pending"]

        body = post[post.index("-d") + 1]
        url = post[2].replace(":8000", f":{port}")
        r = httpx.post(url, content=body, headers={**auth, "Content-Type": "application/json"})
        assert r.status_code == 201, r.text
        assert (r.json()["status"], r.json()["points"]) == ("applied", 42)
        after = httpx.get(member.url, headers=auth).json()["points"]["pending"]
        assert after == before + 42


class TestRunningAgain:
    def test_reuses_the_shop_and_prints_a_new_key(self, built: Built) -> None:
        result = patron("demo", "--no-serve", "--members", "5", "--database-url", built.url)
        assert result.returncode == 0, result.stderr
        assert "reusing" in result.stdout
        assert built.scalar("SELECT count(*) FROM members") == MEMBERS
        assert built.scalar("SELECT count(*) FROM tenants WHERE name = 'demo'") == 1
        assert printed_key(result.stdout) != built.key
