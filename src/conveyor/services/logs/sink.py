"""The log sink (conveyor.ports.LogSink): what functions and workers print, stored as log events.

Writers call `write` from the event loop; lines wait in memory for the next flush, which runs soon after
(one commit for every stream written meanwhile): at once when the last flush is older than FLUSH_INTERVAL,
else once it is that old. A lone line is stored at once, while a worker that keeps printing costs one
commit per interval rather than one per line or two (each commit is an fsync and some 20 page writes).
Groups and streams are made when first written to, as Lambda makes /aws/lambda/NAME and a stream per
execution environment.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from conveyor.background import spawn
from conveyor.clock import Clock
from conveyor.services.logs.catalog import Catalog, LogGroup, LogStream
from conveyor.services.logs.events import rows_for
from conveyor.services.logs.store import EventRow, StreamTouch

log = logging.getLogger("conveyor.logs")

# A longer line is cut, as Lambda cuts what a function writes into events of at most 256 KB.
# https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html
MAX_MESSAGE = 256 * 1024
# Lines held while the store cannot take them (a full disk); past this the oldest are dropped.
MAX_PENDING = 100_000
# The shortest time between two flushes (seconds, real time). Lambda ships a function's output to
# CloudWatch Logs asynchronously, and it is searchable some seconds later at best
# (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html): 0.1 s keeps well within that.
FLUSH_INTERVAL = 0.1

StreamKey = tuple[str, str, str]  # region, group, stream


class LogBuffer:
    def __init__(self, catalog: Catalog, clock: Clock, on_stored: Callable[[], None]) -> None:
        self.catalog = catalog
        self.clock = clock
        self.on_stored = on_stored
        self.pending: dict[StreamKey, list[tuple[int, str]]] = {}
        self.count = 0
        self._flushing: asyncio.Task[None] | None = None
        self._last_flush = -FLUSH_INTERVAL  # the event loop's time of the last flush's start
        self.enabled = False  # until the store is open

    def write(self, region: str, group: str, stream: str, lines: Sequence[tuple[float, str]]) -> None:
        if not self.enabled or not lines:
            return
        batch = self.pending.setdefault((region, group, stream), [])
        batch.extend((int(ts * 1000), message[:MAX_MESSAGE] or " ") for ts, message in lines)
        self.count += len(lines)
        if self.count > MAX_PENDING:
            self._drop_oldest()
        if self._flushing is None:
            self._flushing = spawn(self._flush_soon())

    async def _flush_soon(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.pending:
                # At least a loop turn, so that the writers of this one add their lines first.
                await asyncio.sleep(max(0.0, self._last_flush + FLUSH_INTERVAL - loop.time()))
                self._last_flush = loop.time()
                await self.flush()
        finally:
            self._flushing = None

    async def drain(self) -> None:
        """Wait until everything written so far is stored (stop, tests)."""
        while self._flushing is not None:
            await asyncio.shield(self._flushing)

    async def flush(self) -> None:
        taken, self.pending, self.count = self.pending, {}, 0
        catalog = self.catalog
        async with catalog.mutex:
            new_groups: list[LogGroup] = []
            new_streams: list[tuple[LogGroup, LogStream]] = []
            rows: list[EventRow] = []
            touches: list[StreamTouch] = []
            now = int(self.clock.now() * 1000)
            made: dict[tuple[str, str], LogGroup] = {}
            for (region, group_name, stream_name), events in taken.items():
                group = catalog.groups.get((region, group_name)) or made.get((region, group_name))
                if group is None:
                    group = LogGroup(catalog.next_group_id(), region, group_name, now)
                    made[(region, group_name)] = group
                    new_groups.append(group)
                stream = group.streams.get(stream_name) or next(
                    (s for g, s in new_streams if g is group and s.name == stream_name), None)
                if stream is None:
                    stream = LogStream(catalog.next_stream_id(), stream_name, now)
                    new_streams.append((group, stream))
                events.sort(key=lambda e: e[0])
                batch, touch = rows_for(group, stream, events, catalog.next_event_ids(len(events)), now)
                rows.extend(batch)
                touches.append(touch)
            try:
                await catalog.store.append([(g.id, g.region, g.name, g.created) for g in new_groups],
                                           [(s.id, g.id, s.name, s.created) for g, s in new_streams], rows, touches)
            except Exception:
                log.exception("storing %d log events failed; they are dropped", len(rows))
                return
            catalog.adopt(new_groups, new_streams)
            catalog.touched(touches)
        self.on_stored()

    def _drop_oldest(self) -> None:
        for key in list(self.pending):
            self.count -= len(self.pending.pop(key))
            if self.count <= MAX_PENDING // 2:
                return
