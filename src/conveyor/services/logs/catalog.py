"""Log groups and their streams, in memory (they are few), changed only after their write commits."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from conveyor.services.logs import errors
from conveyor.services.logs.store import LogStore, StreamTouch

# The values PutRetentionPolicy accepts.
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                  3288, 3653)


@dataclass
class LogStream:
    id: int
    name: str
    created: int  # ms
    first_event: int | None = None
    last_event: int | None = None
    last_ingestion: int | None = None

    def touch(self, t: StreamTouch) -> None:
        if t.first_event is not None:
            self.first_event = t.first_event if self.first_event is None else min(self.first_event, t.first_event)
        if t.last_event is not None:
            self.last_event = t.last_event if self.last_event is None else max(self.last_event, t.last_event)
        self.last_ingestion = t.last_ingestion


@dataclass
class LogGroup:
    id: int
    region: str
    name: str
    created: int  # ms
    retention_days: int | None = None
    log_class: str = "STANDARD"
    kms_key: str | None = None
    deletion_protection: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    stored_bytes: int = 0
    streams: dict[str, LogStream] = field(default_factory=dict)

    def arn(self, account: str) -> str:
        return f"arn:aws:logs:{self.region}:{account}:log-group:{self.name}"

    def stream_arn(self, account: str, stream: str) -> str:
        return f"{self.arn(account)}:log-stream:{stream}"


class Catalog:
    """Every region's log groups; ids for new rows come from here, so writes are computed beforehand."""

    def __init__(self, store: LogStore) -> None:
        self.store = store
        self.groups: dict[tuple[str, str], LogGroup] = {}
        self.by_id: dict[int, LogGroup] = {}
        self.streams_by_id: dict[int, tuple[LogGroup, LogStream]] = {}
        self._group_id = self._stream_id = self._event_id = 0
        # Creating and deleting groups and streams one at a time: two creators of one name would both
        # see it missing and one of them fail on the table's unique key.
        self.mutex = asyncio.Lock()

    def load(self) -> None:
        for row in self.store.groups():
            group = LogGroup(row[0], row[1], row[2], row[3], row[4], row[5], row[6], bool(row[7]),
                             _tags(row[8]), row[9])
            self._add_group(group)
        for row in self.store.streams():
            owner = self.by_id.get(row[1])
            if owner is not None:
                self._add_stream(owner, LogStream(row[0], row[2], row[3], row[4], row[5], row[6]))
        self._group_id, self._stream_id, self._event_id = self.store.last_ids()

    def clear(self) -> None:
        self.groups.clear()
        self.by_id.clear()
        self.streams_by_id.clear()

    # -- ids -------------------------------------------------------------------------------------------
    def next_group_id(self) -> int:
        self._group_id += 1
        return self._group_id

    def next_stream_id(self) -> int:
        self._stream_id += 1
        return self._stream_id

    def next_event_ids(self, count: int) -> range:
        first = self._event_id + 1
        self._event_id += count
        return range(first, first + count)

    # -- lookups ---------------------------------------------------------------------------------------
    def group(self, region: str, name: str) -> LogGroup:
        found = self.groups.get((region, name))
        if found is None:
            raise errors.group_not_found()
        return found

    def stream(self, region: str, group_name: str, stream_name: str) -> tuple[LogGroup, LogStream]:
        group = self.group(region, group_name)
        stream = group.streams.get(stream_name)
        if stream is None:
            raise errors.stream_not_found()
        return group, stream

    def in_region(self, region: str) -> list[LogGroup]:
        return sorted((g for (r, _), g in self.groups.items() if r == region), key=lambda g: g.name)

    # -- changes, after their commit ---------------------------------------------------------------------
    def _add_group(self, group: LogGroup) -> None:
        self.groups[(group.region, group.name)] = group
        self.by_id[group.id] = group

    def _add_stream(self, group: LogGroup, stream: LogStream) -> None:
        group.streams[stream.name] = stream
        self.streams_by_id[stream.id] = (group, stream)

    async def create_group(self, region: str, name: str, created: int, *, log_class: str = "STANDARD",
                           kms_key: str | None = None, deletion_protection: bool = False,
                           tags: dict[str, str] | None = None) -> LogGroup:
        async with self.mutex:
            if (region, name) in self.groups:
                raise errors.group_exists()
            group = LogGroup(self.next_group_id(), region, name, created, None, log_class, kms_key,
                             deletion_protection, dict(tags or {}))
            await self.store.create_group(group.id, region, name, created, log_class, kms_key, deletion_protection,
                                          group.tags)
            self._add_group(group)
            return group

    async def delete_group(self, group: LogGroup) -> None:
        async with self.mutex:
            await self.store.delete_group(group.id)
            self.groups.pop((group.region, group.name), None)
            self.by_id.pop(group.id, None)
            for stream in group.streams.values():
                self.streams_by_id.pop(stream.id, None)

    async def create_stream(self, group: LogGroup, name: str, created: int) -> LogStream:
        async with self.mutex:
            if name in group.streams:
                raise errors.stream_exists()
            if self.by_id.get(group.id) is not group:
                raise errors.group_not_found()
            stream = LogStream(self.next_stream_id(), name, created)
            await self.store.create_stream(stream.id, group.id, name, created)
            self._add_stream(group, stream)
            return stream

    async def delete_stream(self, group: LogGroup, stream: LogStream) -> None:
        async with self.mutex:
            freed = self.store.stream_bytes(stream.id)
            await self.store.delete_stream(stream.id, group.id, freed)
            group.streams.pop(stream.name, None)
            self.streams_by_id.pop(stream.id, None)
            group.stored_bytes = max(0, group.stored_bytes - freed)

    def touched(self, touches: list[StreamTouch]) -> None:
        """Events were stored: their streams' first and last times, their groups' sizes."""
        for t in touches:
            found = self.streams_by_id.get(t.stream_id)
            if found is not None:
                found[0].stored_bytes += t.added_bytes
                found[1].touch(t)

    def adopt(self, groups: list[LogGroup], streams: list[tuple[LogGroup, LogStream]]) -> None:
        """Groups and streams a write created (the log sink's) are known from now on."""
        for group in groups:
            self._add_group(group)
        for group, stream in streams:
            self._add_stream(group, stream)


def _tags(text: str) -> dict[str, str]:
    import json

    value: Any = json.loads(text)
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
