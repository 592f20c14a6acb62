"""Ordered streams of work on a shared thread pool: how a large body is hashed and written in parallel.

A `Lane` runs the batches pushed to it one at a time, in order, in whichever pool thread is free, and
goes from one batch to the next without a trip through the event loop: the loop only pushes (a lock and,
when the lane was idle, one submit) and waits only when a lane has fallen too far behind (`below`). Each
of a body's lanes works on the same immutable buffers: one computes MD5, one writes the file, others the
costlier checksums, so on two cores a large PUT runs at the pace of its slowest lane (MD5, ~1.2 ms of CPU
per MiB), not of the sum of them. hashlib, awscrt and file writes release the GIL on buffers this size,
so the lanes and the event loop reading the socket really run at once.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor

Batch = list[bytes]

# Threads shared by every body being written; a lane holds one only while it has batches to run, so
# concurrent uploads interleave instead of each waiting for whole uploads to end.
_POOL_THREADS = 8
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_POOL_THREADS, thread_name_prefix="s3-body")
        return _pool


class Lane:
    """Runs `work` on each pushed batch, in push order, one batch at a time, off the event loop.

    The first failure of `work` is kept (`error`), the batches after it dropped; `drained` raises it.
    """

    def __init__(self, work: Callable[[Batch], None], executor: Executor | None = None) -> None:
        self.work = work
        self.executor = executor or pool()
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._batches: collections.deque[tuple[Batch, int]] = collections.deque()
        self._backlog = 0  # bytes pushed and not yet done (the batch running included)
        self._running = False
        self._waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[None], int] | None = None

    @property
    def backlog(self) -> int:
        return self._backlog

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing running."""
        return not self._running

    def push(self, batch: Batch, size: int) -> None:
        """Queue `batch` (of `size` bytes); called on the event loop."""
        with self._lock:
            if self.error is not None:
                return
            self._batches.append((batch, size))
            self._backlog += size
            if self._running:
                return
            self._running = True
        try:
            self.executor.submit(self._run)
        except BaseException:
            with self._lock:
                self._running = False
                self._batches.clear()
                self._backlog = 0
            raise

    async def below(self, limit: int) -> None:
        """Wait until at most `limit` bytes are pushed and not yet done (0: all done and nothing running), or
        the lane failed."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._reached(limit):
                return
            future: asyncio.Future[None] = loop.create_future()
            self._waiter = (loop, future, limit)
        try:
            await future
        finally:
            with self._lock:
                if self._waiter is not None and self._waiter[1] is future:
                    self._waiter = None

    def _reached(self, limit: int) -> bool:
        # (0 means done: nothing running either, even a batch of no bytes)
        return self.error is not None or (self._backlog <= limit and (limit > 0 or not self._running))

    async def drained(self) -> None:
        """Wait until every batch pushed is done; raise the lane's failure, if any."""
        await self.below(0)
        if self.error is not None:
            raise self.error

    def cancel(self) -> None:
        """Drop the batches not yet started (the one running, if any, ends first: await `below(0)`)."""
        with self._lock:
            while self._batches:
                _, size = self._batches.popleft()
                self._backlog -= size
            self._wake_locked()

    def _run(self) -> None:
        """In a pool thread: batch after batch until the lane is empty."""
        while True:
            with self._lock:
                if not self._batches:
                    self._running = False
                    self._wake_locked()
                    return
                batch, size = self._batches.popleft()
            try:
                self.work(batch)
            except BaseException as exc:  # kept for `drained`; the batches after it are pointless
                with self._lock:
                    self.error = exc
                    self._batches.clear()
                    self._backlog = 0
                    self._running = False
                    self._wake_locked()
                return
            with self._lock:
                self._backlog -= size
                self._wake_locked()

    def _wake_locked(self) -> None:
        waiter = self._waiter
        if waiter is None:
            return
        loop, future, limit = waiter
        if self._reached(limit):
            self._waiter = None
            loop.call_soon_threadsafe(_resolve, future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
