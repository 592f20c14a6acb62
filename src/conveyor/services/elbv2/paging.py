"""Marker-based pages, as ELB's Describe* operations answer them (Marker in, NextMarker out)."""

from __future__ import annotations

import base64
from typing import Any, TypeVar

from conveyor.services.elbv2 import errors

T = TypeVar("T")
DEFAULT_PAGE = 400  # https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeLoadBalancers.html


def page(items: list[T], marker: str | None, size: Any, default: int = DEFAULT_PAGE) -> tuple[list[T], str | None]:
    start = 0
    if marker:
        try:
            start = int(base64.urlsafe_b64decode(marker.encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise errors.validation("The marker is not valid") from None
    count = int(size) if size else default
    chunk = items[start:start + count]
    more = start + count < len(items)
    return chunk, (base64.urlsafe_b64encode(str(start + count).encode()).decode() if more else None)
