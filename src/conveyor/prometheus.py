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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from conveyor.metrics import Metrics
from conveyor.ports import Dimensions, MetricsSink, Queues

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

# Sampled values that are a level, not a count of events: the last one is the value.
_GAUGES = frozenset({"ConcurrentExecutions"})
# Read live at each scrape (from the queues and the pools), so their minute samples are not kept.
LIVE = frozenset({"ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesNotVisible",
                   "ApproximateNumberOfMessagesDelayed", "ApproximateAgeOfOldestMessage", "BacklogPerWorker",
                   "InServiceWorkers"})
UNIT_SUFFIX = {"Milliseconds": ("_seconds", 0.001), "Seconds": ("_seconds", 1.0), "Bytes": ("_bytes", 1.0)}

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
        if dimensions and name not in LIVE:
            key = (namespace, name, unit, region, dimensions)
            self.counters[key] = self.counters.get(key, 0.0) + amount

    def sample(self, region: str, namespace: str, name: str, dimensions: Dimensions, value: float,
               unit: str = "None") -> None:
        if self.inner is not None:
            self.inner.sample(region, namespace, name, dimensions, value, unit)
        # Account-wide datapoints (no dimension) are the sum of the per-resource ones: Prometheus sums.
        if not dimensions or name in LIVE:
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

    def sample_many(self, region: str, namespace: str, name: str, dimensions: Dimensions, values: Sequence[float],
                    unit: str = "None") -> None:
        """`sample` for each of `values` (a batch's message sizes): one update of the series, not one each."""
        if self.inner is not None:
            self.inner.sample_many(region, namespace, name, dimensions, values, unit)
        if not dimensions or name in LIVE or not values:
            return
        key = (namespace, name, unit, region, dimensions)
        if name in _GAUGES:
            self.gauges[key] = values[-1]
        elif unit == "Count":
            self.counters[key] = self.counters.get(key, 0.0) + sum(values)
        else:
            summary = self.summaries.get(key)
            if summary is None:
                self.summaries[key] = [float(len(values)), float(sum(values))]
            else:
                summary[0] += len(values)
                summary[1] += sum(values)

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


class Exposition:
    """The registry a scrape reads, and its answer in the format the scraper asked for (`Accept`:
    OpenMetrics when asked, else the text format 0.0.4). The client library is imported on the first scrape:
    a server nobody scrapes does not carry its 10 MiB."""

    def __init__(self, requests: Metrics, builtin: BuiltinSeries, queues: Callable[[], Queues | None],
                 pools: Callable[[], Iterable[PoolLevel]]) -> None:
        self.sources = (requests, builtin, queues, pools)
        self._registry: CollectorRegistry | None = None

    def render(self, accept: str | None) -> tuple[bytes, str]:
        from prometheus_client.exposition import choose_encoder

        from conveyor.prometheus_scrape import registry_of

        if self._registry is None:
            self._registry = registry_of(*self.sources)
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self._registry), content_type
