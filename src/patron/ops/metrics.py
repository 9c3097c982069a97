"""Prometheus metrics of one API process, in a registry of its own (an app made twice in one
process, as the tests do, does not count twice). Read at `/metrics`.

With several worker processes each has its own figures: Prometheus scrapes one process per
request, so give each worker its own port or sum over scrapes; see docs/operations.md."""

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# Request latencies: most requests take milliseconds; a slow batch takes seconds.
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


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
            "Events accepted by POST /v1/events and /v1/events/batch, by type and outcome "
            "(applied, not_member, member_suspended, no_effect, duplicate). A refused request "
            "stores nothing and counts here not at all: see patron_http_requests by status.",
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
            "How long a run of the scheduled jobs took.",
            ("job",),
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

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def ingested(self, results: Iterable[dict[str, Any]]) -> None:
        for result in results:
            outcome = "duplicate" if result["duplicate"] else result["status"]
            self.events.labels(result["type"], outcome).inc()

    def job_run(self, job: str, *, ok: bool, seconds: float, lots: dict[str, int]) -> None:
        self.job_runs.labels(job, "ok" if ok else "failed").inc()
        self.job_duration.labels(job).observe(seconds)
        for action, count in lots.items():
            if count:
                self.job_lots.labels(action).inc(count)
