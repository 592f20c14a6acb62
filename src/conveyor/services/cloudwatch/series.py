"""Reading datapoints back: a metric's periods between two times, and GetMetricStatistics on them.

https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html
- Period: 1, 5, 10, 20 or 30 seconds (high-resolution data) or a multiple of 60; at most 1,440
  datapoints per call.
- StartTime is rounded down to the whole minute (less than 15 days ago), 5 minutes (15 to 63 days) or
  hour (older); periods start there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from conveyor.services.cloudwatch import errors
from conveyor.services.cloudwatch.catalog import Metric
from conveyor.services.cloudwatch.statistics import Bucket, percentile_of
from conveyor.services.cloudwatch.store import MetricStore

HIGH_RES_PERIODS = (1, 5, 10, 20, 30)
MAX_DATAPOINTS = 1440


def check_period(period: int, parameter: str = "Period") -> None:
    if period in HIGH_RES_PERIODS or (period >= 60 and period % 60 == 0):
        return
    raise errors.invalid_value(f"The parameter {parameter} must be 1, 5, 10, 20, 30, or a multiple of 60.")


def aligned_start(start: float, period: int, now: float) -> int:
    age = now - start
    grain = 60 if age < 15 * 86400 else 300 if age < 63 * 86400 else 3600
    if period < 60:
        grain = period
    return int(start // grain * grain)


def buckets(store: MetricStore, metrics: Sequence[Metric], start: int, end: int, period: int, unit: str | None,
            with_values: bool) -> dict[int, Bucket]:
    """Period start -> the aggregate of every point of `metrics` in it."""
    out: dict[int, Bucket] = {}
    if not metrics or end <= start:
        return out
    ids = [m.id for m in metrics]
    for _, _, ts, point_unit, n, total, low, high, exact in store.points(ids, start, end, unit):
        key = start + (ts - start) // period * period
        out.setdefault(key, Bucket()).add(n, total, low, high, bool(exact), point_unit)
    if with_values:
        for ts, value, count in store.values(ids, start, end, unit):
            bucket = out.get(start + (ts - start) // period * period)
            if bucket is not None:
                bucket.add_values(((value, count),))
    return out


def _epoch(value: dt.datetime | float) -> float:
    return value.timestamp() if isinstance(value, dt.datetime) else float(value)


def get_metric_statistics(store: MetricStore, metric: Metric | None, params: dict[str, Any],
                          now: float) -> dict[str, Any]:
    statistics, extended = params.get("Statistics") or [], params.get("ExtendedStatistics") or []
    if not statistics and not extended:
        raise errors.missing("Must specify either Statistics or ExtendedStatistics.")
    if statistics and extended:
        raise errors.invalid_combination("Must specify either Statistics or ExtendedStatistics, but not both.")
    for stat in extended:
        if percentile_of(stat) is None:
            raise errors.invalid_value(f"The value {stat} for parameter ExtendedStatistics is not supported: Conveyor "
                                       "computes percentiles (p0-p100, e.g. p99.9).")
    period = params["Period"]
    check_period(period)
    start_time, end_time = _epoch(params["StartTime"]), _epoch(params["EndTime"])
    if start_time >= end_time:
        raise errors.invalid_value("The parameter StartTime must be less than the parameter EndTime.")
    start, end = aligned_start(start_time, period, now), int(end_time)
    count = (end - start + period - 1) // period
    if count > MAX_DATAPOINTS:
        raise errors.invalid_combination(
            f"You have requested up to {count:,} datapoints, which exceeds the limit of {MAX_DATAPOINTS:,}. You may "
            "reduce the datapoints requested by increasing Period, or decreasing the time range.")
    unit = params.get("Unit")
    found = buckets(store, [metric] if metric else [], start, end, period, unit, bool(extended))
    datapoints = []
    for ts in sorted(found):
        bucket = found[ts]
        point: dict[str, Any] = {"Timestamp": dt.datetime.fromtimestamp(ts, dt.UTC), "Unit": bucket.unit or "None"}
        for stat in statistics:
            value = bucket.stat(stat)
            if value is not None:
                point[stat] = value
        if extended:
            point["ExtendedStatistics"] = {s: v for s in extended if (v := bucket.stat(s)) is not None}
        datapoints.append(point)
    return {"Label": params["MetricName"], "Datapoints": datapoints}
