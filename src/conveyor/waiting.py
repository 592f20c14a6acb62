"""Parked waits: the only points where a request whose client has gone away is cancelled.

A long poll parked for 20 s must stop when its client disconnects, or it would go on to take messages
nobody will ever see (they would stay invisible for a whole visibility timeout). Cancelling a request
anywhere else could interrupt it between a durable write and the in-memory change that follows it, so
the HTTP layer only `abandon`s a request: it is cancelled if it is parked now, or as soon as it parks.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Iterator

_parked: weakref.WeakSet[asyncio.Task[object]] = weakref.WeakSet()
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
