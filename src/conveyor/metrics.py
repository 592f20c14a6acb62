"""Request counters and latencies per service and operation (GET /_conveyor/metrics)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any


class Metrics:
    def __init__(self) -> None:
        self._calls: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0, 0.0])

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
