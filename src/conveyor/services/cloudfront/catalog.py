"""What CloudFront holds, in memory as stored: distributions, origin access controls, custom cache
policies and invalidations, each a JSON document. A change is written first (one Batch) and applied to
memory once committed; the edge reads the distributions from here."""

from __future__ import annotations

import string
from typing import Any

from conveyor import ids
from conveyor.services.cloudfront.errors import invalid_argument
from conveyor.services.cloudfront.store import Batch, CloudFrontStore

DISTRIBUTION = "distribution"
ACCESS_CONTROL = "origin-access-control"
CACHE_POLICY = "cache-policy"
INVALIDATION = "invalidation"
_ID_CHARS = string.ascii_uppercase + string.digits


def new_id(prefix: str) -> str:
    """CloudFront's resource ids and ETags: a letter and 13 upper-case letters and digits
    (`EDFDVBD632BHDS`, `I2J0I21PCUYOIK`, `E2QWRUHAPOMQZL`)."""
    n = int(ids.token_hex(10), 16)
    out = []
    for _ in range(13):
        n, digit = divmod(n, len(_ID_CHARS))
        out.append(_ID_CHARS[digit])
    return prefix + "".join(out)


class Catalog:
    def __init__(self, store: CloudFrontStore) -> None:
        self.store = store
        self.distributions: dict[str, dict[str, Any]] = {}
        self.access_controls: dict[str, dict[str, Any]] = {}
        self.cache_policies: dict[str, dict[str, Any]] = {}  # the custom ones (managed: cache_policies.py)
        self.invalidations: dict[str, dict[str, dict[str, Any]]] = {}  # distribution id -> id -> document
        for kind, record_id, doc in store.rows():
            self._apply(kind, record_id, doc)

    def _table(self, kind: str, record_id: str) -> tuple[dict[str, dict[str, Any]], str]:
        if kind == DISTRIBUTION:
            return self.distributions, record_id
        if kind == ACCESS_CONTROL:
            return self.access_controls, record_id
        if kind == CACHE_POLICY:
            return self.cache_policies, record_id
        distribution, _, invalidation = record_id.partition("/")
        return self.invalidations.setdefault(distribution, {}), invalidation

    def _apply(self, kind: str, record_id: str, doc: dict[str, Any] | None) -> None:
        table, key = self._table(kind, record_id)
        if doc is None:
            table.pop(key, None)
        else:
            table[key] = doc

    async def save(self, batch: Batch) -> None:
        """Store the batch, then make memory say the same."""
        await self.store.commit(batch)
        for kind, record_id in batch.removed:
            self._apply(kind, record_id, None)
            if kind == DISTRIBUTION:
                self.invalidations.pop(record_id, None)
        for kind, record_id, doc in batch.written:
            self._apply(kind, record_id, doc)

    def clear(self) -> None:
        self.distributions.clear()
        self.access_controls.clear()
        self.cache_policies.clear()
        self.invalidations.clear()


def page(items: list[dict[str, Any]], key: str, marker: str | None, max_items: str | None,
         limit: int = 100) -> tuple[list[dict[str, Any]], str | None, int]:
    """One page of a CloudFront listing: the items after the one whose `key` is `marker`, at most
    MaxItems (a string on the wire, default 100) of them, the NextMarker when more follow, and the page
    size used."""
    try:
        size = int(max_items) if max_items else limit
    except ValueError:
        raise invalid_argument(f"MaxItems must be a number, not {max_items!r}.")
    size = max(0, min(size, limit))
    start = 0
    if marker:
        start = next((i + 1 for i, item in enumerate(items) if item[key] == marker), len(items))
    chunk = items[start:start + size]
    more = start + size < len(items)
    return chunk, (chunk[-1][key] if more and chunk else None), size
