"""SQS's SQLite store: the durable log behind the in-memory queues, and every statement SQS runs.

Each write encodes its rows here, on the caller's thread, before it queues them: the database's writer
thread, which every SQS commit shares, runs nothing but SQL. A write returns once its commit is durable;
callers change the in-memory queues only after that (or undo what they claimed when it fails).
`grows=False` marks writes that store nothing new (deletes, changes in place): they still run on a full
disk (conveyor.storage.disk).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.services.sqs.queue import AttributeMap, Content, Message, Queue
from conveyor.storage.db import Database
from conveyor.storage.disk import DiskGuard

log = logging.getLogger(__name__)

MIGRATIONS = [
    """
    CREATE TABLE queues (
        id INTEGER PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
        attrs TEXT NOT NULL, tags TEXT NOT NULL, created REAL NOT NULL, modified REAL NOT NULL,
        last_purge REAL, UNIQUE (account, region, name));
    CREATE TABLE messages (
        id TEXT PRIMARY KEY, queue_id INTEGER NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL,
        attrs TEXT, sys_attrs TEXT, md5_body TEXT, md5_attrs TEXT, md5_sys TEXT, sent REAL NOT NULL,
        sender_id TEXT, group_id TEXT, dedup_id TEXT, receive_count INTEGER NOT NULL DEFAULT 0,
        first_receive REAL, visible_at REAL NOT NULL, receipt TEXT, source_arn TEXT);
    CREATE INDEX messages_queue ON messages (queue_id, seq);
    CREATE TABLE dedup (
        queue_id INTEGER NOT NULL, scope TEXT NOT NULL, dedup_id TEXT NOT NULL, expires REAL NOT NULL,
        message_id TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (queue_id, scope, dedup_id));
    CREATE TABLE move_tasks (
        handle TEXT PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL, source_arn TEXT NOT NULL,
        data TEXT NOT NULL, started REAL NOT NULL)
    """,
    # A message's index (what a restart restores and what receives, deletes and visibility changes
    # update) apart from its content (written once, read when received, with one lookup a message): a
    # restart reads the index only, and a receive's update rewrites small rows, many to a page. (A move to
    # a dead-letter queue, rare, is the one change to a content row: it notes the source queue.)
    """
    CREATE TABLE message_bodies (
        id TEXT PRIMARY KEY, body TEXT NOT NULL, attrs TEXT, sys_attrs TEXT, md5_body TEXT, md5_attrs TEXT,
        md5_sys TEXT, sender_id TEXT, dedup_id TEXT, source_arn TEXT);
    INSERT INTO message_bodies
        SELECT id, body, attrs, sys_attrs, md5_body, md5_attrs, md5_sys, sender_id, dedup_id, source_arn
        FROM messages;
    CREATE TABLE message_index (
        id TEXT PRIMARY KEY, queue_id INTEGER NOT NULL, seq INTEGER NOT NULL, sent REAL NOT NULL, group_id TEXT,
        receive_count INTEGER NOT NULL DEFAULT 0, first_receive REAL, visible_at REAL NOT NULL, receipt TEXT);
    INSERT INTO message_index
        SELECT id, queue_id, seq, sent, group_id, receive_count, first_receive, visible_at, receipt FROM messages;
    DROP TABLE messages;
    ALTER TABLE message_index RENAME TO messages;
    CREATE INDEX messages_queue ON messages (queue_id, seq)
    """,
    # Integer keys: a message's index row and its content row are keyed by one integer (its sequence number
    # when it was sent, which no other message had: the engine draws them from one rising counter), an
    # INTEGER PRIMARY KEY that is the table's own rowid, and the in-memory index carries it. The TEXT
    # message-id indexes of both tables go: every send, receive update and delete cost the writer a second
    # B-tree (or a wider one) per row. Measured, the writer's SQL per message: insert 9.3 -> 5.1 us, update
    # + delete 11.0 -> 5.9 us. The message id stays a plain column (a restart reads it; nothing looks it
    # up). A content row with no index row was never reachable and is not carried over.
    """
    CREATE TABLE messages_keyed (
        key INTEGER PRIMARY KEY, id TEXT NOT NULL, queue_id INTEGER NOT NULL, seq INTEGER NOT NULL,
        sent REAL NOT NULL, group_id TEXT, receive_count INTEGER NOT NULL DEFAULT 0, first_receive REAL,
        visible_at REAL NOT NULL, receipt TEXT);
    INSERT INTO messages_keyed (key, id, queue_id, seq, sent, group_id, receive_count, first_receive, visible_at,
                                receipt)
        SELECT seq, id, queue_id, seq, sent, group_id, receive_count, first_receive, visible_at, receipt
        FROM messages ORDER BY seq;
    CREATE TABLE bodies_keyed (
        key INTEGER PRIMARY KEY, body TEXT NOT NULL, attrs TEXT, sys_attrs TEXT, md5_body TEXT, md5_attrs TEXT,
        md5_sys TEXT, sender_id TEXT, dedup_id TEXT, source_arn TEXT);
    INSERT INTO bodies_keyed
        SELECT m.key, b.body, b.attrs, b.sys_attrs, b.md5_body, b.md5_attrs, b.md5_sys, b.sender_id, b.dedup_id,
               b.source_arn
        FROM messages_keyed m JOIN message_bodies b ON b.id = m.id ORDER BY m.key;
    DROP TABLE messages;
    DROP TABLE message_bodies;
    ALTER TABLE messages_keyed RENAME TO messages;
    ALTER TABLE bodies_keyed RENAME TO message_bodies;
    CREATE INDEX messages_queue ON messages (queue_id, seq)
    """,
    # No index by queue: it was the last B-tree the writer updated per message besides the two tables'
    # own (a delete of 10 keys, both rows each, 6.4 -> 4.5 us a message of SQL; an insert 2.5 -> 2.2). A
    # restart reads the index rows in key order (a rowid scan) and sorts each block by queue; a purge or a
    # queue deletion scans the index table (about 30 ms for 200,000 rows). Nothing else is dropped.
    """
    DROP INDEX messages_queue
    """,
]

_TABLES = ("messages", "message_bodies", "dedup", "queues", "move_tasks")
_INSERT_INDEX = ("INSERT OR REPLACE INTO messages (key, id, queue_id, seq, sent, group_id, receive_count, "
                 "first_receive, visible_at, receipt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_INSERT_BODY = ("INSERT OR REPLACE INTO message_bodies (key, body, attrs, sys_attrs, md5_body, md5_attrs, md5_sys, "
                "sender_id, dedup_id, source_arn) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
# The same, for the columns most messages fill (the others take their defaults: NULL, receive_count 0).
_INSERT_PLAIN_INDEX = ("INSERT OR REPLACE INTO messages (key, id, queue_id, seq, sent, visible_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)")
_INSERT_PLAIN_BODY = "INSERT OR REPLACE INTO message_bodies (key, body, md5_body, sender_id) VALUES (?, ?, ?, ?)"
# New rows go in up to this many to a statement (a batch's 10 in one): one statement of several rows costs
# the writer thread a sixth less per message than the same rows one by one through executemany, and at
# most 10 shapes of each statement stay in the connection's statement cache.
_ROWS_PER_STATEMENT = 10
_RECORD_RECEIVE = "UPDATE messages SET receive_count = ?, first_receive = ?, visible_at = ?, receipt = ? WHERE key = ?"
_DEAD_LETTER = "UPDATE messages SET queue_id = ?, visible_at = ?, seq = ?, receipt = NULL WHERE key = ?"
_DEAD_LETTER_SOURCE = "UPDATE message_bodies SET source_arn = ? WHERE key = ?"
_DELETE_MESSAGE = "DELETE FROM messages WHERE key = ?"
_DELETE_BODY = "DELETE FROM message_bodies WHERE key = ?"


class QueueNameTaken(Exception):
    """A queue of that account, region and name was committed first."""


@dataclass(frozen=True)
class QueueRecord:
    id: int
    account: str
    region: str
    name: str
    attrs: dict[str, str]
    tags: dict[str, str]
    created: float
    modified: float
    last_purge: float | None


@dataclass(frozen=True)
class DedupRecord:
    """A FIFO queue's memory of one deduplication id, kept for the 5-minute window."""

    queue_id: int
    scope: str  # the message group under DeduplicationScope=messageGroup, else ""
    dedup_id: str
    expires: float
    message_id: str
    seq: int


@dataclass(frozen=True)
class DeadLetterMove:
    """A message a receive moves to its queue's dead-letter queue."""

    key: int  # the message's (conveyor.services.sqs.queue.Message.key)
    queue_id: int  # the dead-letter queue's
    source_arn: str
    visible_at: float
    seq: int


@dataclass(frozen=True)
class MoveTaskRecord:
    handle: str
    account: str
    region: str
    source_arn: str
    data: dict[str, Any]  # the task as ListMessageMoveTasks describes it
    started: float


# One compact encoder for every stored attribute map (json.dumps with options builds a new one per call).
_encode_json = json.JSONEncoder(separators=(",", ":")).encode


def encode_attrs(attrs: AttributeMap | None) -> str | None:
    if not attrs:
        return None
    if not any("BinaryValue" in item or "BinaryListValues" in item for item in attrs.values()):
        return _encode_json(attrs)  # (nothing to turn into base64: the map as it is)
    out = {}
    for name, value in attrs.items():
        item = dict(value)
        if isinstance(item.get("BinaryValue"), bytes | bytearray):
            item["BinaryValue"] = {"b64": base64.b64encode(item["BinaryValue"]).decode()}
        if item.get("BinaryListValues"):
            item["BinaryListValues"] = [base64.b64encode(b).decode() for b in item["BinaryListValues"]]
        out[name] = item
    return _encode_json(out)


def decode_attrs(text: str | None) -> AttributeMap | None:
    if not text:
        return None
    data: AttributeMap = json.loads(text)
    for item in data.values():
        if isinstance(item.get("BinaryValue"), dict):
            item["BinaryValue"] = base64.b64decode(item["BinaryValue"]["b64"])
        if item.get("BinaryListValues"):
            item["BinaryListValues"] = [base64.b64decode(b) for b in item["BinaryListValues"]]
    return data


def _body_row(msg: Message) -> tuple[object, ...]:
    c = msg.loaded()
    return (msg.key, c.body, encode_attrs(c.attrs) if c.attrs else None,
            encode_attrs(c.sys_attrs) if c.sys_attrs else None, c.md5_body, c.md5_attrs, c.md5_sys, c.sender_id,
            c.dedup_id, c.source_arn)


class _NewRows:
    """A send's rows, each in the narrowest statement that holds it, and up to _ROWS_PER_STATEMENT of them
    to a statement: most messages have no group, no attributes and no deduplication id, and binding the
    NULLs of those columns one by one cost the writer thread (holding the GIL while it binds) about a third
    of its time per message. The statements and their values are made here, on the caller's thread."""

    __slots__ = ("statements",)

    def __init__(self, messages: Sequence[tuple[Queue, Message]]) -> None:
        index: list[object] = []
        full_index: list[object] = []
        bodies: list[object] = []
        full_bodies: list[object] = []
        for q, m in messages:
            if m.group_id is None and not m.receive_count and m.first_receive is None and m.receipt is None:
                index += (m.key, m.id, q.id, m.seq, m.sent, m.visible_at)
            else:
                full_index += (m.key, m.id, q.id, m.seq, m.sent, m.group_id, m.receive_count, m.first_receive, m.visible_at,
                               m.receipt)
            c = m.loaded()
            if (c.attrs is None and c.sys_attrs is None and c.md5_attrs is None and c.md5_sys is None
                    and c.dedup_id is None and c.source_arn is None):
                bodies += (m.key, c.body, c.md5_body, c.sender_id)
            else:
                full_bodies += _body_row(m)
        self.statements: list[tuple[str, list[object]]] = []
        if index:
            self._add(_INSERT_PLAIN_INDEX, 6, index)
        if full_index:
            self._add(_INSERT_INDEX, 10, full_index)
        if bodies:
            self._add(_INSERT_PLAIN_BODY, 4, bodies)
        if full_bodies:
            self._add(_INSERT_BODY, 10, full_bodies)

    def _add(self, sql: str, width: int, values: list[object]) -> None:
        """Rows of `width` values each, flat in `values`, as statements of up to _ROWS_PER_STATEMENT rows."""
        if len(values) == width:
            self.statements.append((sql, values))
            return
        step = width * _ROWS_PER_STATEMENT
        for at in range(0, len(values), step):
            chunk = values[at:at + step] if len(values) > step else values
            self.statements.append((_several_rows(sql, len(chunk) // width), chunk))

    def insert(self, c: sqlite3.Connection) -> None:
        for sql, values in self.statements:
            c.execute(sql, values)


@functools.lru_cache(maxsize=64)
def _several_rows(sql: str, n: int) -> str:
    """`sql`, an INSERT of one row, made to insert `n` rows."""
    if n == 1:
        return sql
    head, _, one = sql.rpartition(" VALUES ")
    return f"{head} VALUES {', '.join([one] * n)}"


def _delete_messages(c: sqlite3.Connection, key_rows: list[tuple[int]]) -> None:
    c.executemany(_DELETE_MESSAGE, key_rows)
    c.executemany(_DELETE_BODY, key_rows)


# What a restart reads: the index only (bodies and attributes stay on disk until received).
_INDEX_COLUMNS = "queue_id, id, seq, sent, visible_at, group_id, receive_count, first_receive, receipt, key"
_CONTENT_COLUMNS = "key, body, md5_body, attrs, md5_attrs, sys_attrs, md5_sys, sender_id, dedup_id, source_arn"


# A row of _INDEX_COLUMNS.
IndexRow = tuple[int, str, int, float, float, str | None, int, float | None, str | None, int]


def _queue_of(row: IndexRow) -> int:
    return row[0]


def _log_failure(fut: asyncio.Future[object]) -> None:
    if not fut.cancelled() and fut.exception() is not None:
        log.warning("background SQS write failed: %s", fut.exception())


class SqsStore:
    def __init__(self, path: Path, disk: DiskGuard | None = None) -> None:
        self.path = path
        self.disk = disk
        self._db: Database | None = None
        # Receives' rows not yet taken by a commit (record_receive_behind), by message key; the writer thread
        # takes them, so the lock guards them.
        self._received: dict[int, tuple[object, ...]] = {}
        self._received_lock = threading.Lock()

    @property
    def db(self) -> Database:
        if self._db is None:
            raise RuntimeError("the SQS store is not open")
        return self._db

    def open(self) -> None:
        self._db = Database(self.path, MIGRATIONS, self.disk)
        self._db.reader.row_factory = sqlite3.Row

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    async def wipe(self) -> None:
        def run(c: sqlite3.Connection) -> None:
            for table in _TABLES:
                c.execute(f"DELETE FROM {table}")

        await self.db.write(run)

    # -- what a restart restores -----------------------------------------------------------------
    def queues(self) -> list[QueueRecord]:
        return [QueueRecord(r["id"], r["account"], r["region"], r["name"], json.loads(r["attrs"]),
                            json.loads(r["tags"]), r["created"], r["modified"], r["last_purge"])
                for r in self.db.query("SELECT * FROM queues ORDER BY id")]

    def index_blocks(self) -> Iterator[list[IndexRow]]:
        """The index entry of every stored message (queue id, id, seq, sent, visible_at, group_id,
        receive_count, first_receive, receipt, key) in key order, which is the order they were sent in, in
        blocks read as they are restored (no list of every row first), each block's rows grouped by queue
        (in key order within each). A queue's rows may come in several blocks."""
        cur = self.db.reader.cursor()
        cur.row_factory = None  # plain tuples: a million rows restore faster
        cur.execute(f"SELECT {_INDEX_COLUMNS} FROM messages ORDER BY key")
        try:
            while rows := cur.fetchmany(4096):
                rows.sort(key=_queue_of)  # (stable: key order within a queue; one pass for a single queue)
                yield rows
        finally:
            cur.close()

    def contents(self, keys: Sequence[int]) -> dict[int, Content]:
        """The bodies and attributes of the messages a receive took (by key), in one query by primary key;
        a message whose row is gone is missing from the answer."""
        marks = ", ".join("?" * len(keys))
        cur = self.db.reader.cursor()
        cur.row_factory = None
        try:
            rows = cur.execute(f"SELECT {_CONTENT_COLUMNS} FROM message_bodies WHERE key IN ({marks})",
                               tuple(keys)).fetchall()
        finally:
            cur.close()
        return {key: Content(body, md5_body, decode_attrs(attrs), md5_attrs, decode_attrs(sys_attrs), md5_sys,
                             sender_id or "", dedup_id, source_arn)
                for key, body, md5_body, attrs, md5_attrs, sys_attrs, md5_sys, sender_id, dedup_id, source_arn
                in rows}

    def dedup_entries(self, now: float) -> list[DedupRecord]:
        """The deduplication ids still within their window, oldest first."""
        return [DedupRecord(r["queue_id"], r["scope"], r["dedup_id"], r["expires"], r["message_id"], r["seq"])
                for r in self.db.query("SELECT * FROM dedup WHERE expires > ? ORDER BY expires", (now,))]

    def move_tasks(self) -> list[MoveTaskRecord]:
        return [MoveTaskRecord(r["handle"], r["account"], r["region"], r["source_arn"], json.loads(r["data"]),
                               r["started"])
                for r in self.db.query("SELECT * FROM move_tasks ORDER BY started")]

    def drop_at_start(self, expired_keys: Sequence[int], now: float) -> None:
        """Before serving (no event loop yet): forget messages past retention (by key) and dedup ids past
        their window."""
        rows = [(k,) for k in expired_keys]

        def run(c: sqlite3.Connection) -> None:
            if rows:
                _delete_messages(c, rows)
            c.execute("DELETE FROM dedup WHERE expires <= ?", (now,))

        self.db.write_sync(run)

    # -- queues ------------------------------------------------------------------------------------
    async def insert_queue(self, q: Queue) -> None:
        """Raises QueueNameTaken when a queue of that name exists (committed concurrently)."""
        args = (q.id, q.account, q.region, q.name, json.dumps(q.attrs), json.dumps(q.tags), q.created, q.modified)
        try:
            await self.db.write(lambda c: c.execute(
                "INSERT INTO queues (id, account, region, name, attrs, tags, created, modified) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", args))
        except sqlite3.IntegrityError as exc:
            raise QueueNameTaken(q.name) from exc

    async def update_queue(self, queue_id: int, attrs: dict[str, str], tags: dict[str, str],
                           modified: float) -> None:
        args = (json.dumps(attrs), json.dumps(tags), modified, queue_id)
        await self.db.write(lambda c: c.execute(
            "UPDATE queues SET attrs = ?, tags = ?, modified = ? WHERE id = ?", args))

    async def delete_queue(self, queue_id: int) -> None:
        """The queue with its messages and its deduplication window."""
        def run(c: sqlite3.Connection) -> None:
            c.execute("DELETE FROM message_bodies WHERE key IN (SELECT key FROM messages WHERE queue_id = ?)",
                      (queue_id,))
            c.execute("DELETE FROM messages WHERE queue_id = ?", (queue_id,))
            c.execute("DELETE FROM dedup WHERE queue_id = ?", (queue_id,))
            c.execute("DELETE FROM queues WHERE id = ?", (queue_id,))

        await self.db.write(run, grows=False)

    async def purge(self, queue_id: int, through_seq: int, now: float) -> None:
        """Delete the messages sent up to `through_seq` and the deduplication ids they claimed, note when."""
        def run(c: sqlite3.Connection) -> None:
            c.execute("DELETE FROM message_bodies WHERE key IN "
                      "(SELECT key FROM messages WHERE queue_id = ? AND seq <= ?)", (queue_id, through_seq))
            c.execute("DELETE FROM messages WHERE queue_id = ? AND seq <= ?", (queue_id, through_seq))
            c.execute("DELETE FROM dedup WHERE queue_id = ? AND seq <= ?", (queue_id, through_seq))
            c.execute("UPDATE queues SET last_purge = ? WHERE id = ?", (now, queue_id))

        await self.db.write(run, grows=False)

    # -- messages ----------------------------------------------------------------------------------
    async def insert_messages(self, messages: Sequence[tuple[Queue, Message]], dedup: Sequence[DedupRecord]) -> None:
        """New messages (with the queue each goes to) and the dedup ids they claim, in one write."""
        rows = _NewRows(messages)
        if not dedup:  # (the hot path: one standard queue's send)
            await self.db.write(rows.insert)
            return
        dedup_rows = [(d.queue_id, d.scope, d.dedup_id, d.expires, d.message_id, d.seq) for d in dedup]

        def run(c: sqlite3.Connection) -> None:
            rows.insert(c)
            c.executemany("INSERT OR REPLACE INTO dedup VALUES (?, ?, ?, ?, ?, ?)", dedup_rows)

        await self.db.write(run)

    async def record_receive(self, received: Sequence[Message], dead_lettered: Sequence[DeadLetterMove]) -> None:
        """A receive that moved messages to a dead-letter queue: the new receive counts, visibility and
        receipts of what it took, and the moves, durable before the answer."""
        rows = [(m.receive_count, m.first_receive, m.visible_at, m.receipt, m.key) for m in received]
        moves = [(d.queue_id, d.visible_at, d.seq, d.key) for d in dead_lettered]
        sources = [(d.source_arn, d.key) for d in dead_lettered]

        def run(c: sqlite3.Connection) -> None:
            if rows:
                c.executemany(_RECORD_RECEIVE, rows)
            if moves:
                c.executemany(_DEAD_LETTER, moves)
                c.executemany(_DEAD_LETTER_SOURCE, sources)

        await self.db.write(run, grows=False)

    def record_receive_behind(self, received: Sequence[Message]) -> None:
        """A receive that moved nothing: its receive counts, visibility and receipts, committed behind the
        answer, riding the next commit (Database.write_behind) rather than starting one the consumer's
        delete would wait behind. A crash (or a failed commit) before then leaves those messages as they
        were before the receive, so they are received again: at-least-once delivery holds, and a consumer
        does not queue behind producers' commits. A later write (a delete of the same message) commits with
        or after this one, so whatever is acknowledged after it is durable with it.

        The rows wait here until a commit takes them (one write for every receive since the last), and a
        delete that comes first takes its messages' rows out: a message received and deleted between two
        commits is only deleted, not updated first."""
        rows = {m.key: (m.receive_count, m.first_receive, m.visible_at, m.receipt, m.key) for m in received}
        with self._received_lock:
            first = not self._received  # (else a write to take them is queued already)
            self._received.update(rows)
        if first:
            self.db.write_behind(self._write_received, grows=False).add_done_callback(_log_failure)

    def _write_received(self, c: sqlite3.Connection) -> None:
        with self._received_lock:
            rows, self._received = self._received, {}
        if rows:
            c.executemany(_RECORD_RECEIVE, rows.values())

    async def set_visible_at(self, key: int, when: float) -> None:
        await self.set_visible_at_many([(key, when)])

    async def set_visible_at_many(self, changes: Sequence[tuple[int, float]]) -> None:
        """(message key, new visible-at time) pairs."""
        rows = [(when, key) for key, when in changes]
        await self.db.write(lambda c: c.executemany("UPDATE messages SET visible_at = ? WHERE key = ?", rows),
                            grows=False)

    async def delete_message(self, key: int) -> None:
        await self.delete_messages([key])

    async def delete_messages(self, keys: Sequence[int]) -> None:
        rows = [(k,) for k in keys]
        with self._received_lock:  # (a receive's row no commit has taken yet: it need not be written now)
            pending = self._received
            for k in keys:
                pending.pop(k, None)
        await self.db.write(lambda c: _delete_messages(c, rows), grows=False)

    def forget_expired(self, keys: Sequence[int]) -> None:
        """Messages past retention (by key), in the background: expiry is decided by the clock, not by this
        write, so a restart drops the same rows again if it fails."""
        rows = [(k,) for k in keys]
        self.db.write(lambda c: _delete_messages(c, rows), grows=False).add_done_callback(_log_failure)

    # -- move tasks --------------------------------------------------------------------------------
    async def save_move_task(self, record: MoveTaskRecord) -> None:
        args = (record.handle, record.account, record.region, record.source_arn, json.dumps(record.data),
                record.started)
        await self.db.write(lambda c: c.execute("INSERT OR REPLACE INTO move_tasks VALUES (?, ?, ?, ?, ?, ?)",
                                                args))
