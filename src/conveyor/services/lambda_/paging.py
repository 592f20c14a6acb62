"""Lambda's Marker/MaxItems pagination (ListFunctions, ListAliases, ListEventSourceMappings...): the
marker is the identifier of the last item of the page before, NextMarker is present while more remain.
https://docs.aws.amazon.com/lambda/latest/api/API_ListFunctions.html
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conveyor.services.lambda_.functions import invalid

DEFAULT_PAGE = 50


def page(items: list[dict[str, Any]], marker: str | None, max_items: int | None, key: str,
         ident: Callable[[dict[str, Any]], str]) -> dict[str, Any]:
    """`{key: [items of the page]}`, with NextMarker when the page is not the last."""
    start = 0
    if marker:
        ids = [ident(i) for i in items]
        if marker not in ids:
            raise invalid(f"Invalid marker: {marker}")
        start = ids.index(marker) + 1
    size = max_items or DEFAULT_PAGE
    chosen = items[start:start + size]
    out: dict[str, Any] = {key: chosen}
    if start + size < len(items):
        out["NextMarker"] = ident(chosen[-1])
    return out
