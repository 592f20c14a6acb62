"""One Prometheus scrape of Conveyor (see conveyor.prometheus): the collector prometheus_client calls, in a
module of its own so that the client library is imported only when someone scrapes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector, CollectorRegistry

from conveyor.metrics import LATENCY_BUCKETS, Metrics
from conveyor.ports import Queues
from conveyor.prometheus import UNIT_SUFFIX, BuiltinSeries, PoolLevel, Series, metric_name, snake


def registry_of(requests: Metrics, builtin: BuiltinSeries, queues: Callable[[], Queues | None],
                pools: Callable[[], Iterable[PoolLevel]]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ConveyorCollector(requests, builtin, queues, pools))
    return registry


class ConveyorCollector(Collector):
    """What one scrape reports (prometheus_client calls `collect` once per scrape)."""

    def __init__(self, requests: Metrics, builtin: BuiltinSeries, queues: Callable[[], Queues | None],
                 pools: Callable[[], Iterable[PoolLevel]]) -> None:
        self.requests = requests
        self.builtin = builtin
        self.queues = queues
        self.pools = pools

    def collect(self) -> Iterator[Metric]:
        yield from self._requests()
        yield from self._builtin()
        yield from self._queue_levels()
        yield from self._pool_levels()

    def _requests(self) -> Iterator[Metric]:
        total = CounterMetricFamily("conveyor_requests", "Requests answered, per service, operation and HTTP "
                                    "status (service 'conveyor': Conveyor's own API).",
                                    labels=["service", "operation", "status"])
        latency = HistogramMetricFamily("conveyor_request_duration_seconds", "Time from a request's arrival "
                                        "to its answer, per service and operation (long polls included).",
                                        labels=["service", "operation"])
        bounds = [*(repr(b) for b in LATENCY_BUCKETS), "+Inf"]
        for (service, operation), stats in sorted(self.requests.operations.items()):
            for status, count in sorted(stats.by_status.items()):
                total.add_metric([service, operation, str(status)], count)
            running, cumulative = 0, []
            for bound, count in zip(bounds, stats.buckets, strict=True):
                running += count
                cumulative.append((bound, float(running)))
            latency.add_metric([service, operation], cumulative, stats.seconds)
        yield total
        yield latency

    def _builtin(self) -> Iterator[Metric]:
        for f in _grouped(self.builtin.counters):
            counter = CounterMetricFamily(f.name, f.doc, labels=f.labels)
            for labels, value in f.members:
                counter.add_metric(labels, value * f.scale)
            yield counter
        for f in _grouped(self.builtin.summaries):
            summary = SummaryMetricFamily(f.name, f.doc, labels=f.labels)
            for labels, (count, total) in f.members:
                summary.add_metric(labels, count_value=count, sum_value=total * f.scale)
            yield summary
        for f in _grouped(self.builtin.gauges):
            gauge = GaugeMetricFamily(f.name, f.doc, labels=f.labels)
            for labels, value in f.members:
                gauge.add_metric(labels, value * f.scale)
            yield gauge

    def _queue_levels(self) -> Iterator[Metric]:
        queues = self.queues()
        if queues is None:
            return
        names = (("visible", "ApproximateNumberOfMessagesVisible", "Messages available for retrieval."),
                 ("inflight", "ApproximateNumberOfMessagesNotVisible", "Messages in flight: received, not "
                  "yet deleted, not yet visible again."),
                 ("delayed", "ApproximateNumberOfMessagesDelayed", "Messages not yet available (delay)."),
                 ("oldest_age", "ApproximateAgeOfOldestMessage", "Age of the oldest message, in seconds."))
        summaries = queues.queue_summaries()
        for field, name, doc in names:
            family = GaugeMetricFamily(metric_name("AWS/SQS", name), f"AWS/SQS {name}: {doc}",
                                       labels=["region", "queue_name"])
            for q in summaries:
                family.add_metric([q["region"], q["name"]], float(q[field]))
            yield family

    def _pool_levels(self) -> Iterator[Metric]:
        backlog = GaugeMetricFamily("conveyor_pools_backlog_per_worker", "Conveyor/Pools BacklogPerWorker: "
                                    "visible messages of the pool's queue per in-service worker (what its "
                                    "scaling tracks).", labels=["region", "pool_name"])
        in_service = GaugeMetricFamily("conveyor_pools_in_service_workers", "Conveyor/Pools InServiceWorkers.",
                                       labels=["region", "pool_name"])
        desired = GaugeMetricFamily("conveyor_pools_desired_workers", "A pool's desired capacity.",
                                    labels=["region", "pool_name"])
        for pool in self.pools():
            labels = [pool.region, pool.name]
            if pool.backlog is not None:
                backlog.add_metric(labels, pool.backlog / max(1, pool.in_service))
            in_service.add_metric(labels, pool.in_service)
            desired.add_metric(labels, pool.desired)
        yield from (backlog, in_service, desired)


@dataclass
class _Family:
    """One (namespace, name) of the built-in series: its label names are the union of its dimensions."""

    name: str
    doc: str
    labels: list[str]
    scale: float
    members: list[tuple[list[str], Any]]


def _grouped(values: Mapping[Series, Any]) -> Iterator[_Family]:
    grouped: dict[tuple[str, str, str], list[tuple[Series, Any]]] = {}
    for series, value in values.items():
        grouped.setdefault(series[:3], []).append((series, value))
    for (namespace, name, unit), members in sorted(grouped.items()):
        suffix, scale = UNIT_SUFFIX.get(unit, ("", 1.0))
        dim_names = sorted({d for series, _ in members for d, _ in series[4]})
        rows = []
        for (_, _, _, region, dims), value in sorted(members, key=lambda m: (m[0][3], m[0][4])):
            given = dict(dims)
            rows.append(([region, *(given.get(d, "") for d in dim_names)], value))
        yield _Family(metric_name(namespace, name) + suffix,
                      f"{namespace} {name} ({unit}), as Conveyor publishes it to CloudWatch.",
                      ["region", *(snake(d) for d in dim_names)], scale, rows)
