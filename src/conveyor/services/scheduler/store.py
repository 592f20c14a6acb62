"""EventBridge Scheduler's SQLite store: every statement the service runs.

Groups and schedules are few and live in memory too; the deliveries table is the outbox of invocations:
a schedule's firing stores its delivery in one commit with the schedule's `last_fired` (and, for a
schedule that is then complete and set to delete itself, its deletion).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.services.retrying import DeliveryRow
from conveyor.storage.db import Database
from conveyor.storage.disk import DiskGuard

MIGRATIONS = [
    """
    CREATE TABLE groups (
        region TEXT NOT NULL, name TEXT NOT NULL, tags TEXT NOT NULL, created REAL NOT NULL,
        PRIMARY KEY (region, name)
    );
    CREATE TABLE schedules (
        region TEXT NOT NULL, grp TEXT NOT NULL, name TEXT NOT NULL, spec TEXT NOT NULL, created REAL NOT NULL,
        modified REAL NOT NULL, last_fired REAL,
        PRIMARY KEY (region, grp, name)
    );
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY, source_arn TEXT NOT NULL, target TEXT NOT NULL, event TEXT NOT NULL,
        attempts INTEGER NOT NULL, first_at REAL NOT NULL, due REAL NOT NULL
    )
    """,
    # The ClientToken of the CreateSchedule that made a schedule: a retry of that call with the same token
    # answers it again instead of a conflict.
    "ALTER TABLE schedules ADD COLUMN client_token TEXT",
]


@dataclass(frozen=True)
class GroupRow:
    region: str
    name: str
    tags: dict[str, str]
    created: float


@dataclass(frozen=True)
class ScheduleRow:
    region: str
    group: str
    name: str
    spec: dict[str, Any]  # what CreateSchedule/UpdateSchedule gave, as GetSchedule answers it
    created: float
    modified: float
    last_fired: float | None
    client_token: str | None = None


Key = tuple[str, str, str]


class SchedulerStore:
    def __init__(self, path: Path, disk: DiskGuard | None = None) -> None:
        self.db = Database(path, MIGRATIONS, disk)

    def close(self) -> None:
        self.db.close()

    # -- loading -------------------------------------------------------------------------------------
    def groups(self) -> list[GroupRow]:
        return [GroupRow(r[0], r[1], json.loads(r[2]), r[3])
                for r in self.db.query("SELECT region, name, tags, created FROM groups")]

    def schedules(self) -> list[ScheduleRow]:
        return [ScheduleRow(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6], r[7]) for r in self.db.query(
            "SELECT region, grp, name, spec, created, modified, last_fired, client_token FROM schedules")]

    def deliveries(self) -> list[DeliveryRow]:
        return [DeliveryRow(r[0], r[1], json.loads(r[2]), json.loads(r[3]), r[4], r[5], r[6]) for r in self.db.query(
            "SELECT id, source_arn, target, event, attempts, first_at, due FROM deliveries ORDER BY id")]

    def last_delivery_id(self) -> int:
        return int(self.db.query("SELECT IFNULL(MAX(id), 0) FROM deliveries")[0][0])

    # -- groups --------------------------------------------------------------------------------------
    async def put_group(self, group: GroupRow) -> None:
        await self.db.execute("INSERT OR REPLACE INTO groups (region, name, tags, created) VALUES (?, ?, ?, ?)",
                              (group.region, group.name, json.dumps(group.tags), group.created))

    async def delete_group(self, region: str, name: str) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM groups WHERE region = ? AND name = ?", (region, name))
            conn.execute("DELETE FROM schedules WHERE region = ? AND grp = ?", (region, name))

        await self.db.write(run, grows=False)

    # -- schedules -----------------------------------------------------------------------------------
    async def put_schedule(self, row: ScheduleRow) -> None:
        await self.db.execute(
            "INSERT OR REPLACE INTO schedules (region, grp, name, spec, created, modified, last_fired, client_token) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (row.region, row.group, row.name, json.dumps(row.spec), row.created, row.modified, row.last_fired,
             row.client_token))

    async def delete_schedule(self, key: Key) -> None:
        await self.db.execute("DELETE FROM schedules WHERE region = ? AND grp = ? AND name = ?", key, grows=False)

    async def fired(self, rows: Sequence[DeliveryRow], key: Key, when: float, delete: bool) -> None:
        """A firing: its deliveries and the schedule's last_fired (or, when it is complete and deletes
        itself, its deletion) in one commit."""
        values = [(d.id, d.source_arn, json.dumps(d.target), json.dumps(d.event), d.attempts, d.first_at, d.due)
                  for d in rows]

        def run(conn: sqlite3.Connection) -> None:
            conn.executemany("INSERT INTO deliveries (id, source_arn, target, event, attempts, first_at, due) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)", values)
            if delete:
                conn.execute("DELETE FROM schedules WHERE region = ? AND grp = ? AND name = ?", key)
            else:
                conn.execute("UPDATE schedules SET last_fired = ? WHERE region = ? AND grp = ? AND name = ?",
                             (when, *key))

        await self.db.write(run)

    # -- deliveries ----------------------------------------------------------------------------------
    async def delivered(self, delivery_id: int) -> None:
        await self.db.execute("DELETE FROM deliveries WHERE id = ?", (delivery_id,), grows=False)

    async def retry_later(self, delivery_id: int, attempts: int, due: float) -> None:
        await self.db.execute("UPDATE deliveries SET attempts = ?, due = ? WHERE id = ?", (attempts, due, delivery_id),
                              grows=False)

    async def wipe(self) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM deliveries")
            conn.execute("DELETE FROM schedules")
            conn.execute("DELETE FROM groups")

        await self.db.write(run, grows=False)
