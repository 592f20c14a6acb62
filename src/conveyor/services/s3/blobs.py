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
import concurrent.futures
import contextlib
import errno
import hashlib
import os
import shutil
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from io import BufferedReader, FileIO
from pathlib import Path
from typing import TypeVar

from conveyor import ids
from conveyor.services.s3 import checksums, lanes
from conveyor.services.s3.lanes import Lane
from conveyor.storage.disk import DiskFull, DiskGuard, is_disk_full

T = TypeVar("T")

FLUSH_BYTES = 1 << 20
READ_BYTES = 256 * 1024
INLINE_MAX = 64 * 1024
# How far (bytes) a lane of a large body may fall behind the socket before the socket waits for it, and
# how far it then catches up: the bound of a large PUT's memory beyond the gateway's own buffer.
BACKLOG_HIGH = 4 << 20
BACKLOG_LOW = 2 << 20
SYNC_EVERY = 16 << 20
COPY_BYTES = 64 << 20  # per copy_file_range call when concatenating parts
# Checksums the CPU computes in hardware, cheaper than a lane's hand-offs: they run in the write lane.
_HARDWARE_CRCS = frozenset({"CRC64NVME", "CRC32C"})


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


class _File:
    """A temporary file, opened on its first batch, and the hashes computed as each batch is written.

    Each chunk is hashed and written as it came off the socket (no joining into one buffer: that would
    be a copy of every byte), hashed first while it is still in the CPU's cache."""

    def __init__(self, path: Path, hashers: Iterable[checksums.Hasher]) -> None:
        self.path = path
        self.hashers = list(hashers)
        self.file: FileIO | None = None
        self.size = 0

    def write(self, parts: list[bytes]) -> None:
        if self.file is None:
            self.file = open(self.path, "wb", buffering=0)  # noqa: SIM115 - closed in finish/abort
        for data in parts:
            for h in self.hashers:
                h.update(data)
            view = memoryview(data)
            while view:  # a raw file may take fewer bytes than offered
                view = view[self.file.write(view) or 0:]
            self.size += len(data)

    def finish(self) -> None:
        """Durable: fsynced and closed (the caller renames it into place)."""
        if self.file is None:
            self.write([])
        assert self.file is not None
        os.fsync(self.file.fileno())
        self.file.close()

    def abort(self) -> None:
        try:
            if self.file is not None:
                self.file.close()
        finally:
            self.path.unlink(missing_ok=True)


# hashlib lets go of the GIL to hash 2048 bytes or more at once. For a small body hashed on the event loop
# that is a loss: another thread (the database writer) takes the GIL meanwhile, and the loop, its hash
# done in microseconds, then waits for it back; in slices under that size the hash keeps the GIL.
_HOLD_SLICE = 2047


def _hold_update(hashers: list[checksums.Hasher], data: bytes) -> None:
    view = memoryview(data)
    for start in range(0, len(view), _HOLD_SLICE):
        piece = view[start:start + _HOLD_SLICE]
        for h in hashers:
            h.update(piece)


def _hash(hashers: list[checksums.Hasher]) -> Callable[[list[bytes]], None]:
    def update(parts: list[bytes]) -> None:
        for data in parts:
            for h in hashers:
                h.update(data)
    return update


class _LargeBody:
    """A body of more than one batch, hashed and written in parallel lanes (conveyor.services.s3.lanes).

    One lane computes MD5, one writes the file and runs the CRCs the CPU computes in hardware (CRC64NVME,
    CRC32C: ~0.02 ms per MiB), and each other checksum asked for (SHA-256, SHA-1, CRC32: 0.3 to 0.5 ms per
    MiB) has a lane of its own."""

    def __init__(self, path: Path, algorithms: Iterable[str]) -> None:
        self.md5 = hashlib.md5()
        self.sums = _hashers(algorithms)
        self.file = _File(path, [h for algo, h in self.sums.items() if algo in _HARDWARE_CRCS])
        self.lanes = [Lane(self.file.write), Lane(_hash([self.md5]))]
        self.lanes += [Lane(_hash([h])) for algo, h in self.sums.items() if algo not in _HARDWARE_CRCS]
        # Writing back what is written while the rest arrives: the final fsync then has only the last
        # few MiB to write, not the whole body (the kernel would start on its own only at gigabytes).
        self.syncs = Lane(self._sync_written)
        self.lanes.append(self.syncs)
        self.pushed = 0

    def push(self, parts: list[bytes], size: int) -> None:
        for lane in self.lanes:
            if lane is not self.syncs:
                lane.push(parts, size)
        self.pushed += size
        if self.pushed >= SYNC_EVERY and self.syncs.idle:
            self.pushed = 0
            self.syncs.push([], 0)

    def _sync_written(self, _: list[bytes]) -> None:
        file = self.file.file
        if file is not None:
            os.fdatasync(file.fileno())

    async def keep_up(self) -> None:
        """Wait while a lane is more than BACKLOG_HIGH bytes behind the socket (bounded memory)."""
        for lane in self.lanes:
            if lane.backlog > BACKLOG_HIGH:
                await lane.below(BACKLOG_LOW)

    async def drained(self) -> None:
        for lane in self.lanes:
            await lane.drained()

    async def abort(self) -> None:
        """Drop what is queued, let the batches running end, then remove the file."""
        for lane in self.lanes:
            lane.cancel()
        for lane in self.lanes:
            await lane.below(0)
        await asyncio.to_thread(self.file.abort)


def _open_read(path: Path, start: int, n: int) -> tuple[BufferedReader, bytes]:
    f = open(path, "rb")  # noqa: SIM115 - closed by the caller
    try:
        if start:
            f.seek(start)
        return f, f.read(n)
    except BaseException:
        f.close()
        raise


def _copy_all(src: int, out: int) -> None:
    """Append all of file `src` to file `out`: in the kernel where it can (copy_file_range, Linux), else
    through a buffer."""
    copy_range = getattr(os, "copy_file_range", None)
    while copy_range is not None:
        try:
            if not copy_range(src, out, COPY_BYTES):
                return
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ETXTBSY):
                raise
            break  # (this file system, or this pair of files, cannot: from where it got to, by hand)
    while data := os.read(src, FLUSH_BYTES):
        view = memoryview(data)
        while view:
            view = view[os.write(out, view):]


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

    def _temporary(self, blob_id: str) -> Path:
        return Path(self.tmp, f"{blob_id}.part")

    def path(self, blob_id: str) -> Path:
        return self.root / blob_id[:2] / blob_id[2:4] / blob_id

    async def write(self, chunks: AsyncIterator[bytes], algorithms: Iterable[str] = (),
                    limit: int | None = None, inline: bool = False) -> BlobInfo:
        """Stream `chunks` into a new durable blob; on any failure nothing is left behind.

        A body under FLUSH_BYTES goes from open to rename in one thread hop: each hop waits for a pool
        thread and then for the event loop to wake, which dominates the latency of small objects.
        A larger one is handed over in batches of about FLUSH_BYTES to lanes that hash and write it in
        parallel while the event loop reads the socket (_LargeBody); the loop waits only when a lane is
        BACKLOG_HIGH bytes behind, so memory stays bounded and a large PUT runs at the pace of its
        slowest lane.
        With `inline`, a body of at most INLINE_MAX bytes is returned in memory instead of written.
        """
        if self.disk is not None:
            self.disk.check_room()
        blob_id = ""  # (named once the body is known not to stay in memory: most small ones do)
        body: _LargeBody | None = None
        sealing: asyncio.Future[None] | None = None
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
                    if body is None:
                        blob_id = ids.token_hex(16)
                        body = _LargeBody(self._temporary(blob_id), algorithms)
                    body.push(parts, gathered)
                    written += gathered
                    parts, gathered = [], 0
                    await body.keep_up()
            if body is None:
                if inline and gathered <= INLINE_MAX:
                    return self.in_memory(b"".join(parts), algorithms)
                blob_id = ids.token_hex(16)
                return await asyncio.to_thread(self._write_whole, self._temporary(blob_id), algorithms, parts,
                                               blob_id)
            if parts:
                body.push(parts, gathered)
                written += gathered
            await body.drained()
            sealing = asyncio.get_running_loop().run_in_executor(lanes.pool(), self._seal, body.file, blob_id)
            await self._settled(sealing, blob_id)  # (from here the seal removes the file itself if it fails)
        except BaseException as exc:
            if body is not None and sealing is None:
                with contextlib.suppress(BaseException):
                    await asyncio.shield(body.abort())
            if isinstance(exc, OSError) and is_disk_full(exc):
                if self.disk is not None:
                    self.disk.ran_out()
                raise DiskFull(str(exc)) from exc
            raise
        sums = {algo: checksums.b64(h.digest()) for algo, h in body.sums.items()}
        return BlobInfo(blob_id, written, body.md5.digest(), sums)

    def kept_in_memory(self, data: bytes, algorithms: Iterable[str] = ()) -> BlobInfo:
        """A body of at most INLINE_MAX bytes that has arrived whole, kept in memory (as `write` with `inline`
        keeps one) once the disk has room for the row that will hold it."""
        if self.disk is not None:
            self.disk.check_room()
        return self.in_memory(data, algorithms)

    @staticmethod
    def in_memory(data: bytes, algorithms: Iterable[str] = ()) -> BlobInfo:
        """A body kept in memory, hashed on the event loop without letting go of the GIL (_hold_update)."""
        md5 = hashlib.md5()
        sums = _hashers(algorithms)
        _hold_update([md5, *sums.values()], data)
        return BlobInfo("", len(data), md5.digest(), {algo: checksums.b64(h.digest()) for algo, h in sums.items()},
                        data)

    def _write_whole(self, tmp: Path, algorithms: Iterable[str], parts: list[bytes], blob_id: str) -> BlobInfo:
        """In a worker thread: a small body hashed, written, fsynced and renamed; nothing left on failure."""
        md5 = hashlib.md5()
        sums = _hashers(algorithms)
        file = _File(tmp, [md5, *sums.values()])
        try:
            file.write(parts)
        except BaseException:
            file.abort()
            raise
        self._seal(file, blob_id)
        return BlobInfo(blob_id, file.size, md5.digest(), {algo: checksums.b64(h.digest()) for algo, h in sums.items()})

    def _seal(self, file: _File, blob_id: str) -> None:
        """In a worker thread: fsync, close, rename into place; removes the file on failure."""
        try:
            file.finish()
            self._publish(file.path, blob_id)
        except BaseException:
            file.abort()
            raise

    def _publish(self, tmp: Path, blob_id: str) -> None:
        final = self.path(blob_id)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    async def concat(self, blob_ids: list[str]) -> BlobInfo:
        """A new blob holding the given blobs end to end (completing a multipart upload), copied by the
        kernel where it can (copy_file_range: no trip of the bytes through Python) and not hashed: a
        multipart object's ETag and checksums are computed from its parts' (BlobInfo.md5 is empty)."""
        if self.disk is not None:
            self.disk.check_room()
        blob_id = ids.token_hex(16)
        sources = [self.path(b) for b in blob_ids]
        job = asyncio.ensure_future(asyncio.to_thread(self._concat_files, sources, self._temporary(blob_id), blob_id))
        try:
            size = await self._settled(job, blob_id)
        except OSError as exc:
            if is_disk_full(exc):
                if self.disk is not None:
                    self.disk.ran_out()
                raise DiskFull(str(exc)) from exc
            raise
        return BlobInfo(blob_id, size, b"")

    async def _settled(self, job: asyncio.Future[T], blob_id: str) -> T:
        """The result of `job`, a worker thread's work that ends with `blob_id` in place. A caller gone
        meanwhile (a client disconnected) cannot stop the thread: the blob is deleted once it is there,
        since nothing will name it."""
        try:
            return await asyncio.shield(job)
        except asyncio.CancelledError:
            def forget(done: asyncio.Future[T]) -> None:
                if not done.cancelled() and done.exception() is None:
                    self.delete([blob_id])

            job.add_done_callback(forget)
            raise

    def _concat_files(self, sources: list[Path], tmp: Path, blob_id: str) -> int:
        """In a worker thread: the sources end to end in `tmp`, fsynced and renamed to `blob_id`."""
        file = _File(tmp, [])
        syncing: Future[None] | None = None  # written back while the next parts are copied (as _LargeBody)
        try:
            file.write([])  # (opened)
            assert file.file is not None
            out = file.file.fileno()
            unsynced = 0
            for source in sources:
                with open(source, "rb") as src:
                    _copy_all(src.fileno(), out)
                    unsynced += os.fstat(src.fileno()).st_size
                if unsynced >= SYNC_EVERY and (syncing is None or syncing.done()):
                    syncing, unsynced = lanes.pool().submit(os.fdatasync, out), 0
            file.size = os.fstat(out).st_size
            if syncing is not None:
                syncing.result()
        except BaseException:
            if syncing is not None:
                concurrent.futures.wait([syncing])  # (before the file it works on is closed)
            file.abort()
            raise
        self._seal(file, blob_id)
        return file.size

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
