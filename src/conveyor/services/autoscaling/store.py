"""Auto Scaling's SQLite store: groups (their settings and members), scaling policies, activities.
Documents are JSON in the model's member names; the engine keeps them in memory and writes first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conveyor.storage.db import Database
from conveyor.storage.disk import DiskGuard

MIGRATIONS = [
    """
    CREATE TABLE groups (region TEXT NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (region, name));
    CREATE TABLE policies (arn TEXT PRIMARY KEY, region TEXT NOT NULL, grp TEXT NOT NULL, doc TEXT NOT NULL);
    CREATE TABLE activities (id TEXT PRIMARY KEY, region TEXT NOT NULL, grp TEXT NOT NULL, started REAL NOT NULL,
                             doc TEXT NOT NULL);
    CREATE INDEX activities_group ON activities (region, grp, started)
    """,
]
ACTIVITIES_KEPT = 6 * 7 * 86400  # AWS keeps six weeks of scaling activities


class AutoScalingStore:
    def __init__(self, path: Path, disk: DiskGuard | None = None) -> None:
        self.db = Database(path, MIGRATIONS, disk)

    def close(self) -> None:
        self.db.close()

    def groups(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [(r[0], r[1], json.loads(r[2])) for r in self.db.query("SELECT region, name, doc FROM groups")]

    def policies(self) -> list[tuple[str, dict[str, Any]]]:
        return [(r[0], json.loads(r[1])) for r in self.db.query("SELECT region, doc FROM policies")]

    def activities(self, region: str, group: str | None) -> list[dict[str, Any]]:
        if group is None:
            rows = self.db.query("SELECT doc FROM activities WHERE region = ? ORDER BY started DESC", (region,))
        else:
            rows = self.db.query("SELECT doc FROM activities WHERE region = ? AND grp = ? ORDER BY started DESC",
                                 (region, group))
        return [json.loads(r[0]) for r in rows]

    async def put_group(self, region: str, name: str, doc: dict[str, Any],
                        activities: list[dict[str, Any]] | None = None) -> None:
        """The group's document and any activities that changed with it, in one commit."""
        row = (region, name, json.dumps(doc))
        acts = [(a["ActivityId"], region, name, a["StartTime"], json.dumps(a)) for a in activities or []]

        def write(conn: Any) -> None:
            conn.execute("INSERT OR REPLACE INTO groups (region, name, doc) VALUES (?, ?, ?)", row)
            conn.executemany("INSERT OR REPLACE INTO activities (id, region, grp, started, doc) VALUES (?, ?, ?, ?, ?)",
                             acts)

        await self.db.write(write)

    async def delete_group(self, region: str, name: str) -> None:
        def write(conn: Any) -> None:
            conn.execute("DELETE FROM groups WHERE region = ? AND name = ?", (region, name))
            conn.execute("DELETE FROM policies WHERE region = ? AND grp = ?", (region, name))

        await self.db.write(write, grows=False)

    async def put_policy(self, arn: str, region: str, group: str, doc: dict[str, Any]) -> None:
        await self.db.execute("INSERT OR REPLACE INTO policies (arn, region, grp, doc) VALUES (?, ?, ?, ?)",
                              (arn, region, group, json.dumps(doc)))

    async def delete_policy(self, arn: str) -> None:
        await self.db.execute("DELETE FROM policies WHERE arn = ?", (arn,), grows=False)

    async def expire_activities(self, before: float) -> None:
        await self.db.execute("DELETE FROM activities WHERE started < ?", (before,), grows=False)

    async def wipe(self) -> None:
        def write(conn: Any) -> None:
            for table in ("groups", "policies", "activities"):
                conn.execute(f"DELETE FROM {table}")

        await self.db.write(write, grows=False)
