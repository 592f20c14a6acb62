"""List pages as SNS hands them out: 100 items, and a token that names the last item returned."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from typing import TypeVar

from conveyor.services.sns.topics import invalid

PAGE = 100
T = TypeVar("T")


def page(items: Iterable[T], token: str | None, key: Callable[[T], str],
         size: int = PAGE) -> tuple[list[T], str | None]:
    """Pages of `size` items; the token is the key of the last item returned (stable under deletes)."""
    ordered = sorted(items, key=key)
    if token:
        try:
            after = base64.urlsafe_b64decode(token.encode()).decode()
        except (ValueError, UnicodeDecodeError):
            raise invalid("NextToken")
        ordered = [i for i in ordered if key(i) > after]
    chunk = ordered[:size]
    more = len(ordered) > size
    return chunk, base64.urlsafe_b64encode(key(chunk[-1]).encode()).decode() if more else None
