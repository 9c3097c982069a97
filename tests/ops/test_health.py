"""`/healthz` and `/readyz` over real HTTP: the process is up without a database; it is ready
only when the database answers, in time, at the migration this package needs."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from patron.app import create_app
from patron.config import Settings
from patron.db.migrate import head, upgrade
from patron.db.session import Database
from patron.ops import api as ops_api
from tests.servers import serving


@pytest.fixture
def serve(server_clock: Any) -> Iterator[Any]:
    """Serves an app on a database of the test's choosing; disposes of the database after."""
    opened: list[Database] = []

    def start(url: str) -> Any:
        database = Database(url)
        opened.append(database)
        settings = Settings(database_url=url, jobs_interval=0, access_log=False)
        return serving(create_app(settings, clock=server_clock, database=database))

    yield start
    for database in opened:
        database.dispose()


def assert_not_ready(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["title"] == "Not ready" and body["status"] == 503
    assert body["errors"][0]["field"] == "database"
    return body


class TestHealthz:
    def test_the_process_is_up(self, anon: httpx.Client) -> None:
        body = anon.get("/healthz").json()
        assert body["status"] == "ok" and body["version"]

    def test_it_does_not_touch_the_database(self, serve: Any) -> None:
        with serve("postgresql://nobody@127.0.0.1:1/none") as url:
            assert httpx.get(f"{url}/healthz").status_code == 200
            assert_not_ready(httpx.get(f"{url}/readyz"))


class TestReadyz:
    def test_ready_on_the_migrated_test_database(self, anon: httpx.Client, dialect: str) -> None:
        r = anon.get("/readyz")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "ready" and body["revision"] == head()
        assert body["database"] == dialect

    def test_an_empty_database_needs_patron_migrate(self, serve: Any, tmp_path: Path) -> None:
        path = tmp_path / "empty.db"
        sqlite3.connect(path).close()
        with serve(f"sqlite:///{path}") as url:
            body = assert_not_ready(httpx.get(f"{url}/readyz"))
        assert "never migrated" in body["detail"] and "run `patron migrate`" in body["detail"]
        assert body["head"] == head() and body["revision"] is None

    def test_a_database_at_an_older_revision_says_which(self, serve: Any, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path}/old.db"
        upgrade(url, "0003")
        with serve(url) as base:
            body = assert_not_ready(httpx.get(f"{base}/readyz"))
        assert body["revision"] == "0003" and body["head"] == head() != "0003"
        assert f"at revision 0003; this version of Patron needs {head()}" in body["detail"]
        assert "run `patron migrate`" in body["detail"]

    def test_an_unreachable_database(self, serve: Any) -> None:
        with serve("postgresql://nobody:hunter2@127.0.0.1:1/none") as url:
            body = assert_not_ready(httpx.get(f"{url}/readyz", timeout=30))
        assert "cannot be reached" in body["detail"]
        assert "hunter2" not in str(body) and "nobody" not in str(body)


@pytest.fixture
def silent_server() -> Iterator[tuple[int, list[socket.socket]]]:
    """A TCP port that accepts connections and never answers: a database that hangs. Yields
    the port and the connections it accepted; closing them at the end frees the driver."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1], accepted
    stop.set()
    thread.join(timeout=5)
    for conn in accepted:
        conn.close()
    listener.close()


def test_a_database_that_hangs_gets_a_503_in_time_and_one_probe_at_a_time(
    serve: Any, silent_server: tuple[int, list[socket.socket]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, accepted = silent_server
    monkeypatch.setattr(ops_api, "READY_TIMEOUT", 0.5)
    with serve(f"postgresql://postgres@127.0.0.1:{port}/none") as url:
        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: httpx.get(f"{url}/readyz", timeout=30), range(4)))
        took = time.monotonic() - started
        again = httpx.get(f"{url}/readyz", timeout=30)
        assert httpx.get(f"{url}/healthz").status_code == 200
    for r in [*answers, again]:
        assert "did not answer within 0.5 s" in assert_not_ready(r)["detail"]
    assert took < 5  # not the driver's 10 s connect timeout
    # Five probes while the first check still hangs: one connection to the database.
    assert len(accepted) == 1
