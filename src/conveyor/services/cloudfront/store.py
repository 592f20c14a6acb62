"""CloudFront's SQLite store: every statement the service runs, and nothing else.

One row per resource (a distribution, an origin access control, a cache policy, an invalidation), its
document as JSON. A change is one Batch of rows written and removed, committed together; documents are
encoded before the batch reaches the writer thread, which runs SQL only.
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
    CREATE TABLE records (
        kind TEXT NOT NULL, id TEXT NOT NULL, doc TEXT NOT NULL,
        PRIMARY KEY (kind, id)
    )
    """,
]


@dataclass
class Batch:
    written: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (kind, id, doc)
    removed: list[tuple[str, str]] = field(default_factory=list)

    def write(self, kind: str, record_id: str, doc: dict[str, Any]) -> Batch:
        self.written.append((kind, record_id, doc))
        return self

    def remove(self, kind: str, record_id: str) -> Batch:
        self.removed.append((kind, record_id))
        return self


class CloudFrontStore:
    def __init__(self, path: Path, disk: DiskGuard | None = None) -> None:
        self.db = Database(path, MIGRATIONS, disk)

    def close(self) -> None:
        self.db.close()

    def rows(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Every record, (kind, id, document), in the order they were first written."""
        for kind, record_id, doc in self.db.query("SELECT kind, id, doc FROM records ORDER BY rowid"):
            yield kind, record_id, json.loads(doc)

    async def commit(self, batch: Batch) -> None:
        written = [(kind, rid, json.dumps(doc, default=str)) for kind, rid, doc in batch.written]
        removed = list(batch.removed)

        def run(conn: Connection) -> None:
            conn.executemany("DELETE FROM records WHERE kind = ? AND id = ?", removed)
            # An update keeps its row (and so its place in listings): INSERT ... ON CONFLICT, not REPLACE.
            conn.executemany("INSERT INTO records (kind, id, doc) VALUES (?, ?, ?) "
                             "ON CONFLICT (kind, id) DO UPDATE SET doc = excluded.doc", written)

        await self.db.write(run, grows=bool(written))

    async def wipe(self) -> None:
        await self.db.execute("DELETE FROM records", (), grows=False)
