"""Route 53's SQLite store: every statement the service runs, and nothing else.

Hosted zones, changes, health checks, delegation sets and tag sets are one row each in `resources`, their
document as JSON; record sets are rows of `records`, keyed as Route 53 keys them (zone, name, type, set
identifier). A change batch is one Batch, committed together: all of it or none of it. Documents are encoded
before the batch reaches the writer thread, which runs SQL only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from sqlite3 import Connection
from typing import Any

from conveyor.storage.db import Database
from conveyor.storage.disk import DiskGuard

MIGRATIONS = [
    """
    CREATE TABLE resources (
        kind TEXT NOT NULL, id TEXT NOT NULL, doc TEXT NOT NULL,
        PRIMARY KEY (kind, id)
    );
    CREATE TABLE records (
        zone_id TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL, set_id TEXT NOT NULL, doc TEXT NOT NULL,
        PRIMARY KEY (zone_id, name, type, set_id)
    )
    """,
    # What each endpoint health check last judged (so a restart does not forget an unhealthy endpoint).
    """
    CREATE TABLE check_status (id TEXT PRIMARY KEY, doc TEXT NOT NULL)
    """,
]

# Rows a delete writes besides removing: they do not count as growth.
_SMALL_KINDS = frozenset({"spentref", "spentcheckref", "change"})
RecordKey = tuple[str, str, str, str]  # (zone id, name, type, set identifier or "")


@dataclass
class Batch:
    written: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (kind, id, doc)
    removed: list[tuple[str, str]] = field(default_factory=list)
    records_written: list[tuple[RecordKey, dict[str, Any]]] = field(default_factory=list)
    records_removed: list[RecordKey] = field(default_factory=list)
    zones_emptied: list[str] = field(default_factory=list)  # every record of these zones goes

    def write(self, kind: str, resource_id: str, doc: dict[str, Any]) -> Batch:
        self.written.append((kind, resource_id, doc))
        return self

    def remove(self, kind: str, resource_id: str) -> Batch:
        self.removed.append((kind, resource_id))
        return self

    @property
    def grows(self) -> bool:
        """Whether the batch adds data. A delete writes small rows (the caller reference a deleted zone or health
        check spends, the change a deletion answers with) and must still run on a full disk, as deletes do."""
        return bool(self.records_written or any(kind not in _SMALL_KINDS for kind, _, _ in self.written))


class Route53Store:
    def __init__(self, path: Path, disk: DiskGuard | None = None) -> None:
        self.db = Database(path, MIGRATIONS, disk)

    def close(self) -> None:
        self.db.close()

    def resources(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Every resource, (kind, id, document), in the order they were first written."""
        for kind, resource_id, doc in self.db.query("SELECT kind, id, doc FROM resources ORDER BY rowid"):
            yield kind, resource_id, json.loads(doc)

    def records(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every record set, (zone id, ResourceRecordSet document)."""
        for zone_id, doc in self.db.query("SELECT zone_id, doc FROM records ORDER BY rowid"):
            yield zone_id, json.loads(doc)

    def check_statuses(self) -> dict[str, dict[str, Any]]:
        """Health check id -> its last judged status (written when it changes)."""
        return {cid: json.loads(doc) for cid, doc in self.db.query("SELECT id, doc FROM check_status")}

    async def put_check_status(self, check_id: str, doc: dict[str, Any]) -> None:
        encoded = json.dumps(doc)

        def run(conn: Connection) -> None:
            conn.execute("INSERT INTO check_status (id, doc) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET doc = "
                         "excluded.doc", (check_id, encoded))

        await self.db.write(run, grows=False)

    async def commit(self, batch: Batch) -> None:
        written = [(kind, rid, json.dumps(doc, default=str)) for kind, rid, doc in batch.written]
        removed = list(batch.removed)
        records_written = [(*key, json.dumps(doc)) for key, doc in batch.records_written]
        records_removed = list(batch.records_removed)
        emptied = [(zone_id,) for zone_id in batch.zones_emptied]

        checks_removed = [(rid,) for kind, rid in removed if kind == "healthcheck"]

        def run(conn: Connection) -> None:
            conn.executemany("DELETE FROM resources WHERE kind = ? AND id = ?", removed)
            conn.executemany("DELETE FROM check_status WHERE id = ?", checks_removed)
            conn.executemany("DELETE FROM records WHERE zone_id = ?", emptied)
            conn.executemany("DELETE FROM records WHERE zone_id = ? AND name = ? AND type = ? AND set_id = ?",
                             records_removed)
            # An update keeps its row (and so its place in listings): INSERT ... ON CONFLICT, not REPLACE.
            conn.executemany("INSERT INTO resources (kind, id, doc) VALUES (?, ?, ?) "
                             "ON CONFLICT (kind, id) DO UPDATE SET doc = excluded.doc", written)
            conn.executemany("INSERT INTO records (zone_id, name, type, set_id, doc) VALUES (?, ?, ?, ?, ?) "
                             "ON CONFLICT (zone_id, name, type, set_id) DO UPDATE SET doc = excluded.doc",
                             records_written)

        await self.db.write(run, grows=batch.grows)

    async def wipe(self) -> None:
        def run(conn: Connection) -> None:
            conn.execute("DELETE FROM resources")
            conn.execute("DELETE FROM records")
            conn.execute("DELETE FROM check_status")

        await self.db.write(run, grows=False)
