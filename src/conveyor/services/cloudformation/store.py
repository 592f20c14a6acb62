"""CloudFormation's SQLite store: stacks (each a JSON document of its state, resources and journal included),
their events, and change sets. Rows are encoded before the write; the writer runs SQL only."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from conveyor.storage.db import Database
from conveyor.storage.disk import DiskGuard

MIGRATIONS = [
    """
    CREATE TABLE stacks (stack_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
    CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, stack_id TEXT NOT NULL, doc TEXT NOT NULL);
    CREATE INDEX events_by_stack ON events (stack_id, seq);
    CREATE TABLE change_sets (change_set_id TEXT PRIMARY KEY, stack_id TEXT NOT NULL, doc TEXT NOT NULL)
    """,
]


class StackStore:
    def __init__(self, path: Path, disk: DiskGuard | None = None) -> None:
        self.db = Database(path, MIGRATIONS, disk)

    def close(self) -> None:
        self.db.close()

    def stacks(self) -> list[dict[str, Any]]:
        return [json.loads(row[0]) for row in self.db.query("SELECT doc FROM stacks")]

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        return [(row[0], json.loads(row[1])) for row in self.db.query("SELECT stack_id, doc FROM events ORDER BY seq")]

    def change_sets(self) -> list[dict[str, Any]]:
        return [json.loads(row[0]) for row in self.db.query("SELECT doc FROM change_sets")]

    async def put_stack(self, stack: dict[str, Any], events: list[dict[str, Any]]) -> None:
        """The stack's new state and the events that led to it, in one commit."""
        stack_id = stack["StackId"]
        doc = json.dumps(stack)
        rows = [(stack_id, json.dumps(event)) for event in events]

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT OR REPLACE INTO stacks (stack_id, doc) VALUES (?, ?)", (stack_id, doc))
            conn.executemany("INSERT INTO events (stack_id, doc) VALUES (?, ?)", rows)

        await self.db.write(write)

    async def put_change_set(self, change_set: dict[str, Any]) -> None:
        await self.db.execute("INSERT OR REPLACE INTO change_sets (change_set_id, stack_id, doc) VALUES (?, ?, ?)",
                              (change_set["ChangeSetId"], change_set["StackId"], json.dumps(change_set)))

    async def delete_change_sets(self, ids: list[str]) -> None:
        await self.db.executemany("DELETE FROM change_sets WHERE change_set_id = ?", [(i,) for i in ids], grows=False)

    async def wipe(self) -> None:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM stacks")
            conn.execute("DELETE FROM events")
            conn.execute("DELETE FROM change_sets")

        await self.db.write(write, grows=False)
