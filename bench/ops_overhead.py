"""What the access log and the request metrics cost per request, measured in-process.

First the middleware alone, around an ASGI app that answers at once. Then three copies of
Patron's app, sharing one database and called directly as ASGI applications (no socket, no
HTTP parsing), so that what differs between them is the middleware:

- `bare`: without `patron.ops.observe.Observe`;
- `metrics`: with it, the access log off (`PATRON_ACCESS_LOG=false`);
- `full`: with it and the access log on, written to /dev/null.

Each round sends N requests to every copy in turn. The figures are the median round's time
per request, and the best round's, nearer the cost on a quiet machine. `GET /healthz`
touches no database; `POST /v1/events` puts the middleware next to the hot path's own cost.

Example:
    python bench/ops_overhead.py                      # a SQLite file in a temporary directory
    python bench/ops_overhead.py --database-url postgresql://postgres@127.0.0.1:5432/bench_ops
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import FastAPI

from patron.app import create_app, tune_garbage_collector
from patron.auth.service import auth
from patron.config import Settings
from patron.db.migrate import upgrade
from patron.db.session import Database
from patron.ops.metrics import Metrics
from patron.ops.observe import JsonLines, Observe
from patron.programs.schemas import ProgramDocument
from patron.programs.service import programs

Headers = list[tuple[bytes, bytes]]
Request = Callable[[], tuple[str, str, Headers, bytes]]


async def noop(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def call(app: Any, method: str, path: str, headers: Headers, body: bytes) -> int:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    status = 0

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def shop(db: Database) -> str:
    now = datetime.now(UTC)
    with db.unit_of_work() as session:
        tenant = auth.create_tenant(session, name=f"bench-{uuid.uuid4().hex[:8]}", now=now)
        _, key = auth.create_key(
            session, tenant_id=tenant.tenant_id, name="bench", now=now, scopes=None
        )
        programs.publish(
            session,
            tenant_id=tenant.tenant_id,
            document=ProgramDocument(currency="USD"),
            now=now,
        )
    return key


def apps(db: Database) -> dict[str, FastAPI]:
    def make(access_log: bool) -> FastAPI:
        settings = Settings(database_url=db.url, jobs_interval=0, access_log=access_log)
        return create_app(settings, database=db, run_jobs=False)

    bare = make(False)
    bare.user_middleware = [m for m in bare.user_middleware if m.cls is not Observe]
    return {"bare": bare, "metrics": make(False), "full": make(True)}


async def measure(variants: dict[str, Any], request: Request, n: int) -> dict[str, float]:
    """Seconds per request for each variant, over one round of n requests each."""
    out = {}
    for name, app in variants.items():
        started = time.perf_counter()
        for _ in range(n):
            method, path, headers, body = request()
            status = await call(app, method, path, headers, body)
            assert status in (200, 201), (name, path, status)
        out[name] = (time.perf_counter() - started) / n
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a migrated or empty database (default: SQLite)")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--healthz", type=int, default=2000, help="requests per round (0: skip)")
    parser.add_argument("--events", type=int, default=200, help="requests per round (0: skip)")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/ops-bench.db"
    upgrade(url)
    db = Database(url)
    key = shop(db)
    variants = apps(db)
    access = logging.getLogger("patron.access")
    access.handlers.clear()  # create_app gave it standard output
    sink = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 (for the whole run)
    sink.setFormatter(JsonLines())
    access.addHandler(sink)
    tune_garbage_collector()

    def healthz() -> tuple[str, str, Headers, bytes]:
        return "GET", "/healthz", [], b""

    auth_headers = [(b"authorization", f"Bearer {key}".encode())]
    auth_headers.append((b"content-type", b"application/json"))
    seq = iter(range(10**9))

    def event() -> tuple[str, str, Headers, bytes]:
        i = next(seq)
        body = {
            "id": f"bench-{uuid.uuid4().hex}",
            "type": "order.placed",
            "occurred_at": datetime.now(UTC).isoformat(),
            "customer": {"external_id": f"c{i % 500}"},
            "data": {"order_id": f"o{uuid.uuid4().hex}", "currency": "USD", "total": "12.50"},
        }
        return "POST", "/v1/events", auth_headers, orjson.dumps(body)

    alone = {
        "bare": noop,
        "metrics": Observe(noop, metrics=Metrics(), log=False),
        "full": Observe(noop, metrics=Metrics(), log=True),
    }
    runs: list[tuple[str, dict[str, Any], Request, int]] = [
        ("the middleware alone, around an app that answers at once", alone, healthz, 20_000),
        (f"GET /healthz ({db.dialect})", variants, healthz, args.healthz),
        (f"POST /v1/events ({db.dialect})", variants, event, args.events),
    ]
    for label, apps_, request, n in runs:
        if n == 0:
            continue
        await measure(apps_, request, max(n // 10, 1))  # warm up
        rounds = [await measure(apps_, request, n) for _ in range(args.rounds)]
        print(f"{label}: {args.rounds} rounds of {n}")
        for kind, pick in (("median", statistics.median), ("best", min)):
            by = {name: pick(r[name] for r in rounds) for name in apps_}
            bare = by["bare"]
            for name, seconds in by.items():
                extra = ""
                if name != "bare":
                    more = (seconds - bare) * 1e6
                    extra = f"  {more:+7.1f} µs ({(seconds / bare - 1) * 100:+.1f}%)"
                print(f"  {kind:6} {name:8} {seconds * 1e6:9.1f} µs/request{extra}")
    db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
