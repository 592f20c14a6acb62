"""PutMetricData's rules, turning each datum into the point it adds to.

https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html
Up to 1,000 data per call; a datum has Value, Values (with Counts), or StatisticValues; timestamps up to
two weeks old and two hours ahead; StorageResolution 1 (high resolution) or 60; the AWS/ namespaces are
AWS's own.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from conveyor.services.cloudwatch import errors
from conveyor.services.cloudwatch.catalog import Datum, dims_key

MAX_DATA = 1000
MAX_VALUES = 150
MAX_DIMENSIONS = 30
MAX_AGE = 14 * 86400
MAX_AHEAD = 2 * 3600


def _finite(value: float, where: str) -> float:
    if math.isnan(value) or math.isinf(value) or abs(value) > 2 ** 360 or (value and abs(value) < 2 ** -260):
        raise errors.invalid_value(f"The value {value} for parameter {where} is invalid.")
    return float(value)


def data_from(params: dict[str, Any], region: str, now: float) -> list[Datum]:
    namespace = params["Namespace"]
    if namespace.startswith("AWS/"):
        raise errors.invalid_value(f"The value {namespace} for parameter Namespace is invalid: namespaces "
                                   "starting with AWS/ are reserved for AWS services.")
    # Optional in the model since EntityMetricData arrived, yet a call must carry data of one kind.
    items = params.get("MetricData")
    if items is None:
        raise errors.missing("The parameter MetricData is required.")
    if len(items) > MAX_DATA:
        raise errors.invalid_value(f"The collection MetricData must not have a size greater than {MAX_DATA}.")
    out = []
    for index, item in enumerate(items, 1):
        where = f"MetricData.member.{index}"
        given = [k for k in ("Value", "StatisticValues", "Values") if item.get(k) is not None]
        if len(given) > 1:
            raise errors.invalid_combination(f"The parameters {where}.{given[0]} and {where}.{given[1]} are mutually "
                                             "exclusive and you have specified both.")
        if not given:
            raise errors.missing(f"At least one of the parameters {where}.Value, {where}.StatisticValues or "
                                 f"{where}.Values must be specified.")
        dims = item.get("Dimensions") or []
        if len(dims) > MAX_DIMENSIONS:
            raise errors.invalid_value(f"The collection {where}.Dimensions must not have a size greater than "
                                       f"{MAX_DIMENSIONS}.")
        if len({d["Name"] for d in dims}) != len(dims):
            raise errors.invalid_value(f"No metric may have duplicate dimension names: {where}.Dimensions.")
        stamp = item.get("Timestamp")
        ts = stamp.timestamp() if isinstance(stamp, dt.datetime) else now
        if ts < now - MAX_AGE:
            raise errors.invalid_value(f"The parameter {where}.Timestamp must specify a time no more than two weeks "
                                       "in the past.")
        if ts > now + MAX_AHEAD:
            raise errors.invalid_value(f"The parameter {where}.Timestamp must specify a time no more than two hours "
                                       "in the future.")
        resolution = item.get("StorageResolution") or 60
        if resolution not in (1, 60):
            raise errors.invalid_value(f"The value {resolution} for parameter {where}.StorageResolution is invalid.")
        unit = item.get("Unit") or "None"
        start = int(ts // resolution * resolution)
        key = (region, namespace, item["MetricName"], dims_key(dims))
        if item.get("Value") is not None:
            v = _finite(item["Value"], f"{where}.Value")
            out.append(Datum(key, resolution, start, unit, 1.0, v, v, v, ((v, 1.0),)))
        elif item.get("StatisticValues") is not None:
            s = item["StatisticValues"]
            n, total = _finite(s["SampleCount"], f"{where}.StatisticValues.SampleCount"), s["Sum"]
            low, high = s["Minimum"], s["Maximum"]
            if n <= 0 or low > high:
                raise errors.invalid_value(f"The values for parameter {where}.StatisticValues are invalid.")
            out.append(Datum(key, resolution, start, unit, n, _finite(total, f"{where}.StatisticValues.Sum"),
                             low, high, None))
        else:
            values = [_finite(v, f"{where}.Values") for v in item["Values"]]
            counts = item.get("Counts") or [1.0] * len(values)
            if len(values) > MAX_VALUES:
                raise errors.invalid_value(f"The collection {where}.Values must not have a size greater than "
                                           f"{MAX_VALUES}.")
            if len(counts) != len(values):
                raise errors.invalid_value(f"The parameters {where}.Values and {where}.Counts must be of the same size.")
            if not values:
                continue
            pairs: dict[float, float] = {}
            for v, c in zip(values, counts, strict=True):
                pairs[v] = pairs.get(v, 0.0) + float(c)
            n = sum(pairs.values())
            out.append(Datum(key, resolution, start, unit, n, sum(v * c for v, c in pairs.items()), min(pairs),
                             max(pairs), tuple(pairs.items())))
    return out
