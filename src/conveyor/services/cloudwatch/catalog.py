"""Metrics (namespace, name, dimensions, per region) and storing their datapoints.

A metric exists once data is put to it; ListMetrics lists it for two weeks after its last datum.
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from conveyor.services.cloudwatch.store import MetricStore, PointRow

Dimensions = tuple[tuple[str, str], ...]
MetricKey = tuple[str, str, str, Dimensions]  # region, namespace, name, dimensions (sorted)
LISTED_FOR = 14 * 86400


@dataclass
class Metric:
    id: int
    region: str
    namespace: str
    name: str
    dimensions: Dimensions
    last_put: float

    def describe(self) -> dict[str, object]:
        return {"Namespace": self.namespace, "MetricName": self.name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in self.dimensions]}


def dims_key(dimensions: Sequence[dict[str, str]] | None) -> Dimensions:
    return tuple(sorted((d["Name"], d["Value"]) for d in dimensions or ()))


@dataclass(frozen=True)
class Datum:
    """One datum (or one minute of a built-in metric), resolved to its metric and period."""

    key: MetricKey
    res: int
    ts: int
    unit: str
    n: float
    sum: float
    min: float
    max: float
    values: tuple[tuple[float, float], ...] | None


class MetricCatalog:
    def __init__(self, store: MetricStore) -> None:
        self.store = store
        self.metrics: dict[MetricKey, Metric] = {}
        self._next_id = 0

    def load(self) -> None:
        for row in self.store.metrics():
            dims = tuple((str(k), str(v)) for k, v in json.loads(row[4]))
            metric = Metric(row[0], row[1], row[2], row[3], dims, row[5])
            self.metrics[(metric.region, metric.namespace, metric.name, dims)] = metric
            self._next_id = max(self._next_id, metric.id)

    def clear(self) -> None:
        self.metrics.clear()

    async def store_data(self, data: Sequence[Datum], now: float) -> None:
        """Store the data in one commit; metrics first seen here are known once it commits."""
        new: dict[MetricKey, Metric] = {}
        points: list[PointRow] = []
        touched: dict[int, float] = {}
        for d in data:
            metric = self.metrics.get(d.key) or new.get(d.key)
            if metric is None:
                self._next_id += 1
                region, namespace, name, dims = d.key
                metric = new[d.key] = Metric(self._next_id, region, namespace, name, dims, now)
            else:
                touched[metric.id] = now
            points.append(PointRow(metric.id, d.res, d.ts, d.unit, d.n, d.sum, d.min, d.max, d.values))
        await self.store.add_points(
            [(m.id, m.region, m.namespace, m.name, json.dumps(m.dimensions), now) for m in new.values()],
            [(when, metric_id) for metric_id, when in touched.items()], points)
        self.metrics.update(new)
        for metric in self.metrics.values():
            if metric.id in touched:
                metric.last_put = max(metric.last_put, now)

    def find(self, region: str, namespace: str, name: str, dimensions: Dimensions) -> Metric | None:
        return self.metrics.get((region, namespace, name, dimensions))

    def listed(self, region: str, now: float, recently: float | None) -> list[Metric]:
        oldest = now - (recently if recently is not None else LISTED_FOR)
        found = [m for m in self.metrics.values() if m.region == region and m.last_put >= oldest]
        return sorted(found, key=lambda m: (m.namespace, m.name, m.dimensions))
