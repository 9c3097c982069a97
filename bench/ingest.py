"""Ingest benchmark: drive an already running `patron serve` over HTTP.

Sends `order.placed` events to `POST /v1/events` (one event per request) and/or
`POST /v1/events/batch` (up to 1000 per request) from C concurrent clients, each on its own
keep-alive HTTP/1.1 connection, and prints throughput, latency percentiles, errors by status,
the CPU the client itself used, and, with --pid, the server's RSS across the run.

It starts no server. See bench/README.md for how to start one and what each figure means.

Example:
    python bench/ingest.py --key "$PATRON_API_KEY" --mode both \
        --duration 30 --label postgresql --pid "$(pgrep -of 'patron serve')"
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import io
import os
import random
import resource
import ssl
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
import psutil

MAX_BATCH = 1000
FAIL_LIMIT = 0.01  # exit non-zero above 1% failed requests (or failed batch items)
ERROR_BODY_MAX = 1000  # characters of the first error body to print
SAMPLE_EVERY = 0.5  # seconds between RSS samples
MIB = 1024 * 1024
STAGGER = 0.2  # seconds between connections, with --balance
# Patron's event result statuses, all successes (anything else gets a closer look).
OK_OUTCOMES = frozenset(("applied", "not_member", "member_suspended", "no_effect"))


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where the server is and how to authenticate."""

    scheme: str
    host: str
    port: int
    base_path: str  # "" or "/prefix", no trailing slash
    key: str

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"

    def path(self, suffix: str) -> str:
        return f"{self.base_path}{suffix}"


def parse_target(url: str, key: str) -> Target:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SystemExit(f"--url must look like http://host:port, got {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return Target(parts.scheme, parts.hostname, port, parts.path.rstrip("/"), key)


# --------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------


def _json_text(value: str) -> str:
    """`value` as the inside of a JSON string literal, safe to put in a %-format template."""
    return orjson.dumps(value).decode()[1:-1].replace("%", "%%")


# The catalog of --lines (bench/rules_eval.py builds its orders and programs from it too):
# SKU-n for n < CATALOG, one product each (P-n), 25 to a category (cat-0 .. cat-199), two of 300
# tags each. Lines draw n as CATALOG x r^2 for a uniform r: a few products sell most, as in a
# real shop, and most of the catalog is in no given order.
CATALOG = 5000
CATEGORIES = CATALOG // 25
TAGS = 300


def category(n: int) -> int:
    return n // 25


def tags(n: int) -> tuple[int, int]:
    return n % TAGS, (n * 7 + 1) % TAGS


class EventFactory:
    """Builds unique `order.placed` events cheaply: ids are `<run id>-<sequence number>`,
    customers are drawn at random from a pool, totals are random decimal strings.

    Bodies come from a %-format template (about 2 us per event, against 3.5 us for a dict
    through orjson); every constant in it is JSON-escaped by orjson, so the output is valid
    JSON, equal to `orjson.dumps(self.event(...))`."""

    def __init__(
        self,
        run_id: str,
        currency: str,
        customers: int,
        customer_prefix: str,
        seed: int,
        lines: int = 0,
    ) -> None:
        self.lines = lines
        self.run_id = run_id
        self.currency = currency
        self.customers = customers
        self.customer_prefix = customer_prefix
        self.occurred_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        # random.Random's methods are single C calls, so sharing it between threads is safe.
        self._random = random.Random(seed).random
        run, pfx = _json_text(run_id), _json_text(customer_prefix)
        self._template = (
            f'{{"id":"{run}-%d","type":"order.placed","occurred_at":"{self.occurred_at}",'
            f'"customer":{{"external_id":"{pfx}%d","email":"{pfx}%d@example.com"}},'
            f'"data":{{"order_id":"o-{run}-%d","currency":"{_json_text(currency)}",'
            '"total":"%d.%02d"}}'
        )
        # With --lines: the same head, the lines' sum as the total, then the lines.
        self._head = self._template.split('"total"')[0]
        self._tail = '"total":"%d.%02d","lines":[%s]}}'
        self._line = (
            '{"id":"%d","sku":"SKU-%d","product_id":"P-%d","category":"cat-%d",'
            '"tags":["tag-%d","tag-%d"],"quantity":%d,"unit_price":"%d.%02d"}'
        )

    def _draw(self) -> tuple[int, int]:
        """A random customer number and a total in cents (5.00 to 249.99)."""
        return int(self._random() * self.customers), 500 + int(self._random() * 24_500)

    def event(
        self, seq: int, customer: int, cents: int, lines: Sequence[tuple[int, int, int]] = ()
    ) -> dict[str, Any]:
        """The event as a dict (reference for the templates; not used on the hot path).
        `lines` are (SKU number, quantity, unit price in cents); with lines the total is their
        sum and `cents` is not used."""
        ext = f"{self.customer_prefix}{customer}"
        data: dict[str, Any] = {
            "order_id": f"o-{self.run_id}-{seq}",
            "currency": self.currency,
            "total": f"{cents // 100}.{cents % 100:02d}",
        }
        if lines:
            total = sum(qty * price for _, qty, price in lines)
            data["total"] = f"{total // 100}.{total % 100:02d}"
            data["lines"] = [
                {
                    "id": str(i),
                    "sku": f"SKU-{n}",
                    "product_id": f"P-{n}",
                    "category": f"cat-{category(n)}",
                    "tags": [f"tag-{t}" for t in tags(n)],
                    "quantity": qty,
                    "unit_price": f"{price // 100}.{price % 100:02d}",
                }
                for i, (n, qty, price) in enumerate(lines, start=1)
            ]
        return {
            "id": f"{self.run_id}-{seq}",
            "type": "order.placed",
            "occurred_at": self.occurred_at,
            "customer": {"external_id": ext, "email": f"{ext}@example.com"},
            "data": data,
        }

    def _event_text(self, seq: int) -> tuple[str, int]:
        c, cents = self._draw()
        if self.lines:
            return self._with_lines(seq, c), c
        return self._template % (seq, c, c, seq, cents // 100, cents % 100), c

    def draw_lines(self) -> list[tuple[int, int, int]]:
        """`lines` lines from the catalog: (SKU number, quantity 1 to 3, unit price in cents,
        3.00 to 79.99)."""
        rnd = self._random
        out = []
        for _ in range(self.lines):
            r = rnd()
            out.append((int(CATALOG * r * r), 1 + int(rnd() * 3), 300 + int(rnd() * 7700)))
        return out

    def _with_lines(self, seq: int, c: int) -> str:
        """The text of `draw_lines`' event (inlined: 20 lines cost about 50 us)."""
        rnd, line, parts, total = self._random, self._line, [], 0
        for i in range(1, self.lines + 1):
            r = rnd()
            n, qty, cents = int(CATALOG * r * r), 1 + int(rnd() * 3), 300 + int(rnd() * 7700)
            total += qty * cents
            parts.append(
                line
                % (i, n, n, n // 25, n % TAGS, (n * 7 + 1) % TAGS, qty, cents // 100, cents % 100)
            )
        return self._head % (seq, c, c, seq) + self._tail % (
            total // 100,
            total % 100,
            ",".join(parts),
        )

    def single_body(self, seq: int) -> tuple[bytes, str]:
        text, c = self._event_text(seq)
        return text.encode(), f"{self.customer_prefix}{c}"

    def batch_body(self, seq: int, count: int) -> tuple[bytes, str]:
        parts = [self._event_text(s) for s in range(seq, seq + count)]
        body = '{"events":[' + ",".join([p[0] for p in parts]) + "]}"
        return body.encode(), f"{self.customer_prefix}{parts[-1][1]}"


class Dispenser:
    """Hands out ranges of event sequence numbers to the clients, until the deadline passes
    or the event budget is spent. Shared by all clients; thread-safe."""

    def __init__(
        self, counter: list[int], chunk: int, duration: float | None, events: int | None
    ) -> None:
        self._counter = counter  # one-element list shared across phases: ids never repeat
        self._chunk = chunk
        self._duration = duration
        self._remaining = events
        self._lock = threading.Lock()
        self.on_start: Callable[[], None] | None = None  # called as the clock starts
        self.t0 = 0.0
        self._deadline = float("inf")

    def start(self) -> None:
        if self.on_start is not None:
            self.on_start()
        self.t0 = time.perf_counter()
        if self._duration is not None:
            self._deadline = self.t0 + self._duration

    def take(self) -> tuple[int, int] | None:
        with self._lock:
            if time.perf_counter() >= self._deadline:
                return None
            count = self._chunk
            if self._remaining is not None:
                if self._remaining <= 0:
                    return None
                count = min(count, self._remaining)
                self._remaining -= count
            seq = self._counter[0]
            self._counter[0] += count
            return seq, count


# --------------------------------------------------------------------------------------------
# Per-client statistics
# --------------------------------------------------------------------------------------------


@dataclass
class Stats:
    """What one client saw in one phase; merged across clients at the end."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)  # "status" of each event result
    requests: int = 0
    failed: int = 0
    events_sent: int = 0
    events_ok: int = 0
    item_errors: int = 0
    first_error: str | None = None
    first_item_error: str | None = None
    last_customer: str | None = None  # of the last accepted request, for --verify-member
    finished_at: float = 0.0

    def merge(self, other: Stats) -> None:
        self.latencies_ms.extend(other.latencies_ms)
        self.statuses.update(other.statuses)
        self.outcomes.update(other.outcomes)
        self.requests += other.requests
        self.failed += other.failed
        self.events_sent += other.events_sent
        self.events_ok += other.events_ok
        self.item_errors += other.item_errors
        self.first_error = self.first_error or other.first_error
        self.first_item_error = self.first_item_error or other.first_item_error
        self.last_customer = other.last_customer or self.last_customer
        self.finished_at = max(self.finished_at, other.finished_at)


def _item_failed(item: Any) -> bool:
    """Whether one event result (a batch's entry, or a single event's response) reports a
    failure: it carries an error, or an error-like status. Patron's statuses (applied,
    not_member, member_suspended, no_effect) are all successes."""
    if not isinstance(item, dict):
        return True
    if item.get("error") or item.get("errors"):
        return True
    status = item.get("status")
    if isinstance(status, int):
        return status >= 400
    return isinstance(status, str) and status.lower() in ("error", "failed", "rejected")


def record(
    stats: Stats,
    status: int,
    body: bytes,
    latency_s: float,
    count: int,
    batch: bool,
    customer: str,
) -> None:
    """Account one finished request (status 0 and body = message for a transport error)."""
    stats.requests += 1
    stats.events_sent += count
    stats.latencies_ms.append(latency_s * 1000.0)
    if not 200 <= status < 300:
        stats.failed += 1
        stats.statuses[str(status) if status else body.decode(errors="replace")] += 1
        if stats.first_error is None:
            label = f"HTTP {status}" if status else "transport error"
            stats.first_error = f"{label}: {body[:ERROR_BODY_MAX].decode(errors='replace')}"
        return
    stats.statuses[str(status)] += 1
    stats.last_customer = customer
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    results: Any = None
    if isinstance(parsed, dict):
        results = parsed.get("results") if batch else [parsed]
    if not isinstance(results, list):
        bad = count
        first_bad: Any = f"unexpected body: {body[:ERROR_BODY_MAX].decode(errors='replace')}"
    else:
        bad = max(0, count - len(results))
        first_bad = f"{len(results)} results for {count} events"
        try:
            outcomes = [r.get("status") for r in results]
            duplicates = [r.get("duplicate") for r in results].count(True)
        except AttributeError:  # an entry that is not a JSON object
            outcomes, duplicates = [], 0
        outcomes = [o if isinstance(o, str) else "?" for o in outcomes]
        stats.outcomes.update(outcomes)
        if duplicates:
            stats.outcomes["duplicate"] += duplicates
        # The exact, slower check only when something looks wrong.
        if b'"error' in body or not OK_OUTCOMES.issuperset(outcomes) or not outcomes:
            for item in results:
                if _item_failed(item):
                    if not bad or isinstance(first_bad, str):
                        first_bad = item
                    bad += 1
    stats.events_ok += count - bad
    stats.item_errors += bad
    if bad and stats.first_item_error is None:
        text = first_bad if isinstance(first_bad, str) else orjson.dumps(first_bad).decode()
        stats.first_item_error = text[:ERROR_BODY_MAX]


# --------------------------------------------------------------------------------------------
# Client "raw": asyncio streams speaking minimal HTTP/1.1 (the default, lightest)
# --------------------------------------------------------------------------------------------


class RawConnection:
    """One keep-alive HTTP/1.1 connection on asyncio streams. Knows just enough HTTP for a
    JSON API: Content-Length or chunked bodies, `Connection: close`, reconnects once when
    a reused connection turns out to be closed."""

    def __init__(self, target: Target, timeout: float) -> None:
        self.target = target
        self.timeout = timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.busy_since = 0.0  # perf_counter when the request in flight was sent; 0 = idle
        self.timed_out = False  # set by the watchdog, which then aborts the connection
        self._head = (
            f"Host: {target.host_header}\r\n"
            f"Authorization: Bearer {target.key}\r\n"
            "Content-Type: application/json\r\nAccept: application/json\r\n"
        ).encode()

    async def connect(self) -> None:
        ctx = ssl.create_default_context() if self.target.scheme == "https" else None
        self.reader, self.writer = await asyncio.wait_for(
            asyncio.open_connection(self.target.host, self.target.port, ssl=ctx, limit=1 << 20),
            self.timeout,
        )

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        fresh = self.writer is None
        if fresh:
            await self.connect()
        try:
            return await self._attempt(method, path, body)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            if fresh or (isinstance(exc, asyncio.IncompleteReadError) and exc.partial):
                raise
        # A kept-alive connection the server had closed: reconnect and send once more.
        await self.connect()
        return await self._attempt(method, path, body)

    async def _attempt(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        # No asyncio.timeout() here: it costs ~9 us a request; a watchdog task checks
        # busy_since instead (see _watchdog).
        self.busy_since = time.perf_counter()
        try:
            return await self._exchange(method, path, body)
        except BaseException:
            self.close()
            if self.timed_out:
                self.timed_out = False
                raise TimeoutError(f"no response within {self.timeout:g} s") from None
            raise
        finally:
            self.busy_since = 0.0

    async def _exchange(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        reader, writer = self.reader, self.writer
        assert reader is not None and writer is not None
        writer.writelines(
            (
                f"{method} {path} HTTP/1.1\r\n".encode(),
                self._head,
                b"Content-Length: %d\r\n\r\n" % len(body),
                body,
            )
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = -1
        chunked = close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            data = b""
        elif chunked:
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                        pass
                    break
                parts.append(await reader.readexactly(size + 2))
            data = b"".join(p[:-2] for p in parts)
        elif length >= 0:
            data = await reader.readexactly(length)
        else:
            data = await reader.read()
            close = True
        if close:
            self.close()
        return status, data


async def _raw_worker(
    target: Target,
    factory: EventFactory,
    dispenser: Dispenser,
    batch: bool,
    ready: asyncio.Event,
    conn: RawConnection,
    keep_open: bool = False,
) -> Stats:
    stats = Stats()
    path = target.path("/v1/events/batch" if batch else "/v1/events")
    await ready.wait()
    perf = time.perf_counter
    while (job := dispenser.take()) is not None:
        seq, count = job
        body, customer = factory.batch_body(seq, count) if batch else factory.single_body(seq)
        t = perf()
        try:
            status, data = await conn.request("POST", path, body)
        except Exception as exc:  # any transport or protocol failure counts as an error
            status, data = 0, f"{type(exc).__name__}".encode()
        record(stats, status, data, perf() - t, count, batch, customer)
    stats.finished_at = perf()
    if not keep_open:
        conn.close()
    return stats


async def _watchdog(conns: list[RawConnection], timeout: float) -> None:
    """Aborts connections whose request has been in flight longer than the timeout."""
    while True:
        await asyncio.sleep(min(1.0, timeout / 4))
        now = time.perf_counter()
        for c in conns:
            if c.busy_since and now - c.busy_since > timeout:
                c.timed_out = True
                c.abort()


@dataclass
class Warmup:
    """The unmeasured start of a phase. With `balance` (and --pid), it runs on the phase's own
    connections, and while one server process did under `balance` times the work of the
    busiest (the kernel handed the connections to the workers unevenly), the client connects
    again, up to `tries` times."""

    seconds: float
    counter: list[int]
    chunk: int
    pids: list[int]
    balance: float = 0.0
    tries: int = 8
    log: list[str] = field(default_factory=list)

    def dispenser(self) -> Dispenser:
        return Dispenser(self.counter, self.chunk, self.seconds, None)

    def split(self, before: dict[int, float], after: dict[int, float]) -> list[float]:
        """CPU seconds each server process used, busiest first (processes that did nothing,
        such as a supervisor, left out)."""
        used = sorted((after[p] - before.get(p, 0.0) for p in after), reverse=True)
        return [u for u in used if u > 0.02 * self.seconds]

    def balanced(self, shares: list[float], workers: int) -> bool:
        if len(shares) < workers:
            return False
        return shares[workers - 1] >= self.balance * shares[0]


async def _drive(
    conns: list[RawConnection],
    target: Target,
    factory: EventFactory,
    dispenser: Dispenser,
    batch: bool,
    timeout: float,
    keep_open: bool = False,
    stagger: float = 0.0,
) -> Stats:
    """Every connection sends the dispenser's requests; with `stagger`, each connects that
    many seconds after the one before it has started sending."""
    ready = asyncio.Event()
    watchdog = asyncio.create_task(_watchdog(conns, timeout))
    if stagger:
        dispenser.start()
        ready.set()
        tasks = []
        for c in conns:
            with contextlib.suppress(OSError):
                await c.connect()
            worker = _raw_worker(target, factory, dispenser, batch, ready, c, keep_open=keep_open)
            tasks.append(asyncio.create_task(worker))
            await asyncio.sleep(stagger)
    else:
        tasks = [
            asyncio.create_task(
                _raw_worker(target, factory, dispenser, batch, ready, c, keep_open=keep_open)
            )
            for c in conns
        ]
        await asyncio.sleep(0)
        dispenser.start()
        ready.set()
    total = Stats()
    for s in await asyncio.gather(*tasks):
        total.merge(s)
    watchdog.cancel()
    return total


async def run_phase_raw(
    target: Target,
    concurrency: int,
    timeout: float,
    factory: EventFactory,
    dispenser: Dispenser,
    batch: bool,
    warmup: Warmup | None = None,
    workers: int = 0,
) -> Stats:
    tries = warmup.tries if warmup and warmup.balance and warmup.pids and workers > 1 else 1
    for attempt in range(1, tries + 1):
        conns = [RawConnection(target, timeout) for _ in range(concurrency)]
        if warmup is None or tries == 1:
            # Connect outside the timed section; a failure shows up on the first request.
            await asyncio.gather(*(c.connect() for c in conns), return_exceptions=True)
        if warmup is None:
            break
        before = tree_cpu(warmup.pids)
        # Balancing: each connection is made once the ones before it keep their workers busy
        # (idle workers all wait to accept, and the same one tends to win every time).
        stagger = STAGGER if tries > 1 else 0.0
        warm = await _drive(
            conns, target, factory, warmup.dispenser(), batch, timeout, True, stagger
        )
        shares = warmup.split(before, tree_cpu(warmup.pids))
        warmup.log.append(
            f"warmup: {warm.requests:,} requests, {warm.failed:,} failed"
            + (f"; first error: {warm.first_error}" if warm.first_error else "")
            + (
                f"; server CPU by process {' + '.join(f'{x:.1f}' for x in shares)} s"
                if tries > 1
                else ""
            )
        )
        if attempt == tries or warmup.balanced(shares, workers):
            break
        for c in conns:
            c.close()
        warmup.log.append("  uneven: connecting again")
    return await _drive(conns, target, factory, dispenser, batch, timeout)


# --------------------------------------------------------------------------------------------
# Client "threads": one thread per client, http.client (stdlib HTTP parser; the cross-check)
# --------------------------------------------------------------------------------------------


def _http_connection(target: Target, timeout: float) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return http.client.HTTPSConnection(target.host, target.port, timeout=timeout)
    return http.client.HTTPConnection(target.host, target.port, timeout=timeout)


def _headers(target: Target) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {target.key}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }


def run_phase_threads(
    target: Target,
    concurrency: int,
    timeout: float,
    factory: EventFactory,
    dispenser: Dispenser,
    batch: bool,
    warmup: Warmup | None = None,
    workers: int = 0,
) -> Stats:
    if warmup is not None:  # on connections of its own (no --balance with this client)
        warm = run_phase_threads(target, concurrency, timeout, factory, warmup.dispenser(), batch)
        warmup.log.append(
            f"warmup: {warm.requests:,} requests, {warm.failed:,} failed"
            + (f"; first error: {warm.first_error}" if warm.first_error else "")
        )
    path = target.path("/v1/events/batch" if batch else "/v1/events")
    headers = _headers(target)
    barrier = threading.Barrier(concurrency, action=dispenser.start)
    results: list[Stats] = [Stats() for _ in range(concurrency)]

    def worker(stats: Stats) -> None:
        conn = _http_connection(target, timeout)
        with contextlib.suppress(OSError):
            conn.connect()  # outside the timed section; a failure shows on the first request
        barrier.wait()
        perf = time.perf_counter
        while (job := dispenser.take()) is not None:
            seq, count = job
            body, customer = factory.batch_body(seq, count) if batch else factory.single_body(seq)
            t = perf()
            try:
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                status, data = resp.status, resp.read()
                if resp.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                status, data = 0, f"{type(exc).__name__}".encode()
            record(stats, status, data, perf() - t, count, batch, customer)
        stats.finished_at = perf()
        conn.close()

    threads = [threading.Thread(target=worker, args=(s,), daemon=True) for s in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = Stats()
    for s in results:
        total.merge(s)
    return total


# --------------------------------------------------------------------------------------------
# Process monitoring: server RSS over time, CPU of client, server and machine
# --------------------------------------------------------------------------------------------


def _process_tree(pids: Iterable[int]) -> list[psutil.Process]:
    procs: dict[int, psutil.Process] = {}
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs[root.pid] = root
            for child in root.children(recursive=True):
                procs[child.pid] = child
        except psutil.Error:
            continue
    return list(procs.values())


def tree_rss(pids: list[int]) -> tuple[int, int]:
    """Total RSS in bytes of the given processes and all their descendants, and how many."""
    total = n = 0
    for p in _process_tree(pids):
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
            n += 1
    return total, n


def tree_cpu(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) used so far by each process of the trees, by pid."""
    out: dict[int, float] = {}
    for p in _process_tree(pids):
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            out[p.pid] = t.user + t.system
    return out


class RssSampler(threading.Thread):
    """Samples the servers' total RSS every SAMPLE_EVERY seconds in the background."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.pids = pids
        self.samples: list[tuple[float, int, int]] = []  # (perf_counter, rss bytes, processes)
        self._stop_event = threading.Event()
        self._lock = threading.Lock()

    def sample(self) -> float:
        """Take one sample now; returns its time."""
        rss, n = tree_rss(self.pids)
        at = time.perf_counter()
        with self._lock:
            self.samples.append((at, rss, n))
        return at

    def last_mib(self) -> float | None:
        with self._lock:
            return self.samples[-1][1] / MIB if self.samples else None

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(SAMPLE_EVERY)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.sample()

    def window(self, t0: float, t1: float) -> list[tuple[float, int, int]]:
        with self._lock:
            return [s for s in self.samples if t0 <= s[0] <= t1]


def rss_summary(samples: list[tuple[float, int, int]]) -> dict[str, Any] | None:
    if not samples:
        return None
    rss = [s[1] for s in samples]
    slope = 0.0
    if len(samples) >= 3:  # least-squares growth, MiB per minute
        ts = [s[0] for s in samples]
        mt, mr = sum(ts) / len(ts), sum(rss) / len(rss)
        var = sum((t - mt) ** 2 for t in ts)
        if var > 0:
            slope = sum((t - mt) * (r - mr) for t, r in zip(ts, rss, strict=True)) / var
    return {
        "start_mib": round(rss[0] / MIB, 1),
        "peak_mib": round(max(rss) / MIB, 1),
        "end_mib": round(rss[-1] / MIB, 1),
        "growth_mib_per_min": round(slope * 60 / MIB, 2),
        "samples": len(samples),
        "processes": samples[-1][2],
    }


class Progress(threading.Thread):
    """With --progress N: a line every N seconds of a phase, to follow long runs."""

    def __init__(
        self, phase: str, counter: list[int], sampler: RssSampler | None, every: float
    ) -> None:
        super().__init__(daemon=True, name="progress")
        self.phase, self.counter, self.sampler, self.every = phase, counter, sampler, every
        self._stop_event = threading.Event()
        self.start()

    def run(self) -> None:
        t0, seq0 = time.perf_counter(), self.counter[0]
        while not self._stop_event.wait(self.every):
            elapsed = time.perf_counter() - t0
            sent = self.counter[0] - seq0
            line = f"  [{self.phase} {elapsed:6.0f} s] {sent:,} events handed out"
            line += f" ({sent / elapsed:,.0f}/s)"
            mib = self.sampler.last_mib() if self.sampler else None
            if mib is not None:
                line += f", server RSS {mib:.1f} MiB"
            print(line, flush=True)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


@dataclass
class CpuSnapshot:
    at: float
    client: float
    server: dict[int, float]
    machine_busy: float
    machine_total: float


def cpu_snapshot(pids: list[int]) -> CpuSnapshot:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    mt = psutil.cpu_times()
    total = sum(mt)
    idle = mt.idle + getattr(mt, "iowait", 0.0)
    return CpuSnapshot(
        time.perf_counter(), ru.ru_utime + ru.ru_stime, tree_cpu(pids), total - idle, total
    )


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return 0.0
    rank = max(1, -(-len(sorted_values) * p // 100))  # ceil(n * p / 100)
    return sorted_values[int(rank) - 1]


def phase_summary(
    name: str,
    stats: Stats,
    t0: float,
    cpu0: CpuSnapshot,
    cpu1: CpuSnapshot,
    rss: dict[str, Any] | None,
) -> dict[str, Any]:
    elapsed = max(stats.finished_at - t0, 1e-9)
    lat = sorted(stats.latencies_ms)
    client_cpu = cpu1.client - cpu0.client
    wall = max(cpu1.at - cpu0.at, 1e-9)
    server_cpu = sum(v - cpu0.server.get(pid, 0.0) for pid, v in cpu1.server.items())
    machine_total = max(cpu1.machine_total - cpu0.machine_total, 1e-9)
    return {
        "phase": name,
        "elapsed_s": round(elapsed, 3),
        "requests": stats.requests,
        "failed_requests": stats.failed,
        "events_sent": stats.events_sent,
        "events_ok": stats.events_ok,
        "failed_events": stats.item_errors,
        "events_per_s": round(stats.events_ok / elapsed, 1),
        "requests_per_s": round(stats.requests / elapsed, 1),
        "latency_ms": {
            "p50": round(percentile(lat, 50), 2),
            "p90": round(percentile(lat, 90), 2),
            "p99": round(percentile(lat, 99), 2),
            "max": round(lat[-1], 2) if lat else 0.0,
            "mean": round(sum(lat) / len(lat), 2) if lat else 0.0,
        },
        "statuses": dict(sorted(stats.statuses.items())),
        "outcomes": dict(stats.outcomes.most_common()),
        "first_error": stats.first_error,
        "first_item_error": stats.first_item_error,
        "client_cpu_s": round(client_cpu, 2),
        "client_cpu_pct_of_core": round(100 * client_cpu / wall, 1),
        "client_cpu_us_per_request": round(1e6 * client_cpu / max(stats.requests, 1), 1),
        "server_cpu_pct_of_core": round(100 * server_cpu / wall, 1) if cpu1.server else None,
        # Per process (workers), busiest first: with several workers the kernel hands each
        # keep-alive connection to one of them, and an uneven share shows here.
        "server_cpu_pct_by_process": sorted(
            (
                round(100 * (v - cpu0.server.get(pid, 0.0)) / wall, 1)
                for pid, v in cpu1.server.items()
                if v - cpu0.server.get(pid, 0.0) > 0.01 * wall
            ),
            reverse=True,
        ),
        "machine_cpu_busy_pct": round(
            100 * (cpu1.machine_busy - cpu0.machine_busy) / machine_total, 1
        ),
        "server_rss": rss,
    }


def print_phase(s: dict[str, Any], cores: int) -> None:
    lat = s["latency_ms"]
    print(f"\n--- {s['phase']}: {s['elapsed_s']:.2f} s measured")
    print(
        f"  throughput   {s['events_per_s']:>10,.1f} events/s   {s['requests_per_s']:>10,.1f} "
        f"requests/s"
    )
    print(
        f"  requests     {s['requests']:,} sent, {s['failed_requests']:,} failed;  "
        f"events {s['events_sent']:,} sent, {s['events_ok']:,} accepted"
        + (f", {s['failed_events']:,} failed in results" if s["failed_events"] else "")
    )
    print(
        f"  latency ms   p50 {lat['p50']:.1f}   p90 {lat['p90']:.1f}   p99 {lat['p99']:.1f}   "
        f"max {lat['max']:.1f}   (per request)"
    )
    print("  statuses     " + ", ".join(f"{k}: {v:,}" for k, v in s["statuses"].items()))
    if s["outcomes"]:
        print("  outcomes     " + ", ".join(f"{k}: {v:,}" for k, v in s["outcomes"].items()))
    if s["first_error"]:
        print(f"  first error  {s['first_error']}")
    if s["first_item_error"]:
        print(f"  first failed result  {s['first_item_error']}")
    cpu = (
        f"  CPU          client {s['client_cpu_pct_of_core']:.0f}% of a core "
        f"({s['client_cpu_us_per_request']:.0f} us/request)"
    )
    if s["server_cpu_pct_of_core"] is not None:
        cpu += f"; server {s['server_cpu_pct_of_core']:.0f}% of a core"
        if len(s["server_cpu_pct_by_process"]) > 1:
            cpu += " (" + " + ".join(f"{v:.0f}" for v in s["server_cpu_pct_by_process"]) + ")"
    cpu += f"; machine {s['machine_cpu_busy_pct']:.0f}% busy of {cores} cores"
    print(cpu)
    if s["server_rss"]:
        r = s["server_rss"]
        print(
            f"  server RSS   start {r['start_mib']:.1f} MiB   peak {r['peak_mib']:.1f} MiB   "
            f"end {r['end_mib']:.1f} MiB   growth {r['growth_mib_per_min']:+.2f} MiB/min   "
            f"({r['samples']} samples, {r['processes']} processes)"
        )


# --------------------------------------------------------------------------------------------
# Simple one-off requests (pre-flight, verification), stdlib
# --------------------------------------------------------------------------------------------


def call_json(
    target: Target, method: str, path: str, timeout: float, payload: Any = None
) -> tuple[int, Any]:
    """One request on a fresh connection; the body parsed as JSON when it is JSON."""
    conn = _http_connection(target, timeout)
    try:
        body = None if payload is None else orjson.dumps(payload)
        conn.request(method, target.path(path), body=body, headers=_headers(target))
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    try:
        return resp.status, orjson.loads(data)
    except orjson.JSONDecodeError:
        return resp.status, data.decode(errors="replace")


def pick_currency(
    target: Target,
    given: str | None,
    ensure: bool,
    timeout: float,
    program: dict[str, Any] | None = None,
) -> str:
    """The currency to send: --currency, else the published program's. With --ensure-program,
    publish a minimal program first if the tenant has none."""
    try:
        status, body = call_json(target, "GET", "/v1/program", timeout)
    except OSError as exc:
        raise SystemExit(f"cannot reach {target.host}:{target.port}: {exc}") from None
    if status in (401, 403):
        raise SystemExit(f"GET /v1/program: HTTP {status}, check --key: {body}")
    if program is not None:
        status, body = call_json(target, "PUT", "/v1/program", timeout, program)
        if status != 200:
            raise SystemExit(f"PUT /v1/program (--program): HTTP {status}: {str(body)[:500]}")
        rules = len(body.get("rules", [])) if isinstance(body, dict) else "?"
        print(f"published the program of --program: version {body.get('version')}, {rules} rules")
    if status != 200 and ensure:
        document = {"name": "Bench", "currency": given or "USD"}
        status, body = call_json(target, "PUT", "/v1/program", timeout, document)
        if status != 200:
            raise SystemExit(f"PUT /v1/program {document}: HTTP {status}: {body}")
        print(f"published a program: {str(body)[:300]}")
    if given:
        return given
    if status == 200 and isinstance(body, dict) and isinstance(body.get("currency"), str):
        return body["currency"]
    print(f"warning: GET /v1/program gave HTTP {status} {str(body)[:200]}; sending USD")
    return "USD"


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Benchmark event ingestion of a running `patron serve`.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL")
    p.add_argument("--key", default=argparse.SUPPRESS, help="API key (default: $PATRON_API_KEY)")
    p.add_argument(
        "--mode",
        choices=("single", "batch", "both"),
        default="single",
        help="POST /v1/events, POST /v1/events/batch, or one phase of each",
    )
    p.add_argument("-c", "--concurrency", type=int, default=8, help="concurrent clients")
    p.add_argument("--duration", type=float, default=20.0, help="seconds measured per phase")
    p.add_argument(
        "--events", type=int, default=None, help="send N events per phase instead of --duration"
    )
    p.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds per phase")
    p.add_argument("--batch-size", type=int, default=MAX_BATCH, help="events per batch")
    p.add_argument("--customers", type=int, default=10_000, help="size of the customer pool")
    p.add_argument("--customer-prefix", default="c-", help="customer external_id prefix")
    p.add_argument("--currency", default=None, help="default: the program's, from /v1/program")
    p.add_argument(
        "--ensure-program",
        action="store_true",
        help="if GET /v1/program finds none, PUT a minimal one (--currency or USD) first",
    )
    p.add_argument(
        "--pid",
        action="append",
        default=[],
        help="server PID to watch (RSS, CPU) with its children; repeat or comma-separate",
    )
    p.add_argument("--label", default="", help="printed with the results, e.g. postgresql")
    p.add_argument(
        "--balance",
        type=int,
        default=0,
        metavar="WORKERS",
        help="with --pid and the raw client: warm up on the phase's own connections and "
        "connect again while one of the WORKERS server processes did under half the work of "
        "the busiest (the kernel hands keep-alive connections to workers unevenly)",
    )
    p.add_argument("--lines", type=int, default=0, help="order lines per order (0: a total only)")
    p.add_argument("--program", default=None, help="a program file (JSON or YAML) to publish first")
    p.add_argument(
        "--progress", type=float, default=0, help="print a progress line every N s (0: off)"
    )
    p.add_argument("--json", action="store_true", help="also print a one-line JSON summary")
    p.add_argument(
        "--client",
        choices=("raw", "threads"),
        default="raw",
        help="raw: asyncio streams + minimal HTTP/1.1 (lightest); threads: http.client",
    )
    p.add_argument("--no-uvloop", action="store_true", help="raw client: plain asyncio loop")
    p.add_argument("--timeout", type=float, default=120.0, help="per-request timeout, seconds")
    p.add_argument("--seed", type=int, default=None, help="seed for customers and totals")
    p.add_argument(
        "--verify-member",
        action="store_true",
        help="afterwards GET /v1/members/{id} for a customer that just ordered",
    )
    args = p.parse_args(argv)
    args.key = getattr(args, "key", None) or os.environ.get("PATRON_API_KEY")
    if not args.key:
        p.error("--key or PATRON_API_KEY is required")
    if args.concurrency < 1 or args.customers < 1:
        p.error("--concurrency and --customers must be >= 1")
    if not 1 <= args.batch_size <= MAX_BATCH:
        p.error(f"--batch-size must be 1..{MAX_BATCH}")
    if args.events is not None and args.events < 1:
        p.error("--events must be >= 1")
    try:
        args.pids = [int(x) for v in args.pid for x in v.split(",") if x.strip()]
    except ValueError:
        p.error("--pid takes process ids")
    for pid in args.pids:
        if not psutil.pid_exists(pid):
            p.error(f"--pid {pid}: no such process")
    if args.balance and (not args.pids or args.warmup <= 0 or args.client != "raw"):
        p.error("--balance needs --pid, a warmup and the raw client")
    return args


def make_runner(args: argparse.Namespace, target: Target) -> tuple[str, Callable[..., Stats]]:
    if args.client == "threads":
        return "threads + http.client", lambda *a: run_phase_threads(target, *a)
    loop_factory = None
    name = "asyncio streams (raw HTTP/1.1)"
    if not args.no_uvloop:
        try:
            import uvloop  # optional; installed with uvicorn[standard]

            loop_factory = uvloop.new_event_loop
            name = "uvloop streams (raw HTTP/1.1)"
        except ImportError:
            pass

    def run(*a: Any) -> Stats:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(run_phase_raw(target, *a))

    return name, run


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # follow progress through a pipe or tee
    target = parse_target(args.url, args.key)
    program = None
    if args.program:
        import yaml

        with open(args.program, encoding="utf-8") as f:
            program = yaml.safe_load(f)
    currency = pick_currency(target, args.currency, args.ensure_program, args.timeout, program)
    run_id = uuid.uuid4().hex[:12]
    factory = EventFactory(
        run_id,
        currency,
        args.customers,
        args.customer_prefix,
        args.seed if args.seed is not None else random.randrange(1 << 30),
        lines=args.lines,
    )
    client_name, run_phase = make_runner(args, target)
    phases = ["single", "batch"] if args.mode == "both" else [args.mode]
    cores = psutil.cpu_count() or 1
    budget = f"{args.events:,} events" if args.events else f"{args.duration:g} s"
    print(
        f"patron ingest bench  label={args.label or '-'}  url={args.url}  mode={args.mode}  "
        f"concurrency={args.concurrency}  {budget} per phase (+{args.warmup:g} s warmup)"
    )
    print(
        f"  run id {run_id}, currency {currency}, {args.customers:,} customers, "
        f"batch size {args.batch_size}, client: {client_name}, {cores} cores, "
        f"watching pids {args.pids or '-'}"
    )

    sampler = RssSampler(args.pids) if args.pids else None
    if sampler:
        sampler.start()
    counter = [0]
    summaries: list[dict[str, Any]] = []
    last_customer: str | None = None
    for phase in phases:
        batch = phase == "batch"
        chunk = args.batch_size if batch else 1
        warmup = None
        if args.warmup > 0:
            warmup = Warmup(args.warmup, counter, chunk, args.pids, 0.5 if args.balance else 0)
        duration = None if args.events else args.duration
        dispenser = Dispenser(counter, chunk, duration, args.events)
        first_sample = sampler.sample() if sampler else 0.0
        cpu0: CpuSnapshot | None = None

        def measuring(phase: str = phase, warmup: Warmup | None = warmup) -> None:
            nonlocal cpu0, first_sample
            if warmup:
                print("\n" + "\n".join(f"{phase} {line}" for line in warmup.log))
            first_sample = sampler.sample() if sampler else 0.0
            cpu0 = cpu_snapshot(args.pids)

        dispenser.on_start = measuring
        progress = Progress(phase, counter, sampler, args.progress) if args.progress else None
        stats = run_phase(
            args.concurrency, args.timeout, factory, dispenser, batch, warmup, args.balance
        )
        assert cpu0 is not None
        if progress:
            progress.stop()
        cpu1 = cpu_snapshot(args.pids)
        rss = None
        if sampler:
            rss = rss_summary(sampler.window(first_sample, sampler.sample()))
        summary = phase_summary(phase, stats, dispenser.t0, cpu0, cpu1, rss)
        summaries.append(summary)
        print_phase(summary, cores)
        last_customer = stats.last_customer or last_customer

    overall_rss = None
    if sampler:
        sampler.stop()
        overall_rss = rss_summary(sampler.samples)
        if len(phases) > 1 and overall_rss:
            r = overall_rss
            print(
                f"\nserver RSS over the whole run (warmups included): start {r['start_mib']:.1f}"
                f" MiB, peak {r['peak_mib']:.1f} MiB, end {r['end_mib']:.1f} MiB"
            )

    member: dict[str, Any] | None = None
    if args.verify_member and last_customer:
        path = f"/v1/members/{quote(last_customer, safe='')}"
        try:
            status, body = call_json(target, "GET", path, args.timeout)
        except OSError as exc:
            status, body = 0, str(exc)
        member = {"external_id": last_customer, "status": status, "body": body}
        shown = orjson.dumps(body).decode() if not isinstance(body, str) else body
        print(f"\nverify: GET {path} -> HTTP {status}: {shown[:ERROR_BODY_MAX]}")

    verdicts = []
    for s in summaries:
        bad = s["failed_requests"] > FAIL_LIMIT * s["requests"] or s["requests"] == 0
        text = f"{s['phase']}: {s['failed_requests']:,}/{s['requests']:,} requests failed"
        if s["failed_events"]:
            bad = bad or s["failed_events"] > FAIL_LIMIT * s["events_sent"]
            text += f", {s['failed_events']:,}/{s['events_sent']:,} events failed in results"
        verdicts.append((bad, text))
    if member is not None and member["status"] != 200:
        verdicts.append((True, f"verify-member: HTTP {member['status']}"))
    ok = not any(bad for bad, _ in verdicts)
    print(
        f"\nresult: {'OK' if ok else 'FAILED'} ({'; '.join(t for _, t in verdicts)}; "
        f"limit {FAIL_LIMIT:.0%} per phase)"
    )
    if args.json:
        line = {
            "label": args.label,
            "url": args.url,
            "mode": args.mode,
            "concurrency": args.concurrency,
            "batch_size": args.batch_size,
            "customers": args.customers,
            "client": client_name,
            "run_id": run_id,
            "ok": ok,
            "phases": summaries,
            "server_rss_whole_run": overall_rss,
            "verify_member": member,
        }
        print(orjson.dumps(line).decode())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
