"""Object bodies as files: streamed to a temporary name, hashed on the way, fsynced, renamed.

Blob ids are random (32 hex digits) and sharded in two directory levels; an object key never becomes a
path, so `../../etc/passwd` is just a key. A write cut off midway removes its temporary file, and
stale temporaries from a crash are removed at start.

Small bodies (up to INLINE_MAX) may instead come back in memory (`BlobInfo.data`), for the caller to
store inside the same SQLite transaction as the object's metadata: one group-committed fsync instead of
a file fsync, a directory fsync and a commit, and no thread hop to read them back (SQLite reads small
blobs faster than the file system opens files: https://www.sqlite.org/fasterthanfs.html).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from io import BufferedReader
from pathlib import Path

from conveyor import ids
from conveyor.services.s3 import checksums
from conveyor.storage.disk import DiskFull, DiskGuard, is_disk_full

FLUSH_BYTES = 1 << 20
READ_BYTES = 256 * 1024
INLINE_MAX = 64 * 1024


@dataclass
class BlobInfo:
    blob_id: str
    size: int
    md5: bytes
    checksums: dict[str, str] = field(default_factory=dict)  # algorithm -> base64
    data: bytes | None = None  # the body itself when it was kept in memory (blob_id is then "")


def _hashers(algorithms: Iterable[str]) -> dict[str, checksums.Hasher]:
    """A running hash per requested checksum algorithm Conveyor knows, by upper-case name."""
    sums: dict[str, checksums.Hasher] = {}
    for algo in algorithms:
        h = checksums.new(algo)
        if h is not None:
            sums[algo.upper()] = h
    return sums


class _Writer:
    """Runs in a worker thread: hash + write one batch of received chunks at a time.

    Each chunk is hashed and written as it came off the socket (no joining into one buffer: that would
    be a copy of every byte), hashed first while it is still in the CPU's cache. hashlib and awscrt
    release the GIL for buffers this size, so the event loop goes on reading the socket meanwhile."""

    def __init__(self, path: Path, algorithms: Iterable[str]) -> None:
        self.path = path
        self.file = open(path, "wb", buffering=0)  # noqa: SIM115 - closed in finish/abort
        self.md5 = hashlib.md5()
        self.sums = _hashers(algorithms)
        self.size = 0

    def write(self, parts: list[bytes]) -> None:
        for data in parts:
            self.md5.update(data)
            for h in self.sums.values():
                h.update(data)
            view = memoryview(data)
            while view:  # a raw file may take fewer bytes than offered
                view = view[self.file.write(view) or 0:]
            self.size += len(data)

    def finish(self) -> None:
        os.fsync(self.file.fileno())
        self.file.close()

    def abort(self) -> None:
        try:
            self.file.close()
        finally:
            self.path.unlink(missing_ok=True)


def _append(writer: _Writer | None, tmp: Path, algorithms: Iterable[str], parts: list[bytes]) -> _Writer:
    """In a worker thread: open the temporary file on first use, then append; no leftovers on failure."""
    if writer is None:
        writer = _Writer(tmp, algorithms)
    try:
        writer.write(parts)
    except BaseException:
        writer.abort()
        raise
    return writer


def _open_read(path: Path, start: int, n: int) -> tuple[BufferedReader, bytes]:
    f = open(path, "rb")  # noqa: SIM115 - closed by the caller
    try:
        if start:
            f.seek(start)
        return f, f.read(n)
    except BaseException:
        f.close()
        raise


class BlobStore:
    def __init__(self, root: Path, disk: DiskGuard | None = None) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.disk = disk

    def open(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.tmp.exists():
            shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    def wipe(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.open()

    def path(self, blob_id: str) -> Path:
        return self.root / blob_id[:2] / blob_id[2:4] / blob_id

    async def write(self, chunks: AsyncIterator[bytes], algorithms: Iterable[str] = (),
                    limit: int | None = None, inline: bool = False) -> BlobInfo:
        """Stream `chunks` into a new durable blob; on any failure nothing is left behind.

        Hashing and writing run in a worker thread one FLUSH_BYTES batch behind the socket: while the
        thread hashes and writes a batch, the event loop gathers the next one (at most one batch in
        flight, so memory stays bounded and the file is written in order). A large PUT then runs at the
        pace of the slower of receiving and hashing + writing, not of their sum.
        A body under FLUSH_BYTES goes from open to rename in one thread hop: each hop waits for a pool
        thread and then for the event loop to wake, which dominates the latency of small objects.
        With `inline`, a body of at most INLINE_MAX bytes is returned in memory instead of written.
        """
        if self.disk is not None:
            self.disk.check_room()
        blob_id = ids.token_hex(16)
        tmp = Path(self.tmp, f"{blob_id}.part")
        writer: _Writer | None = None
        flushing: asyncio.Future[_Writer] | None = None  # the batch the worker thread is on
        written = 0
        parts: list[bytes] = []
        gathered = 0
        try:
            async for chunk in chunks:
                parts.append(chunk)
                gathered += len(chunk)
                if limit is not None and written + gathered > limit:
                    from conveyor.wire import ServiceError

                    raise ServiceError("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", 400)
                if gathered >= FLUSH_BYTES:
                    if flushing is not None:
                        writer = await asyncio.shield(flushing)
                        flushing = None
                    flushing = asyncio.ensure_future(asyncio.to_thread(_append, writer, tmp, algorithms, parts))
                    written += gathered
                    parts, gathered = [], 0
            if flushing is not None:
                writer = await asyncio.shield(flushing)
                flushing = None
            if inline and writer is None and gathered <= INLINE_MAX:
                return self.in_memory(b"".join(parts), algorithms)
            writer = await asyncio.to_thread(self._complete, writer, tmp, algorithms, parts, blob_id)
        except BaseException as exc:
            if flushing is not None:
                # Let the batch in flight end before removing its file (a failed batch removed it itself).
                with contextlib.suppress(BaseException):
                    writer = await asyncio.shield(flushing)
            if writer is not None:
                await asyncio.shield(asyncio.to_thread(writer.abort))
            if isinstance(exc, OSError) and is_disk_full(exc):
                if self.disk is not None:
                    self.disk.ran_out()
                raise DiskFull(str(exc)) from exc
            raise
        sums = {algo: checksums.b64(h.digest()) for algo, h in writer.sums.items()}
        return BlobInfo(blob_id, writer.size, writer.md5.digest(), sums)

    @staticmethod
    def in_memory(data: bytes, algorithms: Iterable[str] = ()) -> BlobInfo:
        sums = _hashers(algorithms)
        for h in sums.values():
            h.update(data)
        return BlobInfo("", len(data), hashlib.md5(data).digest(),
                        {algo: checksums.b64(h.digest()) for algo, h in sums.items()}, data)

    def _complete(self, writer: _Writer | None, tmp: Path, algorithms: Iterable[str], tail: list[bytes],
                  blob_id: str) -> _Writer:
        """In a worker thread: the last bytes, fsync, rename; aborts (removes the file) on failure."""
        writer = _append(writer, tmp, algorithms, tail)
        try:
            writer.finish()
            self._publish(tmp, blob_id)
        except BaseException:
            writer.abort()
            raise
        return writer

    def _publish(self, tmp: Path, blob_id: str) -> None:
        final = self.path(blob_id)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    async def concat(self, blob_ids: list[str], algorithms: Iterable[str] = ()) -> BlobInfo:
        """A new blob holding the given blobs end to end (completing a multipart upload)."""
        paths = [self.path(b) for b in blob_ids]

        async def chunks() -> AsyncIterator[bytes]:
            for p in paths:
                f = await asyncio.to_thread(open, p, "rb")
                try:
                    while True:
                        data = await asyncio.to_thread(f.read, FLUSH_BYTES)
                        if not data:
                            break
                        yield data
                finally:
                    f.close()

        return await self.write(chunks(), algorithms)

    async def copy(self, blob_id: str, start: int = 0, end: int | None = None,
                   algorithms: Iterable[str] = ()) -> BlobInfo:
        return await self.write(self.read(blob_id, start, end), algorithms)

    async def read(self, blob_id: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Bytes [start, end] (inclusive end, None = to the end) of a blob.

        The first buffer is small and comes with the open in one thread hop (most objects are a single
        buffer); after it, buffers of FLUSH_BYTES are read one ahead in a worker thread while the event
        loop sends the previous one, so a large GET overlaps reading the file with writing the socket.
        """
        remaining = None if end is None else end - start + 1
        n = READ_BYTES if remaining is None else min(READ_BYTES, remaining)
        f, data = await asyncio.to_thread(_open_read, self.path(blob_id), start, n)
        ahead: asyncio.Future[bytes] | None = None
        try:
            while data:
                if remaining is not None:
                    remaining -= len(data)
                if len(data) < n or remaining == 0:
                    yield data
                    break  # a short read of a regular file is its end
                n = FLUSH_BYTES if remaining is None else min(FLUSH_BYTES, remaining)
                ahead = asyncio.ensure_future(asyncio.to_thread(f.read, n))
                yield data
                data = await asyncio.shield(ahead)
                ahead = None
        finally:
            if ahead is not None:
                # The consumer stopped early (a client gone): the file closes once the read ends.
                with contextlib.suppress(BaseException):
                    await asyncio.shield(ahead)
            f.close()

    def delete(self, blob_ids: Iterable[str]) -> None:
        for blob_id in blob_ids:
            if blob_id:
                self.path(blob_id).unlink(missing_ok=True)

    def all_ids(self) -> set[str]:
        found: set[str] = set()
        for first in self.root.iterdir():
            if first.name == "tmp" or not first.is_dir():
                continue
            for second in first.iterdir():
                found.update(p.name for p in second.iterdir())
        return found
