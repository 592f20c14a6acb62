"""Fire-and-forget tasks that cannot vanish: the event loop keeps only weak references to tasks, so a
task nobody holds may be garbage-collected before it finishes (asyncio.create_task's documentation)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

_running: set[asyncio.Task[Any]] = set()


def spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    task = asyncio.ensure_future(coro)
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task
