"""Kinesis's SQLite store: every statement the service runs.

Streams and shards are few and live in memory too (conveyor.services.kinesis.streams); records live only
here, read back by shard in sequence order. Row ids and sequence counters are chosen by the caller before
the write, so a write is SQL alone and its results (sequence numbers) are known before it commits.

A record's `seq` is a counter shared by every stream of the server: each record gets the next one, so
sequence numbers increase within a shard and across a shard's children. The counter's high-water mark is
kept in `meta` when records are deleted, so that it never goes back after a restart.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from conveyor.storage.db import Database
from conveyor.storage.disk import DiskGuard

MIGRATIONS = [
    """
    CREATE TABLE streams (
        id INTEGER PRIMARY KEY, region TEXT NOT NULL, name TEXT NOT NULL, created INTEGER NOT NULL,
        mode TEXT NOT NULL, retention_hours INTEGER NOT NULL, max_record_kib INTEGER NOT NULL,
        tags TEXT NOT NULL, next_shard INTEGER NOT NULL,
        UNIQUE (region, name)
    );
    CREATE TABLE shards (
        id INTEGER PRIMARY KEY, stream_id INTEGER NOT NULL REFERENCES streams (id) ON DELETE CASCADE,
        shard_id TEXT NOT NULL, parent TEXT, adjacent_parent TEXT, start_hash TEXT NOT NULL,
        end_hash TEXT NOT NULL, start_seq INTEGER NOT NULL, end_seq INTEGER, created INTEGER NOT NULL,
        closed INTEGER,
        UNIQUE (stream_id, shard_id)
    );
    CREATE TABLE records (
        seq INTEGER PRIMARY KEY, shard INTEGER NOT NULL, partition_key TEXT NOT NULL, data BLOB NOT NULL,
        arrival INTEGER NOT NULL
    );
    CREATE INDEX records_by_shard ON records (shard, seq);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)
    """,
    # A stream's resource-based policy (PutResourcePolicy), deleted with the stream's row.
    "ALTER TABLE streams ADD COLUMN policy TEXT",
]


@dataclass(frozen=True)
class StreamRow:
    id: int
    region: str
    name: str
    created: int  # ms
    mode: str
    retention_hours: int
    max_record_kib: int
    tags: str  # JSON object
    next_shard: int
    policy: str | None = None  # its resource-based policy document


@dataclass(frozen=True)
class ShardRow:
    id: int
    stream_id: int
    shard_id: str
    parent: str | None
    adjacent_parent: str | None
    start_hash: int
    end_hash: int
    start_seq: int
    end_seq: int | None
    created: int  # ms
    closed: int | None  # ms


@dataclass(frozen=True)
class RecordRow:
    seq: int
    shard: int  # shards.id
    partition_key: str
    data: bytes
    arrival: int  # ms


def _shard_tuple(s: ShardRow) -> tuple[object, ...]:
    # Hash keys reach 2^128: stored as text, SQLite's integers stop at 2^63.
    return (s.id, s.stream_id, s.shard_id, s.parent, s.adjacent_parent, str(s.start_hash), str(s.end_hash),
            s.start_seq, s.end_seq, s.created, s.closed)


class KinesisStore:
    def __init__(self, path: Path, disk: DiskGuard | None = None) -> None:
        self.db = Database(path, MIGRATIONS, disk)

    def close(self) -> None:
        self.db.close()

    # -- loading -------------------------------------------------------------------------------------
    def streams(self) -> list[StreamRow]:
        return [StreamRow(*row) for row in self.db.query(
            "SELECT id, region, name, created, mode, retention_hours, max_record_kib, tags, next_shard, policy "
            "FROM streams")]

    def shards(self) -> list[ShardRow]:
        rows = self.db.query("SELECT id, stream_id, shard_id, parent, adjacent_parent, start_hash, end_hash, "
                             "start_seq, end_seq, created, closed FROM shards ORDER BY id")
        return [ShardRow(r[0], r[1], r[2], r[3], r[4], int(r[5]), int(r[6]), r[7], r[8], r[9], r[10]) for r in rows]

    def high_water(self) -> tuple[int, int, int]:
        """The highest stream id, shard id and sequence counter in use."""
        row = self.db.query(
            "SELECT (SELECT IFNULL(MAX(id), 0) FROM streams), (SELECT IFNULL(MAX(id), 0) FROM shards), "
            "MAX((SELECT IFNULL(MAX(seq), 0) FROM records), (SELECT IFNULL(MAX(start_seq) - 1, 0) FROM shards), "
            "(SELECT IFNULL(MAX(end_seq), 0) FROM shards), (SELECT IFNULL(MAX(value), 0) FROM meta "
            "WHERE key = 'seq'))")[0]
        return int(row[0]), int(row[1]), int(row[2])

    def shard_tips(self) -> list[tuple[int, int, int]]:
        """(shard row, last sequence counter, its arrival) of every shard holding records."""
        return [(r[0], r[1], r[2]) for r in self.db.query(
            "SELECT shard, seq, arrival FROM records WHERE seq IN (SELECT MAX(seq) FROM records GROUP BY shard)")]

    # -- streams -------------------------------------------------------------------------------------
    async def create_stream(self, stream: StreamRow, shards: Sequence[ShardRow]) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO streams (id, region, name, created, mode, retention_hours, max_record_kib, "
                         "tags, next_shard) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (stream.id, stream.region, stream.name, stream.created, stream.mode, stream.retention_hours,
                          stream.max_record_kib, stream.tags, stream.next_shard))
            conn.executemany("INSERT INTO shards VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             [_shard_tuple(s) for s in shards])

        await self.db.write(run)

    async def delete_stream(self, stream_id: int) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM records WHERE shard IN (SELECT id FROM shards WHERE stream_id = ?)",
                         (stream_id,))
            conn.execute("DELETE FROM shards WHERE stream_id = ?", (stream_id,))
            conn.execute("DELETE FROM streams WHERE id = ?", (stream_id,))

        await self.db.write(run, grows=False)

    async def set_stream(self, stream_id: int, column: str, value: object) -> None:
        """Change one setting of a stream in place (retention, mode, record size, tags, policy)."""
        if column not in ("retention_hours", "mode", "max_record_kib", "tags", "policy"):
            raise ValueError(column)
        await self.db.execute(f"UPDATE streams SET {column} = ? WHERE id = ?", (value, stream_id),
                              grows=column in ("tags", "policy") and value is not None)

    # -- records -------------------------------------------------------------------------------------
    async def append(self, records: Sequence[RecordRow]) -> None:
        rows = [(r.seq, r.shard, r.partition_key, r.data, r.arrival) for r in records]
        await self.db.executemany("INSERT INTO records (seq, shard, partition_key, data, arrival) "
                                  "VALUES (?, ?, ?, ?, ?)", rows)

    def read(self, shard: int, after: int, not_before: int, limit: int) -> list[RecordRow]:
        """Records of a shard past counter `after`, none that arrived before `not_before` (ms), in order."""
        rows = self.db.query("SELECT seq, shard, partition_key, data, arrival FROM records WHERE shard = ? "
                             "AND seq > ? AND arrival >= ? ORDER BY seq LIMIT ?", (shard, after, not_before, limit))
        return [RecordRow(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def first_at(self, shard: int, after: int, arrived_from: int) -> int | None:
        """The counter of the shard's first record past `after` that arrived at or after `arrived_from`."""
        row = self.db.query("SELECT MIN(seq) FROM records WHERE shard = ? AND seq > ? AND arrival >= ?",
                            (shard, after, arrived_from))[0]
        return None if row[0] is None else int(row[0])

    # -- resharding ------------------------------------------------------------------------------------
    async def reshard(self, stream_id: int, next_shard: int, closes: Sequence[tuple[int, int, int]],
                      opened: Sequence[ShardRow]) -> None:
        """Close shards ((row, end counter, closed ms)) and open their children, in one commit."""
        def run(conn: sqlite3.Connection) -> None:
            conn.executemany("UPDATE shards SET end_seq = ?, closed = ? WHERE id = ?",
                             [(end, when, row) for row, end, when in closes])
            conn.executemany("INSERT INTO shards VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             [_shard_tuple(s) for s in opened])
            conn.execute("UPDATE streams SET next_shard = ? WHERE id = ?", (next_shard, stream_id))

        await self.db.write(run)

    # -- retention -------------------------------------------------------------------------------------
    async def expire(self, cutoffs: Sequence[tuple[int, int]], gone_shards: Sequence[int], high_water: int) -> None:
        """Delete records older than their stream's retention ((stream id, cutoff ms)) and the closed shards
        past it, keeping the sequence counter's high-water mark."""
        def run(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO meta (key, value) VALUES ('seq', ?) ON CONFLICT (key) DO UPDATE SET "
                         "value = MAX(value, excluded.value)", (high_water,))
            for stream_id, cutoff in cutoffs:
                conn.execute("DELETE FROM records WHERE arrival < ? AND shard IN (SELECT id FROM shards WHERE "
                             "stream_id = ?)", (cutoff, stream_id))
            conn.executemany("DELETE FROM records WHERE shard = ?", [(row,) for row in gone_shards])
            conn.executemany("DELETE FROM shards WHERE id = ?", [(row,) for row in gone_shards])

        await self.db.write(run, grows=False)

    async def wipe(self) -> None:
        def run(conn: sqlite3.Connection) -> None:
            for table in ("records", "shards", "streams", "meta"):
                conn.execute(f"DELETE FROM {table}")

        await self.db.write(run, grows=False)
