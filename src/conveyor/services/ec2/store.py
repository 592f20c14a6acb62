"""EC2's SQLite store: launch templates with their versions, and instances.

Each row keeps the resource's document as JSON (what Describe* answers, in the model's member names,
timestamps as epoch seconds), so the engine's rules stay in Python and every SQL statement is here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conveyor.storage.db import Database
from conveyor.storage.disk import DiskGuard

MIGRATIONS = [
    """
    CREATE TABLE templates (id TEXT PRIMARY KEY, region TEXT NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL);
    CREATE UNIQUE INDEX templates_name ON templates (region, name);
    CREATE TABLE versions (template_id TEXT NOT NULL, number INTEGER NOT NULL, doc TEXT NOT NULL,
                           PRIMARY KEY (template_id, number));
    CREATE TABLE instances (id TEXT PRIMARY KEY, region TEXT NOT NULL, doc TEXT NOT NULL)
    """,
    # VPCs, subnets and security groups made by CreateVpc, CreateSubnet and CreateSecurityGroup.
    """
    CREATE TABLE network (id TEXT PRIMARY KEY, region TEXT NOT NULL, kind TEXT NOT NULL, doc TEXT NOT NULL)
    """,
]


class Ec2Store:
    def __init__(self, path: Path, disk: DiskGuard | None = None) -> None:
        self.db = Database(path, MIGRATIONS, disk)

    def close(self) -> None:
        self.db.close()

    # -- reads (at start: the engine keeps everything in memory) -------------------------------------
    def templates(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [(r[0], r[1], json.loads(r[2])) for r in self.db.query("SELECT id, region, doc FROM templates")]

    def versions(self) -> list[tuple[str, int, dict[str, Any]]]:
        return [(r[0], r[1], json.loads(r[2])) for r in self.db.query("SELECT template_id, number, doc FROM versions")]

    def instances(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [(r[0], r[1], json.loads(r[2])) for r in self.db.query("SELECT id, region, doc FROM instances")]

    def network(self) -> list[tuple[str, str, str, dict[str, Any]]]:
        rows = self.db.query("SELECT id, region, kind, doc FROM network ORDER BY rowid")
        return [(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    # -- writes ------------------------------------------------------------------------------------
    async def put_template(self, template_id: str, region: str, name: str, doc: dict[str, Any],
                           version: tuple[int, dict[str, Any]] | None = None) -> None:
        """The template's row and, when given, one new version of it, in one commit."""
        row = (template_id, region, name, json.dumps(doc))
        version_row = (template_id, version[0], json.dumps(version[1])) if version is not None else None

        def write(conn: Any) -> None:
            conn.execute("INSERT OR REPLACE INTO templates (id, region, name, doc) VALUES (?, ?, ?, ?)", row)
            if version_row is not None:
                conn.execute("INSERT INTO versions (template_id, number, doc) VALUES (?, ?, ?)", version_row)

        await self.db.write(write)

    async def delete_template(self, template_id: str) -> None:
        def write(conn: Any) -> None:
            conn.execute("DELETE FROM versions WHERE template_id = ?", (template_id,))
            conn.execute("DELETE FROM templates WHERE id = ?", (template_id,))

        await self.db.write(write, grows=False)

    async def delete_versions(self, template_id: str, numbers: list[int]) -> None:
        await self.db.executemany("DELETE FROM versions WHERE template_id = ? AND number = ?",
                                  [(template_id, n) for n in numbers], grows=False)

    async def put_instances(self, instances: list[tuple[str, str, dict[str, Any]]]) -> None:
        rows = [(i, region, json.dumps(doc)) for i, region, doc in instances]
        await self.db.executemany("INSERT OR REPLACE INTO instances (id, region, doc) VALUES (?, ?, ?)", rows)

    async def update_instances(self, instances: list[tuple[str, str, dict[str, Any]]]) -> None:
        """A state change or new tags: in place (runs on a full disk, so terminations always can)."""
        rows = [(json.dumps(doc), i) for i, _, doc in instances]
        await self.db.executemany("UPDATE instances SET doc = ? WHERE id = ?", rows, grows=False)

    async def delete_instances(self, ids: list[str]) -> None:
        await self.db.executemany("DELETE FROM instances WHERE id = ?", [(i,) for i in ids], grows=False)

    async def put_network(self, rows: list[tuple[str, str, str, dict[str, Any]]]) -> None:
        encoded = [(i, region, kind, json.dumps(doc)) for i, region, kind, doc in rows]
        await self.db.executemany("INSERT OR REPLACE INTO network (id, region, kind, doc) VALUES (?, ?, ?, ?)", encoded)

    async def delete_network(self, ids: list[str]) -> None:
        await self.db.executemany("DELETE FROM network WHERE id = ?", [(i,) for i in ids], grows=False)

    async def wipe(self) -> None:
        def write(conn: Any) -> None:
            for table in ("versions", "templates", "instances", "network"):
                conn.execute(f"DELETE FROM {table}")

        await self.db.write(write, grows=False)
