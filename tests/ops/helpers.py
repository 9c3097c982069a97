"""Reading what the operations endpoints and the access log give, for the tests."""

from __future__ import annotations

import json
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(client: httpx.Client, url: str = "/metrics", **kwargs: Any) -> Samples:
    """Every sample of a scrape, by name and labels, parsed as Prometheus parses it."""
    r = client.get(url, **kwargs)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    out: Samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(scrape: Samples, name: str, **labels: str) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def log_lines(out: str) -> list[dict[str, Any]]:
    """The access log's lines in captured output: every line that is a JSON object."""
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def line_of(out: str, request_id: str) -> dict[str, Any]:
    [line] = [line for line in log_lines(out) if line["request_id"] == request_id]
    return line
