"""Request counters and latencies per service and operation (GET /_conveyor/metrics)."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from typing import Any


class Metrics:
    def __init__(self) -> None:
        self._calls: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0, 0.0])
        self.recent_errors: deque[dict[str, Any]] = deque(maxlen=20)

    def error(self, service: str, operation: str, code: str, message: str, status: int) -> None:
        self.recent_errors.append({"time": time.time(), "service": service, "operation": operation,
                                   "code": code, "status": status, "message": message[:200]})

    def record(self, service: str, operation: str, status: int, seconds: float) -> None:
        entry = self._calls[(service, operation)]
        entry[0] += 1
        if status >= 400:
            entry[1] += 1
        entry[2] += seconds

    def snapshot(self) -> dict[str, Any]:
        return {
            f"{service}.{operation}": {"calls": int(c), "errors": int(e), "mean_ms": round(t / c * 1000, 3) if c else 0}
            for (service, operation), (c, e, t) in sorted(self._calls.items())
        }

    def clear(self) -> None:
        self._calls.clear()
        self.recent_errors.clear()
