"""Request counts and latencies per service and operation, which the gateway records for every request
(exposed by GET /_conveyor/metrics in Prometheus's format: conveyor.prometheus), and the last errors
(`conveyor status`).

Recording is a dictionary lookup, a bisection and three additions: it runs on every request."""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import deque
from typing import Any

# Upper bounds (seconds) of the latency histogram's buckets: from sub-millisecond queue calls up to the
# 20-second long polls (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html).
LATENCY_BUCKETS: tuple[float, ...] = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                                      2.5, 5.0, 10.0, 20.0, 30.0)


class OperationStats:
    """One operation's requests: counts per HTTP status, and the latency histogram (per bucket, not yet
    cumulative; the last slot counts requests slower than every bound)."""

    __slots__ = ("by_status", "buckets", "seconds")

    def __init__(self) -> None:
        self.by_status: dict[int, int] = {}
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.seconds = 0.0


class Metrics:
    def __init__(self) -> None:
        self.operations: dict[tuple[str, str], OperationStats] = {}
        self.recent_errors: deque[dict[str, Any]] = deque(maxlen=20)

    def error(self, service: str, operation: str, code: str, message: str, status: int) -> None:
        self.recent_errors.append({"time": time.time(), "service": service, "operation": operation,
                                   "code": code, "status": status, "message": message[:200]})

    def record(self, service: str, operation: str, status: int, seconds: float) -> None:
        stats = self.operations.get((service, operation))
        if stats is None:
            stats = self.operations[(service, operation)] = OperationStats()
        stats.by_status[status] = stats.by_status.get(status, 0) + 1
        stats.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        stats.seconds += seconds

    def clear(self) -> None:
        self.operations.clear()
        self.recent_errors.clear()
