"""Prometheus metrics of one app: requests per endpoint and per feature service, Redis errors.

Each app has its own ``CollectorRegistry`` (tests build many apps). With several workers,
each worker process keeps its own counters; a scrape reads the worker that answers it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, values


def _in_process_values() -> None:
    """Keep metric values in process memory, as the docstring above says they are.

    Importing Feast sets ``PROMETHEUS_MULTIPROC_DIR`` (``feast.metrics`` does it for
    gunicorn's workers), which turns every prometheus_client value into a memory-mapped
    file: a lock, a ``getpid()`` and an mmap write per increment, on every request
    (measured with py-spy: about a tenth of the server's CPU on a 1-entity lookup). This
    app reads its own ``CollectorRegistry``, never a ``MultiProcessCollector``, so the
    files bought nothing and the exposition is the same. prometheus_client picks the
    value class per metric (and per label child) from ``values.ValueClass``.
    """
    values.ValueClass = values.MutexValue


_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(
        default_factory=lambda: CollectorRegistry(auto_describe=True)
    )

    def __post_init__(self) -> None:
        _in_process_values()
        self.requests = Counter(
            "featurestore_http_requests_total",
            "HTTP requests by endpoint, method and status code.",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "featurestore_http_request_seconds",
            "HTTP request latency by endpoint.",
            ["endpoint"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.lookups = Counter(
            "featurestore_online_lookups_total",
            "Online lookups by feature service ('' for a feature list) and outcome.",
            ["feature_service", "outcome"],
            registry=self.registry,
        )
        self.lookup_latency = Histogram(
            "featurestore_online_lookup_seconds",
            "Online lookup latency by feature service ('' for a feature list).",
            ["feature_service"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.entities = Histogram(
            "featurestore_online_lookup_entities",
            "Entities per online lookup.",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
            registry=self.registry,
        )
        self.redis_errors = Counter(
            "featurestore_redis_errors_total",
            "Redis calls that failed or timed out.",
            registry=self.registry,
        )

    def observe_request(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        """One answered HTTP request (label children cached: this runs on every request)."""
        children: dict[tuple[str, str, int], tuple[Any, Any]] = self.__dict__.setdefault(
            "_request_children", {}
        )
        key = (endpoint, method, status)
        pair = children.get(key)
        if pair is None:  # label lookups take a lock: do them once per label set
            pair = (
                self.requests.labels(endpoint, method, str(status)),
                self.latency.labels(endpoint),
            )
            children[key] = pair
        pair[0].inc()
        pair[1].observe(seconds)

    def observe_lookup(self, feature_service: str, seconds: float, entities: int) -> None:
        """One successful lookup (label children cached: this runs on every request)."""
        children: dict[str, tuple[Any, Any]] = self.__dict__.setdefault("_children", {})
        pair = children.get(feature_service)
        if pair is None:
            pair = (
                self.lookups.labels(feature_service, "ok"),
                self.lookup_latency.labels(feature_service),
            )
            children[feature_service] = pair
        pair[0].inc()
        pair[1].observe(seconds)
        self.entities.observe(entities)
