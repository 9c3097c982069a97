"""Prometheus metrics of one API process, in a registry of its own (an app made twice in one
process, as the tests do, does not count twice). Read at `/metrics`.

With several worker processes each has its own figures: Prometheus scrapes one process per
request, so give each worker its own port or sum over scrapes; see docs/operations.md."""

from collections import Counter as Tally
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import Any, Protocol

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# Request latencies: most requests take milliseconds; a slow batch takes seconds.
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Any other method a client sends is counted as `OTHER`: a label takes few values.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "other"
# The type of a refused event whose type is not one Patron knows, or that could not be read.
UNREADABLE = "(unreadable)"
REJECTED = "rejected"


class PoolCollector(Collector):
    """The database pool, read when scraped."""

    def __init__(self, read: Callable[[], dict[str, int]]) -> None:
        self.read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        values = self.read()
        for name, help_text in (
            ("checked_out", "Connections in use by requests or jobs."),
            ("size", "Connections the pool keeps open (its configured size)."),
            ("overflow", "Connections opened beyond the pool's size."),
        ):
            if name in values:
                yield GaugeMetricFamily(f"patron_db_pool_{name}", help_text, value=values[name])


class JobReport(Protocol):
    """What a run of the ledger's jobs reports (patron.ledger.tasks.JobReport)."""

    @property
    def vested_lots(self) -> int: ...
    @property
    def expired_lots(self) -> int: ...


class Metrics:
    def __init__(self, pool: Callable[[], dict[str, int]] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "patron_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "patron_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response, by route and method.",
            ("route", "method"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.events = Counter(
            "patron_events_ingested",
            "Events sent to POST /v1/events and /v1/events/batch by an authenticated shop, by "
            "type and outcome: applied, not_member, member_suspended, no_effect, duplicate (a "
            "replay), or rejected (the request was refused: nothing of it was stored).",
            ("type", "outcome"),
            registry=self.registry,
        )
        self.job_runs = Counter(
            "patron_job_runs",
            "Runs of the scheduled jobs (vesting and expiry), by outcome (ok, failed).",
            ("job", "outcome"),
            registry=self.registry,
        )
        self.job_duration = Histogram(
            "patron_job_duration_seconds",
            "How long a run of the scheduled jobs took, by outcome (ok, failed).",
            ("job", "outcome"),
            buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0),
            registry=self.registry,
        )
        self.job_lots = Counter(
            "patron_job_lots",
            "Lots the scheduled jobs settled, by action (vested, expired).",
            ("action",),
            registry=self.registry,
        )
        if pool is not None:
            self.registry.register(PoolCollector(pool))
        # The children of the request metrics, by (route, method, status): `labels()` takes a
        # lock and builds a key on every call, and this runs on every request.
        self._by_request: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._by_request.get(key)
        if children is None:
            method = method if method in METHODS else OTHER
            children = self._by_request[key] = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route, method),
            )
        children[0].inc()
        children[1].observe(seconds)

    def ingested(self, results: Iterable[dict[str, Any]]) -> None:
        """The results of an ingestion request, as its response carries them."""
        tally = Tally(
            (result["type"], "duplicate" if result["duplicate"] else result["status"])
            for result in results
        )
        for (type_, outcome), count in tally.items():
            self.events.labels(type_, outcome).inc(count)

    def rejected(self, raw: bytes, *, batch: bool, known: Collection[str]) -> None:
        """The events of a refused request, by type as far as the body can be read. Called
        only when a request failed, so parsing its body again costs no hot path."""
        for type_, count in _types(raw, batch, known).items():
            self.events.labels(type_, REJECTED).inc(count)

    def settled(self, report: JobReport | None, seconds: float) -> None:
        """A run of the ledger's jobs (vesting and expiry); `report` is None if it failed."""
        outcome = "ok" if report is not None else "failed"
        self.job_runs.labels("settle", outcome).inc()
        self.job_duration.labels("settle", outcome).observe(seconds)
        if report is not None:
            for action, count in (("vested", report.vested_lots), ("expired", report.expired_lots)):
                if count:
                    self.job_lots.labels(action).inc(count)


def _types(raw: bytes, batch: bool, known: Collection[str]) -> Tally[str]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return Tally({UNREADABLE: 1})
    events = body.get("events") if batch and isinstance(body, dict) else [body]
    if not isinstance(events, list) or not events:
        return Tally({UNREADABLE: 1})
    return Tally(
        t if isinstance(t, str) and t in known else UNREADABLE
        for t in (event.get("type") if isinstance(event, dict) else None for event in events)
    )
