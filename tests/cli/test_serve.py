"""`patron serve` as an operator starts it: the installed script in a process of its own. It
says where it listens, which database (password hidden) and how many workers, serves that
database, and refuses one it cannot serve in one line before it starts."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from patron import __version__
from patron.db.engine import normalise_url
from patron.db.migrate import head
from tests.cli.helpers import free_port, one_line, patron, patron_script, script


@dataclass
class Served:
    base: str
    port: int
    log: Path

    @property
    def printed(self) -> str:
        return self.log.read_text()


@contextmanager
def serving(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    """`patron serve ARGS --port P`, until its /healthz answers; stopped afterwards."""
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    environment = {**os.environ, "PATRON_JOBS_INTERVAL": "0", **(env or {})}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [patron_script(), "serve", "--port", str(port), *args],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "patron serve did not start"
            time.sleep(0.1)
        yield Served(base, port, log)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def sqlite_with_key(tmp_path: Path, name: str) -> tuple[str, str]:
    """A migrated SQLite file with a tenant and a key: (its URL, the key)."""
    url = f"sqlite:///{tmp_path / name}"
    assert patron(url, "migrate").exit_code == 0
    assert patron(url, "tenants", "create", "myshop").exit_code == 0
    created = patron(url, "keys", "create", "--tenant", "myshop")
    assert created.exit_code == 0, created.output
    return url, created.stdout.strip()


def members(base: str, key: str) -> int:
    return httpx.get(
        f"{base}/v1/members", headers={"Authorization": f"Bearer {key}"}, timeout=10
    ).status_code


class TestBanner:
    def test_says_where_it_listens_which_database_and_workers_and_serves_that_database(
        self, tmp_path: Path
    ) -> None:
        url, key = sqlite_with_key(tmp_path, "served.db")
        # The environment names another database: --database-url wins, in the banner and
        # in what is served.
        elsewhere = f"sqlite:///{tmp_path / 'elsewhere.db'}"
        with serving(
            tmp_path, "--database-url", url, env={"PATRON_DATABASE_URL": elsewhere}
        ) as served:
            assert members(served.base, key) == 200
            assert httpx.get(f"{served.base}/docs", timeout=10).status_code == 200
            lines = served.printed.splitlines()
        assert lines[:3] == [
            f"Patron {__version__} listening on 127.0.0.1, port {served.port}: {served.base} "
            f"(OpenAPI docs at {served.base}/docs)",
            f"database: {url} (revision {head()})",
            "workers: 1; scheduled jobs off (PATRON_JOBS_INTERVAL=0: run `patron jobs run` "
            "from cron)",
        ]
        assert not (tmp_path / "elsewhere.db").exists()

    def test_workers_and_the_jobs_interval_are_counted(self, tmp_path: Path) -> None:
        url, key = sqlite_with_key(tmp_path, "two.db")
        with serving(
            tmp_path, "--workers", "2", "--database-url", url, env={"PATRON_JOBS_INTERVAL": "30"}
        ) as served:
            assert members(served.base, key) == 200
            assert "workers: 2; scheduled jobs every 30 s in each" in served.printed

    def test_on_all_interfaces_it_names_a_url_a_browser_can_open(self, tmp_path: Path) -> None:
        url, key = sqlite_with_key(tmp_path, "wide.db")
        with serving(tmp_path, "--host", "0.0.0.0", "--database-url", url) as served:
            assert members(served.base, key) == 200
            first = served.printed.splitlines()[0]
        assert first == (
            f"Patron {__version__} listening on all interfaces, port {served.port}: "
            f"{served.base} (OpenAPI docs at {served.base}/docs)"
        )

    @pytest.mark.postgres
    def test_a_postgres_password_is_hidden(self, database_url: str, tmp_path: Path) -> None:
        url = make_url(normalise_url(database_url)).set(password="s3cret-pw")
        given = url.render_as_string(hide_password=False)
        tenant = f"serve-{tmp_path.name}"
        assert patron(given, "tenants", "create", tenant).exit_code == 0
        key = patron(given, "keys", "create", "--tenant", tenant).stdout.strip()
        with serving(tmp_path, "--database-url", given) as served:
            assert members(served.base, key) == 200
            printed = served.printed
        assert f"database: {url.render_as_string(hide_password=True)} (revision" in printed
        assert ":***@" in printed
        assert "s3cret-pw" not in printed


class TestLogLevel:
    def test_info_shows_uvicorn_start_up_and_the_default_does_not(self, tmp_path: Path) -> None:
        url, _ = sqlite_with_key(tmp_path, "logs.db")
        with serving(tmp_path, "--database-url", url, "--log-level", "INFO") as served:
            pass
        assert "Application startup complete" in served.printed
        with serving(tmp_path, "--database-url", url) as served:
            pass
        assert "Application startup complete" not in served.printed

    def test_an_unknown_level_is_refused_in_one_line(self) -> None:
        done = script("serve", "--log-level", "loud")
        assert done.returncode == 2
        assert "Invalid value for '--log-level': 'loud' is not one of" in one_line(done.stderr)


class TestRefusals:
    @pytest.mark.postgres
    def test_an_unmigrated_postgres_database_is_refused(self, empty_postgres: str) -> None:
        """PostgreSQL is not migrated by `serve` by default: it says so instead of serving
        errors."""
        done = script("serve", "--port", str(free_port()), "--database-url", empty_postgres)
        assert done.returncode == 1, done.stderr
        hidden = make_url(empty_postgres).render_as_string(hide_password=True)
        assert one_line(done.stderr) == (
            f"error: the database at {hidden} is not migrated (at none, this package needs "
            f"{head()}): run `patron migrate`"
        )
        assert "s3cret-pw" not in done.stderr + done.stdout

    def test_an_empty_sqlite_file_with_no_migrate_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "empty.db"
        path.touch()
        done = script("serve", "--no-migrate", "--database-url", f"sqlite:///{path}")
        assert done.returncode == 1
        assert "is not migrated (at none," in one_line(done.stderr)

    def test_a_port_in_use_is_refused_in_one_line(self, tmp_path: Path) -> None:
        url, _ = sqlite_with_key(tmp_path, "busy.db")
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            done = script("serve", "--port", str(port), "--database-url", url)
        assert done.returncode == 1
        assert one_line(done.stderr) == (
            f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
        )

    def test_the_demo_checks_its_port_before_it_builds(self, tmp_path: Path) -> None:
        path = tmp_path / "demo.db"
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            done = script("demo", "--port", str(port), "--database-url", f"sqlite:///{path}")
        assert done.returncode == 1
        assert f"cannot listen on 127.0.0.1:{port}" in one_line(done.stderr)
        assert not path.exists()

    @pytest.mark.parametrize("port", ["0", "70000", "http"])
    def test_a_port_out_of_range_is_bad_input(self, port: str) -> None:
        done = script("serve", "--port", port)
        assert done.returncode == 2
        assert "Invalid value for '--port'" in one_line(done.stderr)
