"""The SQL of point-in-time recovery, exports and imports (over the same database as DynamoStore).

`item_history` holds, for a table with point-in-time recovery enabled, every change to an item: when, its
image before and its image after (stored JSON, NULL when absent), in the commit of the change itself. The
table as it was at time T is its items now, except that each item changed after T is its image before the
first change after T. `transfers` holds each export's and import's description (JSON), so that a restart
finds the ones still running.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from conveyor.storage.db import Database


@dataclass(frozen=True)
class Change:
    """An item's changes within a time window: its image before the first, after the last (None: absent),
    and when the last was made."""

    hk: bytes
    rk: bytes
    old: str | None
    new: str | None
    at: float


@dataclass(frozen=True)
class TransferRow:
    arn: str
    kind: str  # "export" or "import"
    region: str
    created: float
    description: str  # JSON


@dataclass(frozen=True)
class RestoredItem:
    hk: bytes
    rk: bytes
    seg: int
    item: str
    size: int
    entries: Sequence[tuple[str, bytes, bytes, int]]  # (index name, ihk, irk, seg)


class HistoryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- point-in-time history -------------------------------------------------------------------------
    def before_changes_after(self, table_id: int, after: float) -> dict[tuple[bytes, bytes], str | None]:
        """Each item changed after `after`: its image before its first change since (None: it did not exist)."""
        rows = self.db.query("SELECT hk, rk, old, MIN(seq) FROM item_history WHERE table_id = ? AND at > ? "
                             "GROUP BY hk, rk", (table_id, after))
        return {(bytes(r[0]), bytes(r[1])): (str(r[2]) if r[2] is not None else None) for r in rows}

    def changes_between(self, table_id: int, start: float, end: float) -> list[Change]:
        """Each item changed at `start` or later and before `end`, its first change's old image and its last
        change's new image (one record per item, as an incremental export compacts them)."""
        firsts = self.db.query("SELECT hk, rk, old, MIN(seq) FROM item_history WHERE table_id = ? AND at >= ? AND "
                               "at < ? GROUP BY hk, rk", (table_id, start, end))
        lasts = self.db.query("SELECT hk, rk, new, at, MAX(seq) FROM item_history WHERE table_id = ? AND at >= ? AND "
                              "at < ? GROUP BY hk, rk ORDER BY hk, rk", (table_id, start, end))
        old = {(bytes(r[0]), bytes(r[1])): r[2] for r in firsts}
        return [Change(bytes(r[0]), bytes(r[1]), old.get((bytes(r[0]), bytes(r[1]))),
                       str(r[2]) if r[2] is not None else None, float(r[3])) for r in lasts]

    async def trim(self, horizons: Sequence[tuple[int, float]]) -> None:
        """Forget each table's changes before its horizon (its recovery period); -inf keeps all, +inf none."""
        def run(conn: sqlite3.Connection) -> None:
            conn.executemany("DELETE FROM item_history WHERE table_id = ? AND at < ?", list(horizons))

        await self.db.write(run, grows=False)

    async def forget(self, table_id: int, spec: str) -> None:
        """Point-in-time recovery turned off: the table's new settings, and its history gone with them."""
        def run(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE tables SET spec = ? WHERE id = ?", (spec, table_id))
            conn.execute("DELETE FROM item_history WHERE table_id = ?", (table_id,))

        await self.db.write(run, grows=False)

    async def create_with_items(self, table_id: int, region: str, name: str, created: float, spec: str,
                                items: Sequence[RestoredItem]) -> None:
        """A new table (a point-in-time restore) with its items and index entries, in one commit."""
        def run(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO tables (id, region, name, created, spec) VALUES (?, ?, ?, ?, ?)",
                         (table_id, region, name, created, spec))
            conn.executemany("INSERT INTO items (table_id, hk, rk, seg, item, size) VALUES (?, ?, ?, ?, ?, ?)",
                             [(table_id, i.hk, i.rk, i.seg, i.item, i.size) for i in items])
            conn.executemany("INSERT OR REPLACE INTO index_entries (table_id, index_name, ihk, irk, hk, rk, seg) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)",
                             [(table_id, e[0], e[1], e[2], i.hk, i.rk, e[3]) for i in items for e in i.entries])

        await self.db.write(run)

    # -- exports and imports ---------------------------------------------------------------------------
    def transfers(self) -> list[TransferRow]:
        return [TransferRow(str(r[0]), str(r[1]), str(r[2]), float(r[3]), str(r[4])) for r in self.db.query(
            "SELECT arn, kind, region, created, description FROM transfers ORDER BY rowid")]  # in creation order

    async def save_transfer(self, row: TransferRow) -> None:
        await self.db.execute("INSERT INTO transfers (arn, kind, region, created, description) VALUES (?, ?, ?, ?, ?) "
                              "ON CONFLICT (arn) DO UPDATE SET description = excluded.description",
                              (row.arn, row.kind, row.region, row.created, row.description))
