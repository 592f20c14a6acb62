"""API Gateway's SQLite store: every statement the service runs, and nothing else.

One row per record (an API, a route, an integration, a stage, a deployment), its document as JSON. A
change to an API is one Batch: the records it writes and the ones it removes, committed together (a new
route and the deployment an auto-deploying stage makes of it land at once, or neither does). Documents
are encoded before the batch reaches the writer thread, which runs SQL only.
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
        api_id TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL, doc TEXT NOT NULL,
        PRIMARY KEY (api_id, kind, id)
    )
    """,
]


@dataclass
class Batch:
    """The records one operation writes and removes. `dropped_apis`: APIs removed with all they hold."""

    written: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)  # (api, kind, id, doc)
    removed: list[tuple[str, str, str]] = field(default_factory=list)
    dropped_apis: list[str] = field(default_factory=list)
    # Automatic deployments to make when the batch commits: (api, time, the one stage or None for every
    # auto-deploying stage). Made then, from the records as they are at that moment (conveyor...catalog).
    auto_deploys: list[tuple[Any, float, str | None]] = field(default_factory=list)

    def write(self, api_id: str, kind: str, record_id: str, doc: dict[str, Any]) -> None:
        self.written.append((api_id, kind, record_id, doc))

    def remove(self, api_id: str, kind: str, record_id: str) -> None:
        self.removed.append((api_id, kind, record_id))

    @property
    def grows(self) -> bool:
        return bool(self.written)


class ApiStore:
    def __init__(self, path: Path, disk: DiskGuard | None = None) -> None:
        self.db = Database(path, MIGRATIONS, disk)

    def close(self) -> None:
        self.db.close()

    def rows(self) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
        """Every record: (api id, kind, id, document)."""
        for api_id, kind, record_id, doc in self.db.query("SELECT api_id, kind, id, doc FROM records"):
            yield api_id, kind, record_id, json.loads(doc)

    async def commit(self, batch: Batch) -> None:
        written = [(api, kind, rid, json.dumps(doc, default=str)) for api, kind, rid, doc in batch.written]
        removed = list(batch.removed)
        dropped = [(api,) for api in batch.dropped_apis]

        def run(conn: Connection) -> None:
            conn.executemany("DELETE FROM records WHERE api_id = ?", dropped)
            conn.executemany("DELETE FROM records WHERE api_id = ? AND kind = ? AND id = ?", removed)
            conn.executemany("INSERT OR REPLACE INTO records (api_id, kind, id, doc) VALUES (?, ?, ?, ?)", written)

        await self.db.write(run, grows=batch.grows)

    async def wipe(self) -> None:
        await self.db.execute("DELETE FROM records", (), grows=False)
