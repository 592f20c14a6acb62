"""Parked waits: the only points where a request whose client has gone away is cancelled.

A long poll parked for 20 s must stop when its client disconnects, or it would go on to take messages
nobody will ever see (they would stay invisible for a whole visibility timeout). Cancelling a request
anywhere else could interrupt it between a durable write and the in-memory change that follows it, so
the HTTP layer only `abandon`s a request: it is cancelled if it is parked now, or as soon as it parks.

The HTTP layer also notes each request's connection (`request_on`), so that work which would block the
event loop for a moment knows whether one client alone is being served (`one_client`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import Iterator

_parked: weakref.WeakSet[asyncio.Task[object]] = weakref.WeakSet()
# When the last request came on another connection than the one before it (time.monotonic()): the HTTP
# layer notes each request's connection (request_on).
_last_connection = 0  # its id(): not the connection itself, which may close meanwhile
_mixed_at = 0.0
ONE_CLIENT_AFTER = 0.05  # seconds of requests all on one connection before it counts as one client alone
_abandoned: weakref.WeakSet[asyncio.Task[object]] = weakref.WeakSet()


@contextlib.contextmanager
def parked() -> Iterator[None]:
    """Mark the current task as parked (cancellable) for the duration of the block."""
    task = asyncio.current_task()
    if task is None:
        yield
        return
    if task in _abandoned:
        raise asyncio.CancelledError("the client has gone away")
    _parked.add(task)
    try:
        yield
    finally:
        _parked.discard(task)


def abandon(task: asyncio.Task[object]) -> None:
    """Nobody is left to answer `task`: cancel it at its current or next parked wait."""
    if task in _parked:
        task.cancel()
    else:
        _abandoned.add(task)


def request_on(connection: object) -> None:
    """A request starts on `connection` (called by the HTTP layer)."""
    global _last_connection, _mixed_at
    if id(connection) != _last_connection:
        _last_connection = id(connection)
        _mixed_at = time.monotonic()


def one_client() -> bool:
    """Whether the requests of the last ONE_CLIENT_AFTER seconds all came on one connection: one client
    waiting for each answer, so the event loop may block for a moment without making another client wait
    (storage/db.py commits a lone write on the loop's thread only then)."""
    return time.monotonic() - _mixed_at > ONE_CLIENT_AFTER
