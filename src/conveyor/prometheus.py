"""GET /_conveyor/metrics: Prometheus's exposition format, written by the official client library.

Two sources, read when a scraper asks (nothing is computed between scrapes):
- the gateway's request counts and latency histograms per service and operation (conveyor.metrics);
- the built-in CloudWatch series (AWS/SQS, AWS/Lambda, AWS/SNS, AWS/S3, Conveyor/Pools: see
  conveyor.builtin_metrics), through `BuiltinSeries`, which stands in front of CloudWatch's sink and keeps
  running totals besides: counts become counters, durations and sizes summaries (count and sum), and
  point-in-time values gauges. Queue depths and pool backlogs are read live at each scrape instead of
  the minute's sample CloudWatch stores.

Names follow the Prometheus CloudWatch exporter's convention: namespace and metric name in snake case
(`AWS/SQS` `NumberOfMessagesSent` -> `aws_sqs_number_of_messages_sent_total`), dimensions as snake-case
labels (`queue_name`), plus `region`; milliseconds are converted to seconds, the base unit Prometheus
names use (https://prometheus.io/docs/practices/naming/#base-units).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector, CollectorRegistry

from conveyor.metrics import LATENCY_BUCKETS, Metrics
from conveyor.ports import Dimensions, MetricsSink, Queues

# Sampled values that are a level, not a count of events: the last one is the value.
_GAUGES = frozenset({"ConcurrentExecutions"})
# Read live at each scrape (from the queues and the pools), so their minute samples are not kept.
_LIVE = frozenset({"ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible",
                   "ApproximateNumberOfMessagesDelayed", "ApproximateAgeOfOldestMessage", "BacklogPerWorker",
                   "InServiceWorkers"})
_UNIT_SUFFIX = {"Milliseconds": ("_seconds", 0.001), "Seconds": ("_seconds", 1.0), "Bytes": ("_bytes", 1.0)}

Series = tuple[str, str, str, str, Dimensions]  # namespace, name, unit, region, dimensions


def snake(name: str) -> str:
    """`NumberOfMessagesSent` -> `number_of_messages_sent`, `AWS/SQS` -> `aws_sqs`, `4xxErrors` -> `4xx_errors`."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return re.sub(r"[^a-zA-Z0-9]+", "_", spaced).strip("_").lower()


def metric_name(namespace: str, name: str) -> str:
    joined = f"{snake(namespace)}_{snake(name)}"
    return joined if joined[0].isalpha() else f"_{joined}"


class BuiltinSeries:
    """A conveyor.ports.MetricsSink that passes every datapoint on to CloudWatch's sink (when this build
    has CloudWatch) and keeps the running totals Prometheus reads. Each call is a few dictionary updates."""

    def __init__(self, inner: MetricsSink | None) -> None:
        self.inner = inner
        self.counters: dict[Series, float] = {}
        self.summaries: dict[Series, list[float]] = {}  # [count, sum]
        self.gauges: dict[Series, float] = {}

    def tally(self, region: str, namespace: str, name: str, dimensions: Dimensions, amount: float = 1.0,
              unit: str = "Count") -> None:
        if self.inner is not None:
            self.inner.tally(region, namespace, name, dimensions, amount, unit)
        if dimensions and name not in _LIVE:
            key = (namespace, name, unit, region, dimensions)
            self.counters[key] = self.counters.get(key, 0.0) + amount

    def sample(self, region: str, namespace: str, name: str, dimensions: Dimensions, value: float,
               unit: str = "None") -> None:
        if self.inner is not None:
            self.inner.sample(region, namespace, name, dimensions, value, unit)
        # Account-wide datapoints (no dimension) are the sum of the per-resource ones: Prometheus sums.
        if not dimensions or name in _LIVE:
            return
        key = (namespace, name, unit, region, dimensions)
        if name in _GAUGES:
            self.gauges[key] = value
        elif unit == "Count":
            self.counters[key] = self.counters.get(key, 0.0) + value
        else:
            summary = self.summaries.get(key)
            if summary is None:
                self.summaries[key] = [1.0, value]
            else:
                summary[0] += 1
                summary[1] += value

    def clear(self) -> None:
        self.counters.clear()
        self.summaries.clear()
        self.gauges.clear()


@dataclass(frozen=True)
class PoolLevel:
    """A worker pool's figures at scrape time."""

    name: str
    region: str
    backlog: float | None  # visible messages of its queue (None: it has no queue)
    in_service: int
    desired: int


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
        suffix, scale = _UNIT_SUFFIX.get(unit, ("", 1.0))
        dim_names = sorted({d for series, _ in members for d, _ in series[4]})
        rows = []
        for (_, _, _, region, dims), value in sorted(members, key=lambda m: (m[0][3], m[0][4])):
            given = dict(dims)
            rows.append(([region, *(given.get(d, "") for d in dim_names)], value))
        yield _Family(metric_name(namespace, name) + suffix,
                      f"{namespace} {name} ({unit}), as Conveyor publishes it to CloudWatch.",
                      ["region", *(snake(d) for d in dim_names)], scale, rows)


class Exposition:
    """The registry a scrape reads, and its answer in the format the scraper asked for (`Accept`:
    OpenMetrics when asked, else the text format 0.0.4)."""

    def __init__(self, collector: ConveyorCollector) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)

    def render(self, accept: str | None) -> tuple[bytes, str]:
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type
