"""GetMetricData: MetricStat queries and metric math expressions over one time range.

https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html
Every query has an Id (a lower-case letter first) and exactly one of MetricStat and Expression; results
are returned for queries with ReturnData (default true), newest first unless ScanBy says otherwise.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from conveyor.services.cloudwatch import errors
from conveyor.services.cloudwatch.catalog import MetricCatalog, dims_key
from conveyor.services.cloudwatch.math_expr import Evaluator, MathError, Series, Value
from conveyor.services.cloudwatch.series import aligned_start, buckets, check_period
from conveyor.services.cloudwatch.statistics import STATISTICS, check_stat
from conveyor.services.cloudwatch.store import MetricStore

_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")
MAX_QUERIES = 500


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, dt.datetime) else float(value)


class QueryRun:
    """The queries of one GetMetricData call (or one math alarm's evaluation)."""

    def __init__(self, store: MetricStore, catalog: MetricCatalog, region: str, queries: list[dict[str, Any]],
                 start: int, end: int) -> None:
        self.store, self.catalog, self.region = store, catalog, region
        self.queries = {q["Id"]: q for q in queries}
        self.start, self.end = start, end
        periods = [q["MetricStat"]["Period"] for q in queries if q.get("MetricStat")]
        periods += [q["Period"] for q in queries if q.get("Period")]
        self.period = min(periods) if periods else 60
        self.done: dict[str, Value] = {}
        self.busy: set[str] = set()

    def check(self) -> None:
        if len(self.queries) > MAX_QUERIES:
            raise errors.invalid_value(f"The collection MetricDataQueries must not have a size greater than "
                                       f"{MAX_QUERIES}.")
        for query in self.queries.values():
            qid = query["Id"]
            if not _ID.match(qid):
                raise errors.invalid_value(f"The value {qid} for parameter MetricDataQueries.member.Id is invalid: "
                                           "it must start with a lowercase letter, then letters, digits or _.")
            if (query.get("MetricStat") is None) == (query.get("Expression") is None):
                raise errors.invalid_combination(f"The parameter MetricDataQueries.member.{qid} must specify "
                                                 "exactly one of MetricStat or Expression.")
            if query.get("MetricStat") is not None:
                stat = query["MetricStat"]
                check_period(stat["Period"], "MetricDataQueries.member.MetricStat.Period")
                check_stat(stat["Stat"], "MetricDataQueries.member.MetricStat.Stat")

    def value(self, qid: str) -> Value:
        if qid in self.done:
            return self.done[qid]
        if qid in self.busy:
            raise errors.invalid_value(f"Expression {qid} refers to itself (a circular reference).")
        self.busy.add(qid)
        query = self.queries[qid]
        if query.get("MetricStat") is not None:
            result: Value = self._stat(query["MetricStat"])
        else:
            try:  # (the constructor tokenizes: a character no expression has fails there)
                evaluator = Evaluator(query["Expression"], self.value, list(self.queries), self.grid(), self.period)
                result = evaluator.evaluate()
            except MathError as exc:
                raise errors.invalid_value(f"Error in expression {qid}: {exc}")
        self.busy.discard(qid)
        self.done[qid] = result
        return result

    def grid(self) -> range:
        return range(self.start, self.end, self.period)

    def _stat(self, stat: dict[str, Any]) -> Series:
        metric_doc = stat["Metric"]
        metric = self.catalog.find(self.region, metric_doc.get("Namespace", ""), metric_doc.get("MetricName", ""),
                                   dims_key(metric_doc.get("Dimensions")))
        name, period = stat["Stat"], stat["Period"]
        found = buckets(self.store, [metric] if metric else [], self.start, self.end, period, stat.get("Unit"),
                        name not in STATISTICS)
        return {ts: v for ts, bucket in found.items() if (v := bucket.stat(name)) is not None}

    def series(self, qid: str) -> Series:
        value = self.value(qid)
        if isinstance(value, float):
            return {ts: value for ts in self.grid()}
        if isinstance(value, list):
            merged: Series = {}
            for s in value:
                merged.update(s)
            return merged
        return value


def get_metric_data(store: MetricStore, catalog: MetricCatalog, region: str, params: dict[str, Any],
                    now: float) -> dict[str, Any]:
    start_time, end_time = _epoch(params["StartTime"]), _epoch(params["EndTime"])
    if start_time >= end_time:
        raise errors.invalid_value("The parameter StartTime must be less than the parameter EndTime.")
    queries = params["MetricDataQueries"]
    smallest = min((q["MetricStat"]["Period"] for q in queries if q.get("MetricStat")), default=60)
    run = QueryRun(store, catalog, region, queries, aligned_start(start_time, smallest, now), int(end_time))
    run.check()
    descending = (params.get("ScanBy") or "TimestampDescending") == "TimestampDescending"
    limit = params.get("MaxDatapoints") or 100_800
    results = []
    for query in queries:
        if not query.get("ReturnData", True):
            continue
        values = run.series(query["Id"])
        stamps = sorted((ts for ts, v in values.items() if not math.isnan(v)), reverse=descending)[:limit]
        label = query.get("Label") or (query["MetricStat"]["Metric"].get("MetricName") if query.get("MetricStat")
                                       else query["Id"])
        results.append({"Id": query["Id"], "Label": label, "StatusCode": "Complete",
                        "Timestamps": [dt.datetime.fromtimestamp(ts, dt.UTC) for ts in stamps],
                        "Values": [values[ts] for ts in stamps], "Messages": []})
    return {"MetricDataResults": results, "Messages": []}


def alarm_series(store: MetricStore, catalog: MetricCatalog, config: dict[str, Any], start: int, end: int,
                 region: str) -> dict[int, float]:
    """A math alarm's returned series over [start, end)."""
    queries = config["Metrics"]
    run = QueryRun(store, catalog, region, queries, start, end)
    returned = next(q for q in queries if q.get("ReturnData", True))
    return {ts: v for ts, v in run.series(returned["Id"]).items() if not math.isnan(v)}
