"""CloudWatch Logs' SQLite store: every statement the service runs.

Groups and streams are few and live in memory too (conveyor.services.logs.catalog); events live only
here, read back by time. Row ids of groups, streams and events are chosen by the caller before the write,
so that a write is SQL alone and its results (event ids, tokens) are known before it commits.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.storage.db import Database
from conveyor.storage.disk import DiskGuard

MIGRATIONS = [
    """
    CREATE TABLE groups (
        id INTEGER PRIMARY KEY, region TEXT NOT NULL, name TEXT NOT NULL, created INTEGER NOT NULL,
        retention_days INTEGER, log_class TEXT NOT NULL, kms_key TEXT, deletion_protection INTEGER NOT NULL,
        tags TEXT NOT NULL, stored_bytes INTEGER NOT NULL DEFAULT 0,
        UNIQUE (region, name)
    );
    CREATE TABLE streams (
        id INTEGER PRIMARY KEY, group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
        name TEXT NOT NULL, created INTEGER NOT NULL, first_event INTEGER, last_event INTEGER,
        last_ingestion INTEGER,
        UNIQUE (group_id, name)
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY, stream_id INTEGER NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
        group_id INTEGER NOT NULL, ts INTEGER NOT NULL, ingested INTEGER NOT NULL, message TEXT NOT NULL
    );
    CREATE INDEX events_by_stream ON events (stream_id, ts, id);
    CREATE INDEX events_by_group ON events (group_id, ts, id)
    """,
    # Account-scoped resource policies (PutResourcePolicy), per region.
    """
    CREATE TABLE resource_policies (
        region TEXT NOT NULL, name TEXT NOT NULL, document TEXT NOT NULL, updated INTEGER NOT NULL,
        PRIMARY KEY (region, name)
    )
    """,
]


@dataclass(frozen=True)
class EventRow:
    id: int
    stream_id: int
    group_id: int
    ts: int  # milliseconds
    ingested: int  # milliseconds
    message: str


@dataclass(frozen=True)
class StreamTouch:
    """What a batch of events changes on its stream and group."""

    stream_id: int
    group_id: int
    first_event: int | None
    last_event: int | None
    last_ingestion: int
    added_bytes: int


class LogStore:
    def __init__(self, path: Path, disk: DiskGuard | None = None) -> None:
        self.db = Database(path, MIGRATIONS, disk)

    def close(self) -> None:
        self.db.close()

    # -- loading -------------------------------------------------------------------------------------
    def groups(self) -> list[sqlite3.Row]:
        return self.db.query("SELECT id, region, name, created, retention_days, log_class, kms_key, "
                             "deletion_protection, tags, stored_bytes FROM groups")

    def streams(self) -> list[sqlite3.Row]:
        return self.db.query("SELECT id, group_id, name, created, first_event, last_event, last_ingestion "
                             "FROM streams")

    def last_ids(self) -> tuple[int, int, int]:
        """The highest group, stream and event ids in use."""
        row = self.db.query("SELECT (SELECT IFNULL(MAX(id), 0) FROM groups), (SELECT IFNULL(MAX(id), 0) FROM "
                            "streams), (SELECT IFNULL(MAX(id), 0) FROM events)")[0]
        return int(row[0]), int(row[1]), int(row[2])

    # -- groups and streams --------------------------------------------------------------------------
    async def create_group(self, group_id: int, region: str, name: str, created: int, log_class: str,
                           kms_key: str | None, deletion_protection: bool, tags: dict[str, str]) -> None:
        await self.db.execute(
            "INSERT INTO groups (id, region, name, created, retention_days, log_class, kms_key, "
            "deletion_protection, tags) VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?)",
            (group_id, region, name, created, log_class, kms_key, int(deletion_protection), json.dumps(tags)))

    async def delete_group(self, group_id: int) -> None:
        await self.db.execute("DELETE FROM groups WHERE id = ?", (group_id,), grows=False)

    async def set_retention(self, group_id: int, days: int | None) -> None:
        await self.db.execute("UPDATE groups SET retention_days = ? WHERE id = ?", (days, group_id), grows=False)

    async def set_tags(self, group_id: int, tags: dict[str, str]) -> None:
        await self.db.execute("UPDATE groups SET tags = ? WHERE id = ?", (json.dumps(tags), group_id))

    async def set_deletion_protection(self, group_id: int, enabled: bool) -> None:
        await self.db.execute("UPDATE groups SET deletion_protection = ? WHERE id = ?", (int(enabled), group_id),
                              grows=False)

    async def create_stream(self, stream_id: int, group_id: int, name: str, created: int) -> None:
        await self.db.execute("INSERT INTO streams (id, group_id, name, created) VALUES (?, ?, ?, ?)",
                              (stream_id, group_id, name, created))

    async def delete_stream(self, stream_id: int, group_id: int, freed_bytes: int) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM streams WHERE id = ?", (stream_id,))
            conn.execute("DELETE FROM events WHERE stream_id = ?", (stream_id,))
            conn.execute("UPDATE groups SET stored_bytes = MAX(0, stored_bytes - ?) WHERE id = ?",
                         (freed_bytes, group_id))

        await self.db.write(run, grows=False)

    def stream_bytes(self, stream_id: int) -> int:
        row = self.db.query("SELECT IFNULL(SUM(LENGTH(CAST(message AS BLOB))), 0) FROM events WHERE stream_id = ?",
                            (stream_id,))[0]
        return int(row[0])

    def group_bytes(self, group_id: int) -> int:
        return int(self.db.query("SELECT stored_bytes FROM groups WHERE id = ?", (group_id,))[0][0])

    # -- events --------------------------------------------------------------------------------------
    async def append(self, new_groups: Sequence[tuple[Any, ...]], new_streams: Sequence[tuple[Any, ...]],
                     events: Sequence[EventRow], touches: Sequence[StreamTouch]) -> None:
        """Store events (and the groups and streams they create) in one commit."""
        event_rows = [(e.id, e.stream_id, e.group_id, e.ts, e.ingested, e.message) for e in events]
        stream_rows = [(t.first_event, t.first_event, t.last_event, t.last_event, t.last_ingestion, t.stream_id)
                       for t in touches]
        group_rows = [(t.added_bytes, t.group_id) for t in touches]

        def run(conn: sqlite3.Connection) -> None:
            if new_groups:
                conn.executemany(
                    "INSERT INTO groups (id, region, name, created, retention_days, log_class, kms_key, "
                    "deletion_protection, tags) VALUES (?, ?, ?, ?, NULL, 'STANDARD', NULL, 0, '{}')", new_groups)
            if new_streams:
                conn.executemany("INSERT INTO streams (id, group_id, name, created) VALUES (?, ?, ?, ?)",
                                 new_streams)
            conn.executemany("INSERT INTO events (id, stream_id, group_id, ts, ingested, message) "
                             "VALUES (?, ?, ?, ?, ?, ?)", event_rows)
            conn.executemany(
                "UPDATE streams SET first_event = MIN(IFNULL(first_event, ?), ?), "
                "last_event = MAX(IFNULL(last_event, ?), ?), last_ingestion = ? WHERE id = ?", stream_rows)
            conn.executemany("UPDATE groups SET stored_bytes = stored_bytes + ? WHERE id = ?", group_rows)

        await self.db.write(run)

    def stream_events(self, stream_id: int, start: int | None, end: int | None, after: tuple[int, int] | None,
                      before: tuple[int, int] | None, limit: int, newest_first: bool) -> list[sqlite3.Row]:
        """Events of one stream in [start, end), past `after` or short of `before` ((ts, id) positions)."""
        where, args = ["stream_id = ?"], [stream_id]
        _window(where, args, start, end, after, before)
        order = "DESC" if newest_first else "ASC"
        return self.db.query(f"SELECT id, stream_id, ts, ingested, message FROM events WHERE {' AND '.join(where)} "
                             f"ORDER BY ts {order}, id {order} LIMIT ?", (*args, limit))

    def group_events(self, group_id: int, stream_ids: Sequence[int] | None, start: int | None, end: int | None,
                     after: tuple[int, int] | None, limit: int) -> list[sqlite3.Row]:
        """Events of a group (of some of its streams) in time order, past `after`."""
        where, args = ["group_id = ?"], [group_id]
        if stream_ids is not None:
            where.append(f"stream_id IN ({', '.join('?' * len(stream_ids))})")
            args.extend(stream_ids)
        _window(where, args, start, end, after, None)
        return self.db.query(f"SELECT id, stream_id, ts, ingested, message FROM events WHERE {' AND '.join(where)} "
                             "ORDER BY ts, id LIMIT ?", (*args, limit))

    def group_events_newest(self, group_id: int, limit: int) -> list[sqlite3.Row]:
        return self.db.query("SELECT id, stream_id, ts, ingested, message FROM events WHERE group_id = ? "
                             "ORDER BY ts DESC, id DESC LIMIT ?", (group_id, limit))

    async def expire(self, cutoffs: Sequence[tuple[int, int]]) -> None:
        """Delete events older than each group's retention: (group id, cutoff in ms)."""
        def run(conn: sqlite3.Connection) -> None:
            for group_id, cutoff in cutoffs:
                conn.execute("DELETE FROM events WHERE group_id = ? AND ts < ?", (group_id, cutoff))
                conn.execute("UPDATE groups SET stored_bytes = (SELECT IFNULL(SUM(LENGTH(CAST(message AS BLOB))), 0) "
                             "FROM events WHERE group_id = ?) WHERE id = ?", (group_id, group_id))

        await self.db.write(run, grows=False)

    # -- resource policies ---------------------------------------------------------------------------
    def resource_policies(self) -> list[sqlite3.Row]:
        return self.db.query("SELECT region, name, document, updated FROM resource_policies")

    async def put_resource_policy(self, region: str, name: str, document: str, updated: int) -> None:
        await self.db.execute("INSERT INTO resource_policies (region, name, document, updated) VALUES (?, ?, ?, ?) "
                              "ON CONFLICT (region, name) DO UPDATE SET document = excluded.document, "
                              "updated = excluded.updated", (region, name, document, updated))

    async def delete_resource_policy(self, region: str, name: str) -> None:
        await self.db.execute("DELETE FROM resource_policies WHERE region = ? AND name = ?", (region, name),
                              grows=False)

    async def wipe(self) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM resource_policies")
            conn.execute("DELETE FROM events")
            conn.execute("DELETE FROM streams")
            conn.execute("DELETE FROM groups")

        await self.db.write(run, grows=False)


def _window(where: list[str], args: list[Any], start: int | None, end: int | None, after: tuple[int, int] | None,
            before: tuple[int, int] | None) -> None:
    if start is not None:
        where.append("ts >= ?")
        args.append(start)
    if end is not None:
        where.append("ts < ?")
        args.append(end)
    if after is not None:
        where.append("(ts > ? OR (ts = ? AND id > ?))")
        args.extend((after[0], after[0], after[1]))
    if before is not None:
        where.append("(ts < ? OR (ts = ? AND id < ?))")
        args.extend((before[0], before[0], before[1]))
