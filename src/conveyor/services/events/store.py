"""EventBridge's SQLite store: every statement the service runs.

Buses and rules (with their targets) are few and live in memory too (conveyor.services.events.catalog);
the deliveries table is the outbox of matched events: a PutEvents (or a schedule's firing) writes one row
per (rule, target) before it answers, and a row is deleted once its target took the event, or it went
to the dead-letter queue, or it was dropped. Rows left by a crash are delivered at the next start.
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
    CREATE TABLE buses (
        region TEXT NOT NULL, name TEXT NOT NULL, description TEXT, policy TEXT, tags TEXT NOT NULL,
        created REAL NOT NULL,
        PRIMARY KEY (region, name)
    );
    CREATE TABLE rules (
        region TEXT NOT NULL, bus TEXT NOT NULL, name TEXT NOT NULL, pattern TEXT, schedule TEXT,
        state TEXT NOT NULL, description TEXT, role_arn TEXT, tags TEXT NOT NULL, targets TEXT NOT NULL,
        created REAL NOT NULL, anchor REAL NOT NULL, last_fired REAL,
        PRIMARY KEY (region, bus, name)
    );
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY, rule_arn TEXT NOT NULL, target TEXT NOT NULL, event TEXT NOT NULL,
        attempts INTEGER NOT NULL, first_at REAL NOT NULL, due REAL NOT NULL
    )
    """,
    # The account that made each rule, when another account made it on this account's bus (DescribeRule's
    # CreatedBy; the `events:creatorAccount` condition key); NULL: the account itself.
    "ALTER TABLE rules ADD COLUMN creator TEXT",
]


@dataclass(frozen=True)
class BusRow:
    region: str
    name: str
    description: str | None
    policy: str | None
    tags: dict[str, str]
    created: float


@dataclass(frozen=True)
class RuleRow:
    region: str
    bus: str
    name: str
    pattern: str | None
    schedule: str | None
    state: str
    description: str | None
    role_arn: str | None
    tags: dict[str, str]
    targets: list[dict[str, Any]]
    created: float
    anchor: float  # a rate schedule counts its periods from here
    last_fired: float | None  # the schedule's last firing time (the time it was due)
    creator: str | None = None  # another account that made the rule on this account's bus; None: this one

    def values(self) -> tuple[Any, ...]:
        return (self.region, self.bus, self.name, self.pattern, self.schedule, self.state, self.description,
                self.role_arn, json.dumps(self.tags), json.dumps(self.targets), self.created, self.anchor,
                self.last_fired, self.creator)


_RULE_COLUMNS = ("region, bus, name, pattern, schedule, state, description, role_arn, tags, targets, created, "
                 "anchor, last_fired, creator")


class EventsStore:
    def __init__(self, path: Path, disk: DiskGuard | None = None) -> None:
        self.db = Database(path, MIGRATIONS, disk)

    def close(self) -> None:
        self.db.close()

    # -- loading -------------------------------------------------------------------------------------
    def buses(self) -> list[BusRow]:
        return [BusRow(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]) for r in self.db.query(
            "SELECT region, name, description, policy, tags, created FROM buses")]

    def rules(self) -> list[RuleRow]:
        return [RuleRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8]), json.loads(r[9]), r[10],
                        r[11], r[12], r[13]) for r in self.db.query(f"SELECT {_RULE_COLUMNS} FROM rules")]

    def deliveries(self) -> list[DeliveryRow]:
        return [DeliveryRow(r[0], r[1], json.loads(r[2]), json.loads(r[3]), r[4], r[5], r[6]) for r in self.db.query(
            "SELECT id, rule_arn, target, event, attempts, first_at, due FROM deliveries ORDER BY id")]

    def last_delivery_id(self) -> int:
        return int(self.db.query("SELECT IFNULL(MAX(id), 0) FROM deliveries")[0][0])

    # -- buses ---------------------------------------------------------------------------------------
    async def put_bus(self, bus: BusRow) -> None:
        await self.db.execute(
            "INSERT OR REPLACE INTO buses (region, name, description, policy, tags, created) VALUES (?, ?, ?, ?, ?, ?)",
            (bus.region, bus.name, bus.description, bus.policy, json.dumps(bus.tags), bus.created))

    async def delete_bus(self, region: str, name: str) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM buses WHERE region = ? AND name = ?", (region, name))
            conn.execute("DELETE FROM rules WHERE region = ? AND bus = ?", (region, name))

        await self.db.write(run, grows=False)

    # -- rules ---------------------------------------------------------------------------------------
    async def put_rule(self, rule: RuleRow) -> None:
        await self.db.execute(f"INSERT OR REPLACE INTO rules ({_RULE_COLUMNS}) VALUES "
                              "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rule.values())

    async def delete_rule(self, region: str, bus: str, name: str) -> None:
        await self.db.execute("DELETE FROM rules WHERE region = ? AND bus = ? AND name = ?", (region, bus, name),
                              grows=False)

    # -- deliveries ----------------------------------------------------------------------------------
    @staticmethod
    def _delivery_values(rows: Sequence[DeliveryRow]) -> list[tuple[Any, ...]]:
        return [(d.id, d.source_arn, json.dumps(d.target), json.dumps(d.event, separators=(",", ":")), d.attempts,
                 d.first_at, d.due) for d in rows]

    async def add_deliveries(self, rows: Sequence[DeliveryRow], fired: tuple[RuleRow, float] | None = None) -> None:
        """Store matched events' deliveries in one commit; with `fired`, also the schedule firing that made
        them (so a restart neither loses nor repeats that firing)."""
        values = self._delivery_values(rows)

        def run(conn: sqlite3.Connection) -> None:
            conn.executemany("INSERT INTO deliveries (id, rule_arn, target, event, attempts, first_at, due) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)", values)
            if fired is not None:
                rule, when = fired
                conn.execute("UPDATE rules SET last_fired = ? WHERE region = ? AND bus = ? AND name = ?",
                             (when, rule.region, rule.bus, rule.name))

        await self.db.write(run)

    async def delivered(self, delivery_id: int) -> None:
        await self.db.execute("DELETE FROM deliveries WHERE id = ?", (delivery_id,), grows=False)

    async def retry_later(self, delivery_id: int, attempts: int, due: float) -> None:
        await self.db.execute("UPDATE deliveries SET attempts = ?, due = ? WHERE id = ?", (attempts, due, delivery_id),
                              grows=False)

    async def wipe(self) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM deliveries")
            conn.execute("DELETE FROM rules")
            conn.execute("DELETE FROM buses")

        await self.db.write(run, grows=False)
