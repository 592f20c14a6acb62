"""Elastic Load Balancing's SQLite store: load balancers, target groups, listeners and rules (one document
each, in the model's member names, with their tags and attributes), and each target group's registered
targets. The engine keeps them in memory and writes first."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from conveyor.storage.db import Database
from conveyor.storage.disk import DiskGuard

MIGRATIONS = [
    """
    CREATE TABLE resources (arn TEXT PRIMARY KEY, kind TEXT NOT NULL, region TEXT NOT NULL, doc TEXT NOT NULL);
    CREATE TABLE targets (grp TEXT NOT NULL, target TEXT NOT NULL, port INTEGER NOT NULL, doc TEXT NOT NULL,
                          PRIMARY KEY (grp, target, port))
    """,
]

# (arn, kind, region, document)
Row = tuple[str, str, str, dict[str, Any]]


class ElbStore:
    def __init__(self, path: Path, disk: DiskGuard | None = None) -> None:
        self.db = Database(path, MIGRATIONS, disk)

    def close(self) -> None:
        self.db.close()

    def resources(self) -> list[Row]:
        rows = self.db.query("SELECT arn, kind, region, doc FROM resources ORDER BY rowid")
        return [(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    def targets(self) -> list[tuple[str, dict[str, Any]]]:
        return [(r[0], json.loads(r[1])) for r in self.db.query("SELECT grp, doc FROM targets ORDER BY rowid")]

    async def put(self, rows: Sequence[Row], grows: bool = True) -> None:
        """Create or replace resources, in one commit."""
        encoded = [(arn, kind, region, json.dumps(doc)) for arn, kind, region, doc in rows]

        def write(conn: Any) -> None:
            conn.executemany("INSERT INTO resources (arn, kind, region, doc) VALUES (?, ?, ?, ?) ON CONFLICT (arn) "
                             "DO UPDATE SET doc = excluded.doc", encoded)

        await self.db.write(write, grows=grows)

    async def delete(self, arns: Sequence[str], target_groups: Sequence[str] = ()) -> None:
        """Delete resources (and the targets of deleted target groups), in one commit."""
        gone = [(arn,) for arn in arns]
        groups = [(arn,) for arn in target_groups]

        def write(conn: Any) -> None:
            conn.executemany("DELETE FROM resources WHERE arn = ?", gone)
            conn.executemany("DELETE FROM targets WHERE grp = ?", groups)

        await self.db.write(write, grows=False)

    async def put_targets(self, group_arn: str, docs: Sequence[dict[str, Any]]) -> None:
        rows = [(group_arn, d["Id"], d["Port"], json.dumps(d)) for d in docs]
        await self.db.executemany("INSERT OR REPLACE INTO targets (grp, target, port, doc) VALUES (?, ?, ?, ?)", rows)

    async def put_target_health(self, group_arn: str, key: tuple[str, int], health: dict[str, Any]) -> None:
        """Set a registered target's health fields only (a target deregistered meanwhile stays as it is)."""

        def write(conn: Any) -> None:
            row = conn.execute("SELECT doc FROM targets WHERE grp = ? AND target = ? AND port = ?",
                               (group_arn, key[0], key[1])).fetchone()
            if row is None:
                return
            doc = {**json.loads(row[0]), **health}
            conn.execute("UPDATE targets SET doc = ? WHERE grp = ? AND target = ? AND port = ?",
                         (json.dumps(doc), group_arn, key[0], key[1]))

        await self.db.write(write, grows=False)

    async def delete_targets(self, group_arn: str, keys: Sequence[tuple[str, int]]) -> None:
        rows = [(group_arn, target, port) for target, port in keys]
        await self.db.executemany("DELETE FROM targets WHERE grp = ? AND target = ? AND port = ?", rows, grows=False)

    async def wipe(self) -> None:
        def write(conn: Any) -> None:
            conn.execute("DELETE FROM resources")
            conn.execute("DELETE FROM targets")

        await self.db.write(write, grows=False)
