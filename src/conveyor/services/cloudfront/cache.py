"""The edge's cache: what it answered from the origin, kept in memory (small objects) or on disk (larger
ones), each tier within its byte bound, the least recently used entry evicted first.

A cache is no durable state (an edge location's cache starts empty, and any entry may be evicted at any
time), so the disk tier is a scratch directory emptied on start. Entries are keyed by distribution and
cache key (the path, and the query string or headers the cache policy puts in the key); invalidation
purges by path, exact or a prefix ending in `*`.
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Invalidation.html
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from conveyor import ids

CHUNK = 256 * 1024
# The largest object kept in memory: larger ones go to the disk tier.
MEMORY_OBJECT_LIMIT = 8 * 1024 * 1024


@dataclass(frozen=True)
class CacheKey:
    distribution_id: str
    path: str  # percent-decoded, as invalidation paths name it: "/processed/a b.png"
    variant: str = ""  # the query string and headers the cache policy keys on


@dataclass
class Entry:
    """One cached answer of the origin: an object (200) or an error (403, 404...)."""

    status: int
    headers: list[tuple[str, str]]  # the origin's, as the viewer gets them (ETag, Content-Type...)
    size: int
    stored_at: float
    ttl: float
    etag: str | None = None
    last_modified: float | None = None
    body: bytes | None = None  # in memory
    file: Path | None = None  # on disk
    # Not kept (no TTL, too large, a HEAD): the origin's own reader.
    origin_read: Callable[[int, int], AsyncIterator[bytes]] | None = None

    def fresh(self, now: float) -> bool:
        return now < self.stored_at + self.ttl

    def read(self, start: int, end: int) -> AsyncIterator[bytes]:
        """The bytes from start to end (inclusive)."""
        if self.origin_read is not None:
            return self.origin_read(start, end)
        if self.file is not None:
            return _read_file(self.file, start, end)
        return _one((self.body or b"")[start:end + 1])


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _read_file(path: Path, start: int, end: int) -> AsyncIterator[bytes]:
    try:
        handle = await asyncio.to_thread(open, path, "rb")
    except FileNotFoundError:
        return  # evicted while it was being read: the connection ends short, as a torn transfer would
    try:
        await asyncio.to_thread(handle.seek, start)
        left = end - start + 1
        while left > 0:
            data = await asyncio.to_thread(handle.read, min(CHUNK, left))
            if not data:
                return
            left -= len(data)
            yield data
    finally:
        handle.close()


def matches(path: str, pattern: str) -> bool:
    """Whether an invalidation path names a cached path: the same path, or a prefix ending in `*`."""
    pattern = unquote(pattern)
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    return path == pattern


class EdgeCache:
    def __init__(self, directory: Path, memory_bytes: int, disk_bytes: int) -> None:
        self.directory = directory
        self.memory_bytes = memory_bytes
        self.disk_bytes = disk_bytes
        self.memory_object_limit = min(MEMORY_OBJECT_LIMIT, memory_bytes // 4)
        self._entries: OrderedDict[CacheKey, Entry] = OrderedDict()
        self._memory_used = 0
        self._disk_used = 0

    def open(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True, exist_ok=True)

    def usage(self) -> dict[str, int]:
        return {"cached_objects": len(self._entries), "cache_memory_bytes": self._memory_used,
                "cache_disk_bytes": self._disk_used}

    # -- lookups -------------------------------------------------------------------------------------
    def get(self, key: CacheKey) -> Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def cacheable(self, size: int) -> bool:
        """Whether an object of `size` bytes fits a tier at all (else it is served through, uncached)."""
        return size <= self.memory_object_limit or size <= self.disk_bytes // 2

    # -- storing ---------------------------------------------------------------------------------------
    def put(self, key: CacheKey, entry: Entry) -> None:
        self._drop(key)
        if entry.file is not None:
            self._disk_used += entry.size
            self._evict_disk()
        else:
            self._memory_used += entry.size
            self._evict_memory()
        self._entries[key] = entry

    async def fill(self, key: CacheKey, entry: Entry, chunks: AsyncIterator[bytes]) -> Entry:
        """Store the object whose bytes `chunks` yields: in memory if small, else in a file. Returns the
        entry as stored; an origin that yields other than `entry.size` bytes is not cached."""
        if entry.size <= self.memory_object_limit:
            body = b"".join([chunk async for chunk in chunks])
            if len(body) != entry.size:
                raise OSError(f"the origin sent {len(body)} bytes of {entry.size}")
            entry.body = body
        else:
            entry.file = await self._write(chunks, entry.size)
        self.put(key, entry)
        return entry

    async def _write(self, chunks: AsyncIterator[bytes], size: int) -> Path:
        path = self.directory / ids.token_hex(16)
        handle = await asyncio.to_thread(open, path, "wb")
        written = 0
        try:
            async for chunk in chunks:
                await asyncio.to_thread(handle.write, chunk)
                written += len(chunk)
        except BaseException:
            handle.close()
            path.unlink(missing_ok=True)
            raise
        handle.close()
        if written != size:
            path.unlink(missing_ok=True)
            raise OSError(f"the origin sent {written} bytes of {size}")
        return path

    def refresh(self, key: CacheKey, now: float, ttl: float) -> None:
        """The origin still has what is cached (same ETag): keep it for another TTL."""
        entry = self._entries.get(key)
        if entry is not None:
            entry.stored_at, entry.ttl = now, ttl

    # -- forgetting ------------------------------------------------------------------------------------
    def _drop(self, key: CacheKey) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        if entry.file is not None:
            self._disk_used -= entry.size
            _unlink(entry.file)
        else:
            self._memory_used -= entry.size

    def _evict_memory(self) -> None:
        for key in [k for k, e in self._entries.items() if e.file is None]:
            if self._memory_used <= self.memory_bytes:
                return
            self._drop(key)

    def _evict_disk(self) -> None:
        for key in [k for k, e in self._entries.items() if e.file is not None]:
            if self._disk_used <= self.disk_bytes:
                return
            self._drop(key)

    def purge(self, distribution_id: str, paths: Sequence[str]) -> int:
        """Invalidate: drop the distribution's entries the paths name; returns how many."""
        gone = [key for key in self._entries if key.distribution_id == distribution_id
                and any(matches(key.path, pattern) for pattern in paths)]
        for key in gone:
            self._drop(key)
        return len(gone)

    def purge_distribution(self, distribution_id: str) -> None:
        self.purge(distribution_id, ["/*"])

    def clear(self) -> None:
        for key in list(self._entries):
            self._drop(key)


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
