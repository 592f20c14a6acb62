"""Statistics over a period: SampleCount, Average, Sum, Minimum, Maximum and percentiles (pNN.NN).

https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Statistics-definitions.html
Percentiles are told from the values each datapoint kept; a period fed by a statistic set has none, as
on AWS (percentiles need raw values). Other extended statistics (trimmed means, IQM...) are refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from conveyor.services.cloudwatch import errors

STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"^[pP](\d{1,2}(?:\.\d{1,10})?|100(?:\.0+)?)$")


def percentile_of(stat: str) -> float | None:
    found = _PERCENTILE.match(stat)
    return float(found.group(1)) if found else None


def check_stat(stat: str, parameter: str) -> None:
    if stat in STATISTICS or percentile_of(stat) is not None:
        return
    raise errors.invalid_value(f"The value {stat} for parameter {parameter} is not supported: Conveyor computes "
                               f"{', '.join(STATISTICS)} and percentiles (p0-p100, e.g. p99.9).")


@dataclass
class Bucket:
    """One period's aggregate."""

    n: float = 0.0
    sum: float = 0.0
    min: float = math.inf
    max: float = -math.inf
    exact: bool = True
    unit: str | None = None
    values: dict[float, float] = field(default_factory=dict)

    def add(self, n: float, total: float, low: float, high: float, exact: bool, unit: str) -> None:
        self.n += n
        self.sum += total
        self.min = min(self.min, low)
        self.max = max(self.max, high)
        self.exact = self.exact and exact
        self.unit = self.unit or unit

    def add_values(self, pairs: Iterable[tuple[float, float]]) -> None:
        for value, count in pairs:
            self.values[value] = self.values.get(value, 0.0) + count

    def stat(self, name: str) -> float | None:
        if name == "SampleCount":
            return self.n
        if name == "Sum":
            return self.sum
        if name == "Average":
            return self.sum / self.n if self.n else None
        if name == "Minimum":
            return self.min
        if name == "Maximum":
            return self.max
        p = percentile_of(name)
        if p is None or not self.exact or not self.values:
            return None
        return percentile(self.values, p)


def percentile(values: dict[float, float], p: float) -> float:
    """Nearest rank: the smallest value with at least p% of the samples at or below it."""
    ordered = sorted(values.items())
    total = sum(count for _, count in ordered)
    wanted = max(p / 100.0 * total, min(1.0, total))
    seen = 0.0
    for value, count in ordered:
        seen += count
        if seen >= wanted - 1e-9:
            return value
    return ordered[-1][0]
