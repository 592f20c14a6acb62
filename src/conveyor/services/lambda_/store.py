"""Lambda's SQLite store: every statement Lambda runs, and nothing else.

Tables of JSON documents: functions (a function's $LATEST configuration, versions, aliases, tags,
policy, concurrency, event-invoke configs and URLs, keyed by name), event source mappings (by UUID), the
asynchronous events not yet handled (by request id), layer versions (by ARN, with each layer's last
version number, which deleting versions never lowers) and code signing configurations (by ARN). Callers encode the documents before they write:
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
    """
    CREATE TABLE layer_versions (arn TEXT PRIMARY KEY, doc TEXT NOT NULL);
    CREATE TABLE layer_counters (layer_arn TEXT PRIMARY KEY, last_version INTEGER NOT NULL);
    CREATE TABLE code_signing_configs (arn TEXT PRIMARY KEY, doc TEXT NOT NULL)
    """,
]
_TABLES = ("functions", "mappings", "async_events", "stream_mappings", "stream_checkpoints", "layer_versions",
           "layer_counters", "code_signing_configs")


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

    # -- layers: each version's document, and the last version number each layer gave out ----------------
    def layer_version_docs(self) -> list[str]:
        return [row[0] for row in self.db.query("SELECT doc FROM layer_versions")]

    def layer_counters(self) -> dict[str, int]:
        return {row[0]: int(row[1]) for row in self.db.query("SELECT layer_arn, last_version FROM layer_counters")}

    async def put_layer_version(self, arn: str, doc: str, layer_arn: str | None = None, number: int = 0) -> None:
        """A version's document; with `layer_arn`, a new version: its number becomes the layer's last."""

        def run(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT OR REPLACE INTO layer_versions (arn, doc) VALUES (?, ?)", (arn, doc))
            if layer_arn is not None:
                conn.execute("INSERT OR REPLACE INTO layer_counters (layer_arn, last_version) VALUES (?, ?)",
                             (layer_arn, number))

        await self.db.write(run)

    async def delete_layer_version(self, arn: str) -> None:
        await self.db.execute("DELETE FROM layer_versions WHERE arn = ?", (arn,), grows=False)

    # -- code signing configurations -------------------------------------------------------------------
    def code_signing_docs(self) -> list[str]:
        return [row[0] for row in self.db.query("SELECT doc FROM code_signing_configs")]

    async def put_code_signing(self, arn: str, doc: str) -> None:
        await self.db.execute("INSERT OR REPLACE INTO code_signing_configs (arn, doc) VALUES (?, ?)", (arn, doc))

    async def delete_code_signing(self, arn: str) -> None:
        await self.db.execute("DELETE FROM code_signing_configs WHERE arn = ?", (arn,), grows=False)

    # -- asynchronous events ---------------------------------------------------------------------------
    def async_event_docs(self) -> list[str]:
        return [row[0] for row in self.db.query("SELECT doc FROM async_events")]

    async def put_async_event(self, event_id: str, doc: str) -> None:
        await self.db.execute("INSERT OR REPLACE INTO async_events (id, doc) VALUES (?, ?)", (event_id, doc))

    async def delete_async_event(self, event_id: str) -> None:
        await self.db.execute("DELETE FROM async_events WHERE id = ?", (event_id,), grows=False)
