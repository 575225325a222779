"""Prometheus metrics of one app: requests per endpoint and per feature service, Redis
errors (and, on a Redis Cluster, redirections and slot map reads), and each feature
view's freshness (``FreshnessGauges``).

Each app has its own ``CollectorRegistry`` (tests build many apps). With several workers,
each worker process keeps its own counters; a scrape reads the worker that answers it.
The values are plain numbers in process memory (``_Metric``): importing Feast sets
``PROMETHEUS_MULTIPROC_DIR``, which would make every prometheus_client value a
memory-mapped file (a lock, a ``getpid()`` and an mmap write per increment), and even
in-memory prometheus_client values take a lock per increment. (Feast's own metrics, made
when it is imported, do use that folder: the CLI gives the server one of its own,
``featurestore.cli.api_cmd``.)
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, values
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from featurestore.monitor.model import Freshness

if TYPE_CHECKING:
    from featurestore.monitor.serving_log import ServingLog
    from featurestore.online import ClusterRespClient
    from featurestore.push.service import PushService


def _in_process_values() -> None:
    """Keep other prometheus_client values (Feast's own, touched by ``/push``) in process
    memory: importing Feast sets ``PROMETHEUS_MULTIPROC_DIR``, which turns every value
    into a memory-mapped file nobody here reads. prometheus_client picks the value class
    per metric (and per label child) from ``values.ValueClass``."""
    values.ValueClass = values.MutexValue


class _Child:
    """One label set's value: a counter, or a histogram's bucket counts and sum."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one: above every bound (+Inf)
        self.sum = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.sum += amount

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # le: value <= bound
        self.sum += value


class _Metric:
    """A counter or histogram written only from the event loop: plain numbers, no lock.

    prometheus_client's take a lock per increment (two per histogram observation), which
    measured at a few percent of a 1-entity lookup with five updates per request. Every
    update here runs on the server's event loop (the middleware, the inline route); a
    scrape reads the numbers as they are. Same names, labels and exposition, less the
    ``_created`` samples.
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: tuple[str, ...] = (),
        buckets: tuple[float, ...] | None = None,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = labelnames
        self.buckets = buckets
        self.children: dict[tuple[str, ...], _Child] = {}
        self._unlabelled = self.labels() if not labelnames else None

    def labels(self, *values: str) -> _Child:
        child = self.children.get(values)
        if child is None:
            if len(values) != len(self.labelnames):
                raise ValueError(f"{self.name} takes labels {self.labelnames}")
            child = self.children[values] = _Child(self.buckets or ())
        return child

    def inc(self, amount: float = 1.0) -> None:
        assert self._unlabelled is not None
        self._unlabelled.inc(amount)

    def observe(self, value: float) -> None:
        assert self._unlabelled is not None
        self._unlabelled.observe(value)

    def collect(self) -> Metric:
        if self.buckets is None:
            counter = CounterMetricFamily(
                self.name, self.documentation, labels=list(self.labelnames)
            )
            for values, child in list(self.children.items()):
                counter.add_metric(list(values), child.sum)
            return counter
        histogram = HistogramMetricFamily(
            self.name, self.documentation, labels=list(self.labelnames)
        )
        for values, child in list(self.children.items()):
            counts = list(child.counts)
            cumulative, total = [], 0
            for bound, count in zip((*self.buckets, math.inf), counts, strict=True):
                total += count
                cumulative.append((floatToGoString(bound), float(total)))
            histogram.add_metric(list(values), cumulative, child.sum)
        return histogram


class _Collector(Collector):
    def __init__(self, metrics: list[_Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        for metric in self.metrics:
            yield metric.collect()


class FreshnessGauges(Collector):
    """Per feature view: its freshness objective, the age of its newest offline event and
    of what is served (absent when unknown), and whether it is stale, from the report
    the ``/metrics`` route sets before each scrape (``api.freshness_worker``)."""

    def __init__(self) -> None:
        self.report: Sequence[Freshness] = ()

    def collect(self) -> Iterator[Metric]:
        label = ["feature_view"]
        objective = GaugeMetricFamily(
            "featurestore_feature_freshness_objective_seconds",
            "The feature view's freshness objective (monitor.freshness, job header, TTL or "
            "twice the job's grain).",
            labels=label,
        )
        newest = GaugeMetricFamily(
            "featurestore_feature_newest_event_age_seconds",
            "Age of the newest event in the feature view's offline table.",
            labels=label,
        )
        served = GaugeMetricFamily(
            "featurestore_feature_served_age_seconds",
            "Age of the newest event the online store can hold for the view (its newest "
            "offline event, or its last materialization's end when earlier).",
            labels=label,
        )
        stale = GaugeMetricFamily(
            "featurestore_feature_stale",
            "1 when the feature view is past its freshness objective or never materialized.",
            labels=label,
        )
        for item in self.report:
            view = [item.view]
            objective.add_metric(view, item.objective_seconds)
            if item.newest_event is not None:
                age = (item.checked_at - item.newest_event).total_seconds()
                newest.add_metric(view, age)
            if item.served_age_seconds is not None:
                served.add_metric(view, item.served_age_seconds)
            stale.add_metric(view, 1.0 if item.stale else 0.0)
        yield from (objective, newest, served, stale)


_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _ServingLogCollector(Collector):
    """The serving log's own counters, read when scraped (nothing on the lookup path)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        log = self.metrics.serving_log
        if log is None:
            return
        counter = CounterMetricFamily(
            "featurestore_serving_log_requests",
            "Sampled lookups by outcome: queued for the serving log, dropped (its queue was "
            "full), written to a file, failed (not written).",
            labels=["outcome"],
        )
        for outcome in ("queued", "dropped", "written", "failed"):
            counter.add_metric([outcome], float(getattr(log, outcome)))
        yield counter


class _ClusterCollector(Collector):
    """The lookups' Redis Cluster client, when the Redis URL names a cluster: the
    redirections it followed and the times it read the slot map."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        cluster = self._metrics.cluster
        if cluster is None:
            return
        redirects = CounterMetricFamily(
            "featurestore_redis_cluster_redirects",
            "MOVED and ASK replies the lookups followed (a resharding, a promoted replica).",
        )
        redirects.add_metric((), cluster.redirects)
        yield redirects
        reads = CounterMetricFamily(
            "featurestore_redis_cluster_slot_map_reads",
            "Slot maps (CLUSTER SLOTS) the lookups read: the first, then one after a "
            "redirection or a master that could not be reached.",
        )
        reads.add_metric((), cluster.refreshes)
        yield reads


class _PushCollector(Collector):
    """Rows written, rejected and quarantined per target; per push source's table, the
    bytes in its log and the age of its oldest uncompacted segment; stream lag."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        import time

        from featurestore.push.spec import read_pushes
        from featurestore.push.wal import log_status

        service = self._metrics.push
        if service is None:
            return
        rows = CounterMetricFamily(
            "featurestore_push_rows",
            "Rows written (pushed), refused (rejected) or kept aside (quarantined), by "
            "push source or feature view.",
            labels=("target", "outcome"),
        )
        for (target, outcome), count in sorted(service.counts.items()):
            rows.add_metric((target, outcome), count)
        yield rows
        size = GaugeMetricFamily(
            "featurestore_push_log_bytes",
            "Bytes of pushed rows in the push log, waiting for compaction, by table.",
            labels=("table",),
        )
        lag = GaugeMetricFamily(
            "featurestore_push_compaction_lag_seconds",
            "Age of the oldest pushed rows not yet compacted into the table (0: none).",
            labels=("table",),
        )
        project = service.project
        specs = read_pushes(project.jobs_dir) if project is not None else {}
        now = time.time()
        for name in sorted(specs):
            assert project is not None
            status = log_status(project.layout.push_log(name))
            size.add_metric((name,), status.bytes)
            lag.add_metric((name,), max(0.0, now - status.oldest) if status.oldest else 0.0)
        yield size
        yield lag
        stream_lag = GaugeMetricFamily(
            "featurestore_stream_lag",
            "Entries of a Redis Stream not yet written and acknowledged by its consumer group.",
            labels=("stream", "group"),
        )
        for (stream, group), value in sorted(service.stream_lag.items()):
            stream_lag.add_metric((stream, group), value)
        yield stream_lag


@dataclass
class Metrics:
    registry: CollectorRegistry = field(
        default_factory=lambda: CollectorRegistry(auto_describe=True)
    )
    # The sampled log of served vectors, while the app runs with one (api.app's lifespan):
    # what the lookups report to besides these counters.
    serving_log: ServingLog | None = None
    # The app's write service (api.app's lifespan): its row counts and push logs.
    push: PushService | None = None
    # The lookups' cluster client, when the Redis URL names a Redis Cluster.
    cluster: ClusterRespClient | None = None

    def __post_init__(self) -> None:
        _in_process_values()
        self.requests = _Metric(
            "featurestore_http_requests",
            "HTTP requests by endpoint, method and status code.",
            ("endpoint", "method", "status"),
        )
        self.latency = _Metric(
            "featurestore_http_request_seconds",
            "HTTP request latency by endpoint.",
            ("endpoint",),
            buckets=_BUCKETS,
        )
        self.lookups = _Metric(
            "featurestore_online_lookups",
            "Online lookups by feature service ('' for a feature list) and outcome.",
            ("feature_service", "outcome"),
        )
        self.lookup_latency = _Metric(
            "featurestore_online_lookup_seconds",
            "Online lookup latency by feature service ('' for a feature list).",
            ("feature_service",),
            buckets=_BUCKETS,
        )
        self.entities = _Metric(
            "featurestore_online_lookup_entities",
            "Entities per online lookup.",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
        )
        self.redis_errors = _Metric(
            "featurestore_redis_errors", "Redis calls that failed or timed out."
        )
        self.push_latency = _Metric(
            "featurestore_push_seconds",
            "Write latency (/push, /write-to-online-store) by push source or feature view, "
            "until the rows are in Redis and, when asked, fsynced in the push log.",
            ("target",),
            buckets=_BUCKETS,
        )
        self.freshness = FreshnessGauges()
        self.registry.register(self.freshness)
        self.registry.register(
            _Collector(
                [
                    self.requests,
                    self.latency,
                    self.lookups,
                    self.lookup_latency,
                    self.entities,
                    self.redis_errors,
                    self.push_latency,
                ]
            )
        )
        self.registry.register(_ServingLogCollector(self))
        self.registry.register(_PushCollector(self))
        self.registry.register(_ClusterCollector(self))

    def observe_request(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        """One answered HTTP request (label children cached: this runs on every request)."""
        children: dict[tuple[str, str, int], tuple[_Child, _Child]] = self.__dict__.setdefault(
            "_request_children", {}
        )
        key = (endpoint, method, status)
        pair = children.get(key)
        if pair is None:  # one dict lookup per request, not two
            pair = (
                self.requests.labels(endpoint, method, str(status)),
                self.latency.labels(endpoint),
            )
            children[key] = pair
        pair[0].inc()
        pair[1].observe(seconds)

    def observe_push(self, target: str, seconds: float) -> None:
        self.push_latency.labels(target).observe(seconds)

    def observe_lookup(self, feature_service: str, seconds: float, entities: int) -> None:
        """One successful lookup (label children cached: this runs on every request)."""
        children: dict[str, tuple[_Child, _Child]] = self.__dict__.setdefault("_children", {})
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
