"""Regions taken down by a drill (`conveyor drill region-down REGION`): until restored, every regional API
of that region answers as an outage does — 503 ServiceUnavailable in its own protocol — and its data
planes (load balancers, HTTP APIs) refuse. Nothing is deleted or changed: `region-up` brings the region
back exactly as it was. Global services (IAM, CloudFront, Route 53) keep answering, as their control and
data planes do not live in one region.
"""

from __future__ import annotations

from conveyor.clock import Clock


class RegionOutages:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._down: dict[str, float] = {}  # region -> when it went down (server clock)

    def is_down(self, region: str) -> bool:
        return region in self._down

    def take_down(self, region: str) -> float:
        """Since when the region is down (now, unless it already was)."""
        return self._down.setdefault(region, self.clock.now())

    def restore(self, region: str) -> float | None:
        """When the region had gone down, or None when it was up."""
        return self._down.pop(region, None)

    def snapshot(self) -> dict[str, float]:
        return dict(self._down)
