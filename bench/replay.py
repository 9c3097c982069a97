"""Replay a real-sized shop history through `patron serve` and check every member's points.

It builds everything itself: a fresh database (PostgreSQL: dropped and created; SQLite: the
file deleted), the schema, a tenant and a key through the `patron` CLI, a server subprocess
with the scheduled jobs off, and the program `bench/history.py` models. It then sends the
history (by default about 75,000 events: 70,000 orders from 23,500 customers over 18 months,
with refunds and cancellations) in batches from one client on one keep-alive connection,
timing only the sending; compares every member's balances with the reference model in
`bench/history.py`, which imports nothing from Patron; stops the server and runs
`patron verify-ledger`. Exit status 0 only if every step, figure and check is right.

Examples:
    python bench/replay.py --database-url sqlite:///./replay.db --orders 5000 --customers 1500
    python bench/replay.py --database-url postgresql://postgres@127.0.0.1:5432/patron_replay \
        --workers 2 --json
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlsplit, urlunsplit

import orjson
import psutil

from history import (
    DEFAULT_CUSTOMERS,
    DEFAULT_END,
    DEFAULT_ORDERS,
    PENDING_DAYS,
    PROGRAM,
    Expected,
    History,
    generate,
)

TENANT = "replay"
MAX_BATCH = 1000
OK_OUTCOMES = frozenset(("applied", "not_member", "member_suspended", "no_effect"))
MEMBERS_PAGE = 200
HEALTH_TIMEOUT = 60.0  # seconds for the server to answer /healthz
STOP_TIMEOUT = 30.0  # seconds for the server to exit after SIGTERM
IDLE_RECONNECT = 3.0  # reconnect before a server-side keep-alive timeout (uvicorn: 5 s) hits
SHOW = 5  # mismatches printed in full
MIB = 1024 * 1024


class ReplayError(Exception):
    """A step failed: the run cannot go on, or its figures would mean nothing."""


# --------------------------------------------------------------------------------------------
# Database and CLI
# --------------------------------------------------------------------------------------------


def database_kind(url: str) -> str:
    scheme = url.split("://", 1)[0].split("+", 1)[0]
    if scheme in ("postgresql", "postgres"):
        return "postgresql"
    if scheme == "sqlite":
        return "sqlite"
    raise SystemExit(f"--database-url must be postgresql://... or sqlite:///..., got {url!r}")


def _sqlite_path(url: str) -> Path:
    rest = url.split("://", 1)[1].split("?", 1)[0]
    path = rest[1:] if rest.startswith("/") else rest
    if not path or path == ":memory:":
        raise SystemExit("--database-url: a SQLite replay needs a file (the server is a process)")
    return Path(path)


def _pg_database(url: str) -> str:
    name = urlsplit(url).path.lstrip("/")
    if not name:
        raise SystemExit("--database-url: name the PostgreSQL database to create, e.g. .../replay")
    return name


def _pg_maintenance_urls(url: str) -> list[str]:
    """The same server's `postgres` database (else `test`), as a plain psycopg URL."""
    parts = urlsplit(url)
    return [
        urlunsplit(("postgresql", parts.netloc, f"/{db}", parts.query, ""))
        for db in ("postgres", "test")
    ]


def _pg_admin(url: str, statements: list[str]) -> None:
    """Runs statements on a maintenance database: CREATE/DROP DATABASE need autocommit."""
    import psycopg
    from psycopg import sql

    name = sql.Identifier(_pg_database(url))
    errors = []
    for admin_url in _pg_maintenance_urls(url):
        try:
            connection = psycopg.connect(admin_url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            errors.append(f"{admin_url}: {str(exc).strip()}")
            continue
        with connection:
            for statement in statements:
                connection.execute(sql.SQL(statement).format(name=name))
        return
    raise ReplayError("cannot reach a maintenance database: " + "; ".join(errors))


def fresh_database(url: str) -> None:
    """An empty database of the given name, whatever a previous run left."""
    if database_kind(url) == "postgresql":
        _pg_admin(url, ["DROP DATABASE IF EXISTS {name} WITH (FORCE)", "CREATE DATABASE {name}"])
    else:
        drop_database(url)


def drop_database(url: str) -> None:
    if database_kind(url) == "postgresql":
        _pg_admin(url, ["DROP DATABASE IF EXISTS {name} WITH (FORCE)"])
        return
    path = _sqlite_path(url)
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def patron_executable() -> str:
    """The `patron` of the interpreter running this script, so both use the same install."""
    sibling = Path(sys.executable).with_name("patron")
    found = str(sibling) if sibling.exists() else shutil.which("patron")
    if not found:
        raise SystemExit("patron not found next to this Python nor on PATH (pip install -e .)")
    return found


def cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Runs `patron ARGS --database-url URL`; a failure stops the replay with its output."""
    command = [patron_executable(), *args, "--database-url", url]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
    if done.returncode != 0:
        raise ReplayError(
            f"`patron {' '.join(args)}` exited {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    return done


# --------------------------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RssWatcher(threading.Thread):
    """Peak resident memory of the server and its worker processes, sampled every 0.2 s."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self._stop_event = threading.Event()

    def sample(self) -> None:
        try:
            root = psutil.Process(self.pid)
            total = 0
            for process in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):  # a worker exiting meanwhile
                    total += process.memory_info().rss
        except psutil.Error:
            return
        self.peak = max(self.peak, total)

    def run(self) -> None:
        while not self._stop_event.wait(0.2):
            self.sample()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


class Server:
    """`patron serve` as a subprocess in its own process group, output kept in a file."""

    def __init__(self, url: str, port: int, workers: int) -> None:
        self.command = [
            patron_executable(), "serve", "--database-url", url,
            "--port", str(port), "--workers", str(workers),
        ]  # fmt: skip
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        self.watcher: RssWatcher | None = None
        self.log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed by replay())
        self.exit_code: int | None = None

    def start(self) -> None:
        env = {**os.environ, "PATRON_JOBS_INTERVAL": "0"}
        self.process = subprocess.Popen(
            self.command, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.watcher = RssWatcher(self.process.pid)
        self.watcher.start()
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ReplayError(f"patron serve exited {self.process.returncode} at start")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    connection.close()
                    return
                connection.close()
            except OSError:
                pass
            time.sleep(0.2)
        raise ReplayError(f"patron serve did not answer /healthz within {HEALTH_TIMEOUT:.0f} s")

    @property
    def peak_rss(self) -> int:
        return self.watcher.peak if self.watcher else 0

    def stop(self) -> None:
        """SIGTERM, then SIGKILL to the server's own process group if it lingers."""
        if self.process is None:
            return
        if self.watcher is not None:
            self.watcher.stop()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(STOP_TIMEOUT)
        with contextlib.suppress(ProcessLookupError):  # workers left behind, if any
            os.killpg(self.process.pid, signal.SIGKILL)
        self.exit_code = self.process.wait()
        self.process = None

    def output_tail(self, lines: int = 40) -> str:
        self.log.seek(0)
        return "\n".join(self.log.read().decode(errors="replace").splitlines()[-lines:])


# --------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------


class Client:
    """One keep-alive HTTP/1.1 connection (http.client), reopened only after idling."""

    def __init__(self, port: int, key: str, timeout: float) -> None:
        self.port, self.timeout = port, timeout
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.connection: http.client.HTTPConnection | None = None
        self.last_used = 0.0

    def open(self) -> None:
        self.close()
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        self.connection.connect()

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        if self.connection is None or time.monotonic() - self.last_used > IDLE_RECONNECT:
            self.open()
        assert self.connection is not None
        self.connection.request(method, path, body=body, headers=self.headers)
        response = self.connection.getresponse()
        data = response.read()
        self.last_used = time.monotonic()
        if response.will_close:
            self.close()
        return response.status, data

    def json(self, method: str, path: str, body: Any = None) -> Any:
        """A JSON call that must succeed (2xx)."""
        status, data = self.request(method, path, None if body is None else orjson.dumps(body))
        if not 200 <= status < 300:
            raise ReplayError(f"{method} {path}: HTTP {status}: {data[:1000]!r}")
        return orjson.loads(data)


# --------------------------------------------------------------------------------------------
# The replay and its checks
# --------------------------------------------------------------------------------------------


@dataclass
class Sent:
    """What sending the history took and got back."""

    seconds: float
    latencies: list[float]
    responses: list[bytes]
    failure: str | None = None


def send_batches(client: Client, bodies: list[bytes]) -> Sent:
    """Sends pre-serialised batches back to back; the clock covers sending and reading only.

    Stops at the first non-200 response: later batches refer to its orders.
    """
    client.open()
    latencies, responses = [], []
    failure = None
    started = time.perf_counter()
    for number, body in enumerate(bodies):
        t0 = time.perf_counter()
        status, data = client.request("POST", "/v1/events/batch", body)
        latencies.append(time.perf_counter() - t0)
        responses.append(data)
        if status != 200:
            failure = f"batch {number}: HTTP {status}: {data[:1000]!r}"
            break
    return Sent(time.perf_counter() - started, latencies, responses, failure)


@dataclass
class ResultCheck:
    outcomes: Counter[str] = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)  # not an OK status, duplicate, missing
    unexpected: list[str] = field(default_factory=list)  # OK status, not the model's
    bad_count: int = 0
    unexpected_count: int = 0


def check_results(history: History, sent: Sent, batch_size: int) -> ResultCheck:
    """Every event got a success status, not a duplicate, and the one the model predicts."""
    check = ResultCheck()
    for number, data in enumerate(sent.responses):
        first = number * batch_size
        expected_len = min(batch_size, len(history.events) - first)
        try:
            results = orjson.loads(data)["results"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            results = []
        if len(results) != expected_len:
            check.bad_count += expected_len
            check.bad.append(f"batch {number}: {len(results)} results for {expected_len} events")
            continue
        for offset, result in enumerate(results):
            index = first + offset
            status = result.get("status")
            check.outcomes[str(status)] += 1
            event = history.events[index]
            where = f"{event['id']} ({event['type']} {event['data']['order_id']})"
            if status not in OK_OUTCOMES or result.get("duplicate"):
                check.bad_count += 1
                if len(check.bad) < SHOW:
                    check.bad.append(f"{where}: {orjson.dumps(result)[:500].decode()}")
            elif status != history.outcomes[index]:
                check.unexpected_count += 1
                if len(check.unexpected) < SHOW:
                    check.unexpected.append(
                        f"{where}: {status}, the model says {history.outcomes[index]}"
                        f" ({result.get('message')})"
                    )
    return check


def _actual(member: dict[str, Any]) -> Expected:
    points, stats = member["points"], member["stats"]
    return Expected(
        available=points["available"],
        pending=points["pending"],
        lifetime_earned=points["lifetime_earned"],
        debt=points["debt"],
        orders_count=stats["orders_count"],
        total_spent=stats["total_spent"],
    )


def _difference(expected: Expected, actual: Expected) -> str:
    return ", ".join(
        f"{name} {getattr(actual, name)} (expected {getattr(expected, name)})"
        for name in expected.__dataclass_fields__
        if getattr(actual, name) != getattr(expected, name)
    )


@dataclass
class MemberCheck:
    checked: int = 0
    mismatches: int = 0
    first: list[str] = field(default_factory=list)
    pages: int = 0


def check_members(client: Client, expected: dict[str, Expected]) -> MemberCheck:
    """Pages through every member and compares each with the model; both sets must match."""
    check = MemberCheck()
    seen: set[str] = set()
    cursor: str | None = None

    def mismatch(text: str) -> None:
        check.mismatches += 1
        if len(check.first) < SHOW:
            check.first.append(text)

    while True:
        path = f"/v1/members?limit={MEMBERS_PAGE}" + (f"&cursor={quote(cursor)}" if cursor else "")
        page = client.json("GET", path)
        check.pages += 1
        for member in page["items"]:
            external_id = member["external_id"]
            check.checked += 1
            if external_id in seen:
                mismatch(f"{external_id}: listed twice")
                continue
            seen.add(external_id)
            want = expected.get(external_id)
            if want is None:
                mismatch(f"{external_id}: a member the history never created")
                continue
            got = _actual(member)
            if got != want:
                mismatch(f"{external_id}: {_difference(want, got)}")
        cursor = page["next_cursor"]
        if not cursor:
            break
    for external_id in sorted(expected.keys() - seen):
        mismatch(f"{external_id}: ordered, but not a member")
    return check


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Replay a realistic shop history through patron serve and check the points.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--database-url", required=True, help="database to (re)create and use")
    parser.add_argument("--orders", type=int, default=DEFAULT_ORDERS, help="orders placed")
    parser.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS, help="customers")
    parser.add_argument("--seed", type=int, default=0, help="seed of the history")
    parser.add_argument(
        "--end", type=date.fromisoformat, default=DEFAULT_END, help="last day of the history"
    )
    parser.add_argument("--batch-size", type=int, default=MAX_BATCH, help="events per request")
    parser.add_argument("--workers", type=int, default=1, help="patron serve worker processes")
    parser.add_argument("--port", type=int, default=0, help="server port (0: a free one)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per request")
    parser.add_argument("--keep", action="store_true", help="leave the database afterwards")
    parser.add_argument("--json", action="store_true", help="end with a one-line JSON summary")
    args = parser.parse_args(argv)
    if not 1 <= args.batch_size <= MAX_BATCH:
        parser.error(f"--batch-size must be 1..{MAX_BATCH}")
    if args.customers < 1 or args.orders < args.customers:
        parser.error("--orders must be at least --customers (every customer orders), both >= 1")
    if args.workers < 1:
        parser.error("--workers must be >= 1")
    old_enough = datetime(args.end.year, args.end.month, args.end.day, tzinfo=UTC) + timedelta(
        days=1 + PENDING_DAYS
    )
    if datetime.now(UTC) < old_enough:
        latest = datetime.now(UTC).date() - timedelta(days=PENDING_DAYS + 1)
        parser.error(
            f"--end {args.end} is too recent: the model expects every order past its "
            f"{PENDING_DAYS}-day pending window (use --end {latest} or earlier)"
        )
    database_kind(args.database_url)
    return args


@dataclass
class Run:
    """Everything the report prints, filled in as the steps go."""

    database: str
    workers: int
    batch_size: int
    history_stats: dict[str, int] = field(default_factory=dict)
    generate_seconds: float = 0.0
    sent: Sent | None = None
    results: ResultCheck | None = None
    members: MemberCheck | None = None
    check_seconds: float = 0.0
    peak_rss: int = 0
    verify_ledger: str = "not run"
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.errors
            and self.sent is not None
            and self.sent.failure is None
            and self.results is not None
            and self.results.bad_count == 0
            and self.results.unexpected_count == 0
            and self.members is not None
            and self.members.mismatches == 0
            and self.verify_ledger == "clean"
        )


def replay(args: argparse.Namespace, run: Run) -> None:
    url = args.database_url
    port = args.port or free_port()
    fresh_database(url)
    cli(url, "migrate")
    cli(url, "tenants", "create", TENANT)
    key = cli(url, "keys", "create", "--tenant", TENANT).stdout.strip().splitlines()[-1].strip()
    server = Server(url, port, args.workers)
    try:
        server.start()
        client = Client(port, key, args.timeout)
        client.json("PUT", "/v1/program", PROGRAM)

        t0 = time.perf_counter()
        history = generate(
            orders=args.orders, customers=args.customers, seed=args.seed, end=args.end
        )
        events = history.events
        bodies = [
            orjson.dumps({"events": events[i : i + args.batch_size]})
            for i in range(0, len(events), args.batch_size)
        ]
        run.generate_seconds = time.perf_counter() - t0
        run.history_stats = history.stats
        print(
            f"replay: {len(events):,} events in {len(bodies)} batches to {run.database} "
            f"(generated in {run.generate_seconds:.1f} s)",
            file=sys.stderr,
        )

        run.sent = send_batches(client, bodies)
        if run.sent.failure:
            run.errors.append(run.sent.failure)
        run.results = check_results(history, run.sent, args.batch_size)

        t0 = time.perf_counter()
        run.members = check_members(client, history.expected)
        run.check_seconds = time.perf_counter() - t0
        client.close()
    except BaseException:
        server.stop()
        print(f"--- patron serve output (last lines)\n{server.output_tail()}", file=sys.stderr)
        raise
    finally:
        server.stop()
        server.log.close()
        run.peak_rss = server.peak_rss
    verified = subprocess.run(
        [patron_executable(), "verify-ledger", "--database-url", url],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if verified.returncode == 0:
        run.verify_ledger = "clean"
    else:
        run.verify_ledger = f"FAILED (exit {verified.returncode})"
        run.errors.append(
            "verify-ledger:\n" + "\n".join((verified.stdout + verified.stderr).splitlines()[:20])
        )


def report(run: Run) -> dict[str, Any]:
    """Prints the human report and returns the JSON summary."""
    stats = run.history_stats
    sent, results, members = run.sent, run.results, run.members
    events = stats.get("events", 0)
    summary: dict[str, Any] = {
        "database": run.database,
        "workers": run.workers,
        "batch_size": run.batch_size,
        "history": stats,
        "generate_seconds": round(run.generate_seconds, 2),
        "ok": run.ok,
    }
    print(f"--- replay on {run.database}, {run.workers} worker(s)")
    if stats:
        s = {k: f"{v:,}" for k, v in stats.items()}
        print(
            f"  history        {s['orders']} orders from {s['customers']} customers, "
            f"{s['repeat_customers']} ordering again (up to {s['max_orders_per_customer']} each); "
            f"{s['same_day_orders']} same-day repeat orders, {s['zero_value_orders']} of zero value"
        )
        print(
            f"                 {s['refunds']} refunds on {s['refunded_orders']} orders "
            f"({s['orders_with_several_refunds']} refunded several times, "
            f"{s['fully_refunded_orders']} in full), {s['cancellations']} cancellations"
        )
    if sent is not None:
        sent_events = min(events, len(sent.responses) * run.batch_size)
        rate = sent_events / sent.seconds if sent.seconds else 0.0
        p50, p99 = percentile(sent.latencies, 50), percentile(sent.latencies, 99)
        peak = max(sent.latencies, default=0.0)
        print(
            f"  sent           {sent_events:,} events in {len(sent.responses)} batches of "
            f"<= {run.batch_size:,}: {sent.seconds:.2f} s, {rate:,.0f} events/s"
        )
        print(f"  batch latency  p50 {p50 * 1000:,.0f} ms   p99 {p99 * 1000:,.0f} ms   "
              f"max {peak * 1000:,.0f} ms")  # fmt: skip
        summary.update(
            events=sent_events,
            batches=len(sent.responses),
            seconds=round(sent.seconds, 3),
            events_per_s=round(rate, 1),
            batch_latency_ms={
                "p50": round(p50 * 1000, 1),
                "p99": round(p99 * 1000, 1),
                "max": round(peak * 1000, 1),
            },
        )
    print(f"  server RSS     peak {run.peak_rss / MIB:,.1f} MiB (server and workers, whole run)")
    summary["server_peak_rss_mib"] = round(run.peak_rss / MIB, 1)
    if results is not None:
        outcomes = ", ".join(f"{k}: {v:,}" for k, v in results.outcomes.most_common())
        print(f"  outcomes       {outcomes or 'none'}")
        print(
            f"  results        {results.bad_count:,} failed, "
            f"{results.unexpected_count:,} not the model's outcome"
        )
        for line in results.bad + results.unexpected:
            print(f"      {line}")
        summary.update(
            outcomes=dict(results.outcomes),
            failed_results=results.bad_count,
            unexpected_outcomes=results.unexpected_count,
        )
    if members is not None:
        print(
            f"  members        {members.checked:,} checked against the model "
            f"({members.pages} pages, {run.check_seconds:.1f} s): {members.mismatches:,} mismatches"
        )
        for line in members.first:
            print(f"      {line}")
        summary.update(
            members_checked=members.checked,
            mismatches=members.mismatches,
            first_mismatches=members.first,
        )
    print(f"  verify-ledger  {run.verify_ledger}")
    summary["verify_ledger"] = run.verify_ledger
    for error in run.errors:
        print(f"  ERROR {error}")
    summary["errors"] = run.errors
    print(f"  result         {'OK' if run.ok else 'FAILED'}")
    return summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = Run(database_kind(args.database_url), args.workers, args.batch_size)
    try:
        replay(args, run)
    except ReplayError as exc:
        run.errors.append(str(exc))
    summary = report(run)
    if run.ok and not args.keep:
        drop_database(args.database_url)
    elif not run.ok:
        print(f"replay: database left for inspection: {args.database_url}", file=sys.stderr)
    if args.json:
        sys.stdout.flush()
        print(orjson.dumps(summary).decode())
    return 0 if run.ok else 1


if __name__ == "__main__":
    sys.exit(main())
