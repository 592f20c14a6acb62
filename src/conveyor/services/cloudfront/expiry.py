"""How long the edge keeps an object: the cache behavior's TTLs (its cache policy's, or its own legacy
ones) with the origin's Cache-Control and Expires.
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Expiration.html

- `s-maxage` (else `max-age`) from the origin, held between MinTTL and MaxTTL;
- else `Expires`, held the same way;
- else DefaultTTL;
- `no-cache`, `no-store` or `private` from the origin: not cached, unless MinTTL is more than 0 (then MinTTL).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class Ttls:
    minimum: float
    default: float
    maximum: float


def directives(cache_control: str | None) -> dict[str, str]:
    """Cache-Control's directives, lower-cased (`max-age=60, public` -> {"max-age": "60", "public": ""})."""
    out: dict[str, str] = {}
    for part in (cache_control or "").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            out[name.strip().lower()] = value.strip().strip('"')
    return out


def time_to_live(ttls: Ttls, cache_control: str | None, expires: str | None, now: float) -> float:
    """Seconds the edge keeps the object (0: it is not cached)."""
    found = directives(cache_control)
    if {"no-cache", "no-store", "private"} & found.keys():
        return ttls.minimum
    for name in ("s-maxage", "max-age"):
        if name in found:
            try:
                return _clamp(float(int(found[name])), ttls)
            except ValueError:
                break
    if expires:
        try:
            return _clamp(parsedate_to_datetime(expires).timestamp() - now, ttls)
        except (TypeError, ValueError):
            return _clamp(0.0, ttls)  # an Expires that is no date is in the past (RFC 9111, 5.3)
    return ttls.default


def _clamp(seconds: float, ttls: Ttls) -> float:
    return min(max(seconds, ttls.minimum), ttls.maximum)
