"""Function logs: one file per function that its environments' stdout and stderr go to, read back by
`conveyor logs FN` through `GET /_conveyor/functions/FN/logs`.

Environment processes write the file directly, so the server cannot see each line as it is written;
it learns that a log grew when an invocation ends (the runtime has flushed START..REPORT by then) or
when it appends a line itself. A follower parks on that signal with a timeout instead of polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

MAX_CHUNK = 1024 * 1024


class LogBook:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._grew: dict[str, asyncio.Event] = {}

    def path(self, name: str) -> Path:
        return self.root / f"{name}.log"

    def append(self, name: str, text: str) -> None:
        with open(self.path(name), "a", encoding="utf-8") as fh:
            fh.write(text)
        self.grew(name)

    def grew(self, name: str) -> None:
        event = self._grew.pop(name, None)
        if event is not None:
            event.set()

    def size(self, name: str) -> int:
        try:
            return os.path.getsize(self.path(name))
        except OSError:
            return 0

    def read(self, name: str, offset: int | None, lines: int) -> tuple[str, int]:
        """(text, next offset): from `offset`, or the last `lines` lines when offset is None."""
        size = self.size(name)
        if size == 0:
            return "", 0
        with open(self.path(name), "rb") as fh:
            if offset is None:
                start = max(0, size - 64 * 1024)
                fh.seek(start)
                data = fh.read(size - start)
                tail = data.splitlines(keepends=True)[-lines:] if lines > 0 else []
                return b"".join(tail).decode("utf-8", errors="replace"), size
            if offset > size:
                offset = 0  # the log was wiped (reset): start over
            fh.seek(offset)
            data = fh.read(min(size - offset, MAX_CHUNK))
        return data.decode("utf-8", errors="replace"), offset + len(data)

    async def wait(self, name: str, offset: int, timeout: float) -> None:
        """Return once the log is longer than `offset`, or after `timeout` seconds."""
        if self.size(name) > offset:
            return
        event = self._grew.setdefault(name, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    def wipe(self) -> None:
        for path in self.root.glob("*.log"):
            with contextlib.suppress(OSError):
                path.unlink()
        for event in self._grew.values():
            event.set()
        self._grew.clear()
