"""Lambda's SQLite store: every statement Lambda runs, and nothing else.

Three tables of JSON documents: functions (a function's $LATEST configuration, versions, aliases, tags,
policy, concurrency and event-invoke config, keyed by name), event source mappings (by UUID) and the
asynchronous events not yet handled (by request id). Callers encode the documents before they write:
the database's writer thread runs the statements alone, so nothing else holds up a group commit.
Writes return once durable; reads run on the caller's thread.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from conveyor.storage.db import Database
from conveyor.storage.disk import DiskGuard

MIGRATIONS = [
    """
    CREATE TABLE functions (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
    CREATE TABLE mappings (uuid TEXT PRIMARY KEY, doc TEXT NOT NULL);
    CREATE TABLE async_events (id TEXT PRIMARY KEY, doc TEXT NOT NULL)
    """,
    """
    CREATE TABLE stream_mappings (uuid TEXT PRIMARY KEY, doc TEXT NOT NULL);
    CREATE TABLE stream_checkpoints (uuid TEXT NOT NULL, shard_id TEXT NOT NULL, position TEXT NOT NULL,
                                     PRIMARY KEY (uuid, shard_id))
    """,
]
_TABLES = ("functions", "mappings", "async_events", "stream_mappings", "stream_checkpoints")


class LambdaStore:
    """Opened when the service starts (the database's writer thread belongs to a running server)."""

    def __init__(self, path: Path, disk: DiskGuard | None = None) -> None:
        self.path = path
        self.disk = disk
        self._db: Database | None = None

    def open(self) -> None:
        self._db = Database(self.path, MIGRATIONS, self.disk)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def is_open(self) -> bool:
        return self._db is not None

    @property
    def db(self) -> Database:
        if self._db is None:
            raise RuntimeError("the Lambda store is not open")
        return self._db

    async def wipe(self) -> None:
        def delete_all(conn: sqlite3.Connection) -> None:
            for table in _TABLES:
                conn.execute(f"DELETE FROM {table}")

        await self.db.write(delete_all)

    # -- functions -------------------------------------------------------------------------------------
    def function_docs(self) -> list[str]:
        return [row[0] for row in self.db.query("SELECT doc FROM functions")]

    async def put_function(self, name: str, doc: str) -> None:
        await self.db.execute("INSERT OR REPLACE INTO functions (name, doc) VALUES (?, ?)", (name, doc))

    async def delete_function(self, name: str) -> None:
        await self.db.execute("DELETE FROM functions WHERE name = ?", (name,), grows=False)

    # -- event source mappings -------------------------------------------------------------------------
    def mapping_docs(self) -> list[str]:
        return [row[0] for row in self.db.query("SELECT doc FROM mappings")]

    async def put_mapping(self, uuid: str, doc: str) -> None:
        await self.db.execute("INSERT OR REPLACE INTO mappings (uuid, doc) VALUES (?, ?)", (uuid, doc))

    async def delete_mapping(self, uuid: str) -> None:
        await self.db.execute("DELETE FROM mappings WHERE uuid = ?", (uuid,), grows=False)

    # -- stream event source mappings and where they are in each shard ----------------------------------
    def stream_mapping_docs(self) -> list[str]:
        return [row[0] for row in self.db.query("SELECT doc FROM stream_mappings")]

    def stream_checkpoints(self, uuid: str) -> dict[str, str]:
        rows = self.db.query("SELECT shard_id, position FROM stream_checkpoints WHERE uuid = ?", (uuid,))
        return {row[0]: row[1] for row in rows}

    async def put_stream_mapping(self, uuid: str, doc: str, checkpoints: dict[str, str] | None = None) -> None:
        """The mapping's settings, and (when it is created) where it starts in the shards it starts in."""
        rows = [(uuid, shard, position) for shard, position in (checkpoints or {}).items()]

        def run(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT OR REPLACE INTO stream_mappings (uuid, doc) VALUES (?, ?)", (uuid, doc))
            conn.executemany("INSERT OR REPLACE INTO stream_checkpoints (uuid, shard_id, position) VALUES (?, ?, ?)",
                             rows)

        await self.db.write(run)

    async def put_stream_checkpoint(self, uuid: str, shard_id: str, position: str) -> None:
        await self.db.execute("INSERT OR REPLACE INTO stream_checkpoints (uuid, shard_id, position) VALUES (?, ?, ?)",
                              (uuid, shard_id, position))

    async def delete_stream_mapping(self, uuid: str) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM stream_mappings WHERE uuid = ?", (uuid,))
            conn.execute("DELETE FROM stream_checkpoints WHERE uuid = ?", (uuid,))

        await self.db.write(run, grows=False)

    # -- asynchronous events ---------------------------------------------------------------------------
    def async_event_docs(self) -> list[str]:
        return [row[0] for row in self.db.query("SELECT doc FROM async_events")]

    async def put_async_event(self, event_id: str, doc: str) -> None:
        await self.db.execute("INSERT OR REPLACE INTO async_events (id, doc) VALUES (?, ?)", (event_id, doc))

    async def delete_async_event(self, event_id: str) -> None:
        await self.db.execute("DELETE FROM async_events WHERE id = ?", (event_id,), grows=False)
