"""DynamoDB's SQLite store: every statement the service runs.

Tables are few and live in memory too (conveyor.services.dynamodb.catalog); items live only here. An
item's key is two BLOB columns, `hk` (the partition key) and `rk` (the sort key, empty without one), each
encoded by `values.key_bytes` so that SQLite's BLOB order (memcmp) is DynamoDB's order: strings by UTF-8
bytes, numbers by value, binary by bytes. Query and Scan read pages in that order with row-value
comparisons, so the LastEvaluatedKey of a page is where the next one starts.

A secondary index's entries are rows of `index_entries` (the index's keys, then the item's keys, so that
items sharing index keys keep the table's order), written in the same transaction as their item: an index
never lags or leads its table. `seg` is a 16-bit hash of the partition key: Scan's Segment/TotalSegments
split that range. Writes are SQL alone: the engine encodes rows before it queues them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.services.dynamodb.history_store import HistoryStore
from conveyor.storage.db import Database
from conveyor.storage.disk import DiskGuard

MIGRATIONS = [
    """
    CREATE TABLE tables (
        id INTEGER PRIMARY KEY, region TEXT NOT NULL, name TEXT NOT NULL, created REAL NOT NULL,
        spec TEXT NOT NULL,
        UNIQUE (region, name)
    );
    CREATE TABLE items (
        table_id INTEGER NOT NULL, hk BLOB NOT NULL, rk BLOB NOT NULL, seg INTEGER NOT NULL,
        item TEXT NOT NULL, size INTEGER NOT NULL,
        PRIMARY KEY (table_id, hk, rk)
    ) WITHOUT ROWID;
    CREATE TABLE index_entries (
        table_id INTEGER NOT NULL, index_name TEXT NOT NULL, ihk BLOB NOT NULL, irk BLOB NOT NULL,
        hk BLOB NOT NULL, rk BLOB NOT NULL, seg INTEGER NOT NULL,
        PRIMARY KEY (table_id, index_name, ihk, irk, hk, rk)
    ) WITHOUT ROWID;
    CREATE INDEX index_entries_by_item ON index_entries (table_id, hk, rk);
    CREATE TABLE tokens (
        token TEXT PRIMARY KEY, digest TEXT NOT NULL, at REAL NOT NULL
    )
    """,
    # Streams: a record per item change, written with the change; `seq` is a server-wide counter whose
    # high-water mark `meta` keeps once records are trimmed. TTL: an item's expiry (epoch seconds) when
    # its table's TTL attribute holds a number.
    """
    CREATE TABLE stream_records (
        seq INTEGER PRIMARY KEY, table_id INTEGER NOT NULL, label TEXT NOT NULL, at REAL NOT NULL,
        record TEXT NOT NULL
    );
    CREATE INDEX stream_records_by_stream ON stream_records (table_id, label, seq);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    ALTER TABLE items ADD COLUMN expires REAL;
    CREATE INDEX items_by_expiry ON items (table_id, expires) WHERE expires IS NOT NULL
    """,
    # On-demand backups: the table's settings, items and index entries as they were, copied in one commit.
    """
    CREATE TABLE backups (
        arn TEXT PRIMARY KEY, region TEXT NOT NULL, name TEXT NOT NULL, created REAL NOT NULL,
        table_name TEXT NOT NULL, table_created REAL NOT NULL, spec TEXT NOT NULL,
        item_count INTEGER NOT NULL DEFAULT 0, size INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE backup_items (
        arn TEXT NOT NULL, hk BLOB NOT NULL, rk BLOB NOT NULL, seg INTEGER NOT NULL, item TEXT NOT NULL,
        size INTEGER NOT NULL,
        PRIMARY KEY (arn, hk, rk)
    ) WITHOUT ROWID;
    CREATE TABLE backup_entries (
        arn TEXT NOT NULL, index_name TEXT NOT NULL, ihk BLOB NOT NULL, irk BLOB NOT NULL, hk BLOB NOT NULL,
        rk BLOB NOT NULL, seg INTEGER NOT NULL,
        PRIMARY KEY (arn, index_name, ihk, irk, hk, rk)
    ) WITHOUT ROWID
    """,
    # Point-in-time recovery: each change to an item of a table with PITR enabled, its images before and
    # after, written in the change's commit (a table's state at any earlier time is its items now with the
    # changes since undone). Exports and imports: their descriptions, so that a restart finds them.
    """
    CREATE TABLE item_history (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, table_id INTEGER NOT NULL, at REAL NOT NULL, hk BLOB NOT NULL,
        rk BLOB NOT NULL, old TEXT, new TEXT
    );
    CREATE INDEX item_history_by_time ON item_history (table_id, at);
    CREATE TABLE transfers (
        arn TEXT PRIMARY KEY, kind TEXT NOT NULL, region TEXT NOT NULL, created REAL NOT NULL,
        description TEXT NOT NULL
    );
    ALTER TABLE backups ADD COLUMN kind TEXT NOT NULL DEFAULT 'USER'
    """,
]

PAGE_ROWS = 200  # rows read from SQLite at a time while a page fills

# A row of a page being read: (hk, rk, the item's stored JSON, its size as AWS counts it, kept at its write).
PageRow = tuple[bytes, bytes, str, int]


@dataclass(frozen=True)
class TableRow:
    id: int
    region: str
    name: str
    created: float
    spec: str


@dataclass(frozen=True)
class BackupRow:
    arn: str
    region: str
    name: str
    created: float
    table_name: str
    table_created: float
    spec: str  # the table's settings when backed up
    item_count: int = 0
    size: int = 0
    kind: str = "USER"  # BackupType: USER, or SYSTEM (made when a table with point-in-time recovery is deleted)


@dataclass(frozen=True)
class IndexEntry:
    index_name: str
    ihk: bytes
    irk: bytes
    seg: int


@dataclass(frozen=True)
class StreamRow:
    """A stream record to store; its sequence number is given inside the commit that stores it."""

    table_id: int
    label: str
    at: float
    record: str  # JSON


@dataclass(frozen=True)
class HistoryRow:
    """An item's images before and after a change (stored JSON; None: absent), for point-in-time recovery."""

    at: float
    old: str | None
    new: str | None


@dataclass(slots=True)
class ItemWrite:
    """One item's new state: `item` is its stored JSON, or None to delete it; the stream record of the
    change, if its table has a stream; when the item expires (TTL), if it does. (Not frozen: one is made
    per write, and a frozen dataclass sets each field through object.__setattr__, five times as slow.)"""

    table_id: int
    hk: bytes
    rk: bytes
    seg: int
    item: str | None
    size: int = 0
    entries: Sequence[IndexEntry] = ()
    stream: StreamRow | None = None
    expires: float | None = None
    history: HistoryRow | None = None  # its table keeps point-in-time history
    # Whether the item's table has secondary indexes, so that an item stored may replace one with index
    # entries: a put into a table without any (none of its items has entries: dropping an index drops its
    # entries in the same commit) skips deleting them. A deletion always deletes them.
    indexed: bool = True


# The highest stream sequence number ever stored: the records' highest, or the mark kept when old records
# were trimmed.
_HIGH_WATER = ("SELECT MAX((SELECT IFNULL(MAX(seq), 0) FROM stream_records), "
               "(SELECT IFNULL(MAX(value), 0) FROM meta WHERE key = 'seq'))")


@dataclass(frozen=True)
class Bound:
    """One end of a sort key range: the encoded value and whether it is included."""

    value: bytes
    inclusive: bool


class DynamoStore:
    def __init__(self, path: Path, disk: DiskGuard | None = None) -> None:
        self.db = Database(path, MIGRATIONS, disk)
        self.history = HistoryStore(self.db)
        # Told, after each commit that stored stream records, which tables' streams grew (readers wake).
        self.on_stream: Callable[[set[int]], None] | None = None
        # The highest stream sequence number committed: set from the database at start, raised after each
        # commit that stored records (the numbers themselves are taken inside the commit, see apply()).
        self.last_seq = 0

    def close(self) -> None:
        self.db.close()

    # -- tables --------------------------------------------------------------------------------------
    def tables(self) -> list[TableRow]:
        return [TableRow(*row) for row in self.db.query("SELECT id, region, name, created, spec FROM tables")]

    def max_table_id(self) -> int:
        return int(self.db.query("SELECT IFNULL(MAX(id), 0) FROM tables")[0][0])

    async def create_table(self, row: TableRow) -> None:
        await self.db.execute("INSERT INTO tables (id, region, name, created, spec) VALUES (?, ?, ?, ?, ?)",
                              (row.id, row.region, row.name, row.created, row.spec))

    async def update_table(self, table_id: int, spec: str, dropped_indexes: Sequence[str] = (),
                           added_indexes: Sequence[str] = (),
                           entries_of: Callable[[str], Sequence[IndexEntry]] | None = None) -> None:
        """A table's new settings; the entries of dropped indexes go, and a new index's come, in the same
        commit. The new index's entries (`entries_of` a stored item) are computed here, in the writer, from
        the items as every earlier commit left them: a write committed just before is in the backfill, and
        none committed after it can be missed by it (the catalog makes later writes write the new index's
        entries themselves)."""
        def run(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE tables SET spec = ? WHERE id = ?", (spec, table_id))
            conn.executemany("DELETE FROM index_entries WHERE table_id = ? AND index_name = ?",
                             [(table_id, name) for name in (*dropped_indexes, *added_indexes)])
            if entries_of is None:
                return
            items = conn.execute("SELECT hk, rk, item FROM items WHERE table_id = ?", (table_id,))
            try:
                while rows := items.fetchmany(PAGE_ROWS):
                    conn.executemany("INSERT OR REPLACE INTO index_entries (table_id, index_name, ihk, irk, hk, rk, "
                                     "seg) VALUES (?, ?, ?, ?, ?, ?, ?)",
                                     [(table_id, e.index_name, e.ihk, e.irk, hk, rk, e.seg)
                                      for hk, rk, text in rows for e in entries_of(str(text))])
            finally:
                items.close()

        await self.db.write(run, grows=entries_of is not None)

    async def delete_table(self, table_id: int, backup: BackupRow | None = None) -> BackupRow | None:
        """Delete a table with its items, after copying them to `backup` (a system backup), in one commit;
        the backup with its counts."""
        def run(conn: sqlite3.Connection) -> BackupRow | None:
            kept = None
            if backup is not None:
                count, size = _copy_to_backup(conn, backup, table_id)
                kept = dataclasses.replace(backup, item_count=count, size=size)
            conn.execute("DELETE FROM index_entries WHERE table_id = ?", (table_id,))
            conn.execute("DELETE FROM items WHERE table_id = ?", (table_id,))
            conn.execute("DELETE FROM item_history WHERE table_id = ?", (table_id,))
            conn.execute("DELETE FROM tables WHERE id = ?", (table_id,))
            return kept

        result: BackupRow | None = await self.db.write(run, grows=backup is not None)
        return result

    def counts(self, table_id: int) -> tuple[int, int]:
        """(item count, total item bytes) of a table."""
        row = self.db.query("SELECT COUNT(*), IFNULL(SUM(size), 0) FROM items WHERE table_id = ?", (table_id,))[0]
        return int(row[0]), int(row[1])

    def index_counts(self, table_id: int) -> dict[str, tuple[int, int]]:
        rows = self.db.query("SELECT e.index_name, COUNT(*), IFNULL(SUM(i.size), 0) FROM index_entries e JOIN items i "
                             "ON i.table_id = e.table_id AND i.hk = e.hk AND i.rk = e.rk WHERE e.table_id = ? "
                             "GROUP BY e.index_name", (table_id,))
        return {str(r[0]): (int(r[1]), int(r[2])) for r in rows}

    # -- items ---------------------------------------------------------------------------------------
    def get(self, table_id: int, hk: bytes, rk: bytes) -> str | None:
        rows = self.db.query("SELECT item FROM items WHERE table_id = ? AND hk = ? AND rk = ?", (table_id, hk, rk))
        return str(rows[0][0]) if rows else None

    def get_many(self, ids: Sequence[tuple[int, bytes, bytes]]) -> list[str | None]:
        """Several items as of one moment (one read transaction): a transaction's reads see all of another
        transaction's writes or none of them."""
        reader = self.db.reader
        reader.execute("BEGIN")
        try:
            found = []
            for table_id, hk, rk in ids:
                row = reader.execute("SELECT item FROM items WHERE table_id = ? AND hk = ? AND rk = ?",
                                     (table_id, hk, rk)).fetchone()
                found.append(str(row[0]) if row is not None else None)
            return found
        finally:
            reader.execute("COMMIT")

    def all_items(self, table_id: int) -> Iterator[tuple[bytes, bytes, str]]:
        """Every item of a table ((hk, rk, item)), in key order, a chunk at a time (a new index's backfill)."""
        after: tuple[bytes, bytes] | None = None
        while True:
            if after is None:
                rows = self.db.query("SELECT hk, rk, item FROM items WHERE table_id = ? ORDER BY hk, rk LIMIT ?",
                                     (table_id, PAGE_ROWS))
            else:
                rows = self.db.query("SELECT hk, rk, item FROM items WHERE table_id = ? AND (hk, rk) > (?, ?) "
                                     "ORDER BY hk, rk LIMIT ?", (table_id, *after, PAGE_ROWS))
            for row in rows:
                yield bytes(row[0]), bytes(row[1]), str(row[2])
            if len(rows) < PAGE_ROWS:
                return
            after = (bytes(rows[-1][0]), bytes(rows[-1][1]))

    async def apply(self, writes: Sequence[ItemWrite], token: tuple[str, str, float] | None = None) -> None:
        """Items' new states (and a transaction's client token), all in one commit.

        Stream records take their sequence numbers here, inside the commit, from the highest one stored:
        numbers follow the order of commits, a write that fails or never commits (a crash) takes none,
        so the numbers have no gap a reader could wait on and are never handed out twice."""
        streamed = grows = False
        for w in writes:  # one pass (most calls carry one write)
            streamed = streamed or w.stream is not None
            grows = grows or w.item is not None or w.history is not None

        def run(conn: sqlite3.Connection) -> int:
            seq = 0
            if streamed:
                seq = int(conn.execute(_HIGH_WATER).fetchone()[0])
            for w in writes:
                if w.history is not None:
                    h = w.history
                    conn.execute("INSERT INTO item_history (table_id, at, hk, rk, old, new) VALUES (?, ?, ?, ?, ?, ?)",
                                 (w.table_id, h.at, w.hk, w.rk, h.old, h.new))
                if w.stream is not None:
                    r = w.stream
                    seq += 1
                    conn.execute("INSERT INTO stream_records (seq, table_id, label, at, record) VALUES (?, ?, ?, ?, ?)",
                                 (seq, r.table_id, r.label, r.at, r.record))
                if w.item is None:
                    conn.execute("DELETE FROM index_entries WHERE table_id = ? AND hk = ? AND rk = ?",
                                 (w.table_id, w.hk, w.rk))
                    conn.execute("DELETE FROM items WHERE table_id = ? AND hk = ? AND rk = ?", (w.table_id, w.hk, w.rk))
                    continue
                if w.indexed:
                    conn.execute("DELETE FROM index_entries WHERE table_id = ? AND hk = ? AND rk = ?",
                                 (w.table_id, w.hk, w.rk))
                conn.execute("INSERT OR REPLACE INTO items (table_id, hk, rk, seg, item, size, expires) VALUES "
                             "(?, ?, ?, ?, ?, ?, ?)", (w.table_id, w.hk, w.rk, w.seg, w.item, w.size, w.expires))
                if w.entries:
                    conn.executemany("INSERT OR REPLACE INTO index_entries (table_id, index_name, ihk, irk, hk, rk, seg)"
                                     " VALUES (?, ?, ?, ?, ?, ?, ?)",
                                     [(w.table_id, e.index_name, e.ihk, e.irk, w.hk, w.rk, e.seg) for e in w.entries])
            if token is not None:
                conn.execute("INSERT OR REPLACE INTO tokens (token, digest, at) VALUES (?, ?, ?)", token)
            return seq

        try:
            last = await self.db.write(run, grows=grows or token is not None)
        except asyncio.CancelledError as cancelled:
            self._lands_without_caller(cancelled, writes if streamed else ())
            raise
        if not streamed:
            return
        self.last_seq = max(self.last_seq, int(last))
        grown = {w.stream.table_id for w in writes if w.stream is not None}
        if self.on_stream is not None:
            self.on_stream(grown)

    def _lands_without_caller(self, cancelled: asyncio.CancelledError, streamed: Sequence[ItemWrite]) -> None:
        """A write whose caller stopped waiting for its commit (an in-process caller cancelled, a server
        stopping): it is queued, so it lands all the same. What rides its commit must wait for it still: a
        write queued behind it (the writer commits in queue order) settles once its commit is over, and
        marks `cancelled` with that moment (`landing_of`), for the item locks and transaction claims its
        caller let go on the way out; then the stream's last number is raised and its readers wake."""
        landing = self.db.write(_nothing, grows=False)
        tables = {w.stream.table_id for w in streamed if w.stream is not None}

        def landed(_: asyncio.Future[Any]) -> None:
            if not landing.cancelled():
                landing.exception()  # (read: nobody else does)
            if tables:
                self.last_seq = max(self.last_seq, self.high_water())
                if self.on_stream is not None:
                    self.on_stream(tables)

        landing.add_done_callback(landed)
        setattr(cancelled, _LANDING, landing)

    # -- reading pages -------------------------------------------------------------------------------
    def partition(self, table_id: int, hk: bytes, low: Bound | None, high: Bound | None, forward: bool,
                  after: bytes | None) -> Iterator[PageRow]:
        """The items of one partition within the sort key bounds, in order, after `after`."""
        where = ["table_id = ?", "hk = ?"]
        args: list[object] = [table_id, hk]
        _bounds(where, args, "rk", low, high)
        sql = "SELECT hk, rk, item, size FROM items WHERE " + " AND ".join(where)
        return self._keyset(sql, args, ("rk",), forward, (after,) if after is not None else None)

    def index_partition(self, table_id: int, index: str, ihk: bytes, low: Bound | None, high: Bound | None,
                        forward: bool, after: tuple[bytes, bytes, bytes] | None) -> Iterator[PageRow]:
        """The items of one index partition, ordered by the index sort key then the table's
        keys, after `after` (irk, hk, rk)."""
        where = ["e.table_id = ?", "e.index_name = ?", "e.ihk = ?"]
        args: list[object] = [table_id, index, ihk]
        _bounds(where, args, "e.irk", low, high)
        sql = ("SELECT e.hk, e.rk, i.item, i.size FROM index_entries e JOIN items i ON i.table_id = e.table_id AND "
               "i.hk = e.hk AND i.rk = e.rk WHERE " + " AND ".join(where))
        return self._keyset(sql, args, ("e.irk", "e.hk", "e.rk"), forward, after)

    def scan(self, table_id: int, segments: tuple[int, int], after: tuple[bytes, bytes] | None
             ) -> Iterator[PageRow]:
        """A table's items whose `seg` is within the range, in key order."""
        sql = "SELECT hk, rk, item, size FROM items WHERE table_id = ? AND seg BETWEEN ? AND ?"
        return self._keyset(sql, [table_id, *segments], ("hk", "rk"), True, after)

    def index_scan(self, table_id: int, index: str, segments: tuple[int, int],
                   after: tuple[bytes, bytes, bytes, bytes] | None) -> Iterator[PageRow]:
        sql = ("SELECT e.hk, e.rk, i.item, i.size FROM index_entries e JOIN items i ON i.table_id = e.table_id AND "
               "i.hk = e.hk AND i.rk = e.rk WHERE e.table_id = ? AND e.index_name = ? AND e.seg BETWEEN ? AND ?")
        return self._keyset(sql, [table_id, index, *segments], ("e.ihk", "e.irk", "e.hk", "e.rk"), True, after)

    def _keyset(self, sql: str, args: list[object], order: tuple[str, ...], forward: bool,
                after: tuple[bytes, ...] | None) -> Iterator[PageRow]:
        """Rows of `sql` in `order`, a chunk at a time, each chunk starting past the previous one's last."""
        direction = "" if forward else " DESC"
        columns = ", ".join(order)
        ordering = ", ".join(f"{c}{direction}" for c in order)
        marks = ", ".join("?" * len(order))
        comparison = ">" if forward else "<"
        position = after
        while True:
            query, params = sql, list(args)
            if position is not None:
                query += f" AND ({columns}) {comparison} ({marks})"
                params.extend(position)
            rows = self.db.query(f"{query} ORDER BY {ordering} LIMIT {PAGE_ROWS}".replace(
                "SELECT ", f"SELECT {columns}, ", 1), params)
            width = len(order)
            for row in rows:
                yield row[width:]  # hk, rk, item, size: BLOB, BLOB, TEXT and INTEGER columns come as they are
            if len(rows) < PAGE_ROWS:
                return
            position = tuple(bytes(v) for v in rows[-1][:width])

    # -- streams ---------------------------------------------------------------------------------------
    def high_water(self) -> int:
        """The highest stream sequence counter ever used."""
        return int(self.db.query(_HIGH_WATER)[0][0])

    def stream_records(self, table_id: int, label: str, after: int, not_before: float,
                       limit: int) -> list[tuple[int, float, str]]:
        """A stream's records past counter `after`, none written before `not_before` (its retention)."""
        rows = self.db.query("SELECT seq, at, record FROM stream_records WHERE table_id = ? AND label = ? AND seq > ? "
                             "AND at >= ? ORDER BY seq LIMIT ?", (table_id, label, after, not_before, limit))
        return [(int(r[0]), float(r[1]), str(r[2])) for r in rows]

    def stream_bounds(self, table_id: int, label: str, not_before: float) -> tuple[int, int] | None:
        """The first and last sequence counters of a stream's records kept, if it has any."""
        row = self.db.query("SELECT MIN(seq), MAX(seq) FROM stream_records WHERE table_id = ? AND label = ? AND at >= ?",
                            (table_id, label, not_before))[0]
        return None if row[0] is None else (int(row[0]), int(row[1]))

    async def trim_streams(self, before: float) -> None:
        """Forget stream records older than `before` (their 24 hours), keeping the counter's high-water mark."""
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(f"INSERT INTO meta (key, value) SELECT 'seq', ({_HIGH_WATER}) WHERE true "
                         "ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)")
            conn.execute("DELETE FROM stream_records WHERE at < ?", (before,))

        await self.db.write(run, grows=False)

    # -- TTL -----------------------------------------------------------------------------------------
    def expired(self, table_id: int, now: float, not_before: float, limit: int) -> list[tuple[bytes, bytes, str]]:
        rows = self.db.query("SELECT hk, rk, item FROM items WHERE table_id = ? AND expires IS NOT NULL AND "
                             "expires <= ? AND expires >= ? ORDER BY expires LIMIT ?",
                             (table_id, now, not_before, limit))
        return [(bytes(r[0]), bytes(r[1]), str(r[2])) for r in rows]

    async def set_expiries(self, table_id: int, spec: str,
                           expiry_of: Callable[[str], float | None] | None = None) -> None:
        """A table's TTL setting and its items' expiries under it (`expiry_of` a stored item; None: TTL
        off), in one commit. The expiries are computed here, in the writer, from the items as every earlier
        commit left them (as update_table's index backfill)."""
        def run(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE tables SET spec = ? WHERE id = ?", (spec, table_id))
            conn.execute("UPDATE items SET expires = NULL WHERE table_id = ?", (table_id,))
            if expiry_of is None:
                return
            after: tuple[bytes, bytes] = (b"", b"")
            while True:  # a page read whole before its rows change: no cursor stays open over them
                rows = conn.execute("SELECT hk, rk, item FROM items WHERE table_id = ? AND (hk, rk) > (?, ?) "
                                    "ORDER BY hk, rk LIMIT ?", (table_id, *after, PAGE_ROWS)).fetchall()
                expiries = [(when, table_id, hk, rk) for hk, rk, text in rows
                            if (when := expiry_of(str(text))) is not None]
                conn.executemany("UPDATE items SET expires = ? WHERE table_id = ? AND hk = ? AND rk = ?", expiries)
                if len(rows) < PAGE_ROWS:
                    return
                after = (bytes(rows[-1][0]), bytes(rows[-1][1]))

        await self.db.write(run, grows=False)

    # -- backups -------------------------------------------------------------------------------------
    def backups(self) -> list[BackupRow]:
        return [BackupRow(*r) for r in self.db.query(
            "SELECT arn, region, name, created, table_name, table_created, spec, item_count, size, kind FROM backups")]

    async def create_backup(self, row: BackupRow, table_id: int) -> BackupRow:
        """Copy a table's items under the backup's ARN; the row with its counts. (A restore makes the index
        entries anew, for the indexes the restored table has.)"""
        def run(conn: sqlite3.Connection) -> tuple[int, int]:
            return _copy_to_backup(conn, row, table_id)

        count, size = await self.db.write(run)
        return dataclasses.replace(row, item_count=count, size=size)

    async def delete_backup(self, arn: str) -> None:
        def run(conn: sqlite3.Connection) -> None:
            for table in ("backup_entries", "backup_items", "backups"):
                conn.execute(f"DELETE FROM {table} WHERE arn = ?", (arn,))

        await self.db.write(run, grows=False)

    def backup_items(self, arn: str) -> list[tuple[bytes, bytes, str]]:
        """A backup's items ((hk, rk, stored JSON)), in key order."""
        return [(bytes(r[0]), bytes(r[1]), str(r[2])) for r in self.db.query(
            "SELECT hk, rk, item FROM backup_items WHERE arn = ? ORDER BY hk, rk", (arn,))]

    # -- transactions' client tokens -----------------------------------------------------------------
    def token(self, token: str, since: float) -> str | None:
        rows = self.db.query("SELECT digest FROM tokens WHERE token = ? AND at >= ?", (token, since))
        return str(rows[0][0]) if rows else None

    async def forget_tokens(self, before: float) -> None:
        await self.db.execute("DELETE FROM tokens WHERE at < ?", (before,), grows=False)

    async def wipe(self) -> None:
        def run(conn: sqlite3.Connection) -> None:
            for table in ("index_entries", "items", "tables", "tokens", "stream_records", "meta", "backups",
                          "backup_items", "backup_entries", "item_history", "transfers"):
                conn.execute(f"DELETE FROM {table}")

        await self.db.write(run, grows=False)


_LANDING = "conveyor_dynamodb_landing"


def landing_of(error: BaseException | None) -> asyncio.Future[Any] | None:
    """The future a cancelled write's commit settles (see DynamoStore._lands_without_caller), if `error` is
    the cancellation of a write already queued."""
    landing = getattr(error, _LANDING, None)
    return landing if isinstance(landing, asyncio.Future) else None


def _nothing(conn: sqlite3.Connection) -> None:
    """A write of nothing, queued to learn when the writes queued before it are committed."""


def _copy_to_backup(conn: sqlite3.Connection, row: BackupRow, table_id: int) -> tuple[int, int]:
    """Copy a table's items under a backup's ARN and store the backup's row; (item count, bytes)."""
    conn.execute("INSERT INTO backup_items (arn, hk, rk, seg, item, size) SELECT ?, hk, rk, seg, item, size "
                 "FROM items WHERE table_id = ?", (row.arn, table_id))
    count, size = conn.execute("SELECT COUNT(*), IFNULL(SUM(size), 0) FROM backup_items WHERE arn = ?",
                               (row.arn,)).fetchone()
    conn.execute("INSERT INTO backups (arn, region, name, created, table_name, table_created, spec, item_count, size, "
                 "kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (row.arn, row.region, row.name, row.created,
                                                              row.table_name, row.table_created, row.spec, count, size,
                                                              row.kind))
    return int(count), int(size)


def _bounds(where: list[str], args: list[object], column: str, low: Bound | None, high: Bound | None) -> None:
    if low is not None:
        where.append(f"{column} {'>=' if low.inclusive else '>'} ?")
        args.append(low.value)
    if high is not None:
        where.append(f"{column} {'<=' if high.inclusive else '<'} ?")
        args.append(high.value)
