"""Stage throttling: a token bucket per route (rate = ThrottlingRateLimit requests per second, capacity =
ThrottlingBurstLimit), on the server's clock. A request without a token is answered 429
{"message":"Too Many Requests"}. https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class _Bucket:
    rate: float
    burst: float
    tokens: float
    updated: float


class Throttles:
    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}

    def clear(self) -> None:
        self._buckets.clear()

    def allow(self, api_id: str, stage: dict[str, Any], route_key: str, now: float) -> bool:
        """Whether the stage's throttling for `route_key` lets one more request through now."""
        settings = (stage.get("RouteSettings") or {}).get(route_key) or {}
        default = stage.get("DefaultRouteSettings") or {}
        rate = settings.get("ThrottlingRateLimit", default.get("ThrottlingRateLimit"))
        burst = settings.get("ThrottlingBurstLimit", default.get("ThrottlingBurstLimit"))
        if rate is None and burst is None:
            return True
        rate = float(rate if rate is not None else 10000.0)  # the account's default rate
        burst = float(burst if burst is not None else 5000.0)  # and burst
        key = (api_id, stage["StageName"], route_key)
        bucket = self._buckets.get(key)
        if bucket is None or bucket.rate != rate or bucket.burst != burst:
            bucket = self._buckets[key] = _Bucket(rate, burst, burst, now)
        bucket.tokens = min(bucket.burst, bucket.tokens + (now - bucket.updated) * bucket.rate)
        bucket.updated = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True
