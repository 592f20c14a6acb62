"""S3's store: its SQLite database, its blob files and its event outbox; every SQL statement S3 runs.

Reads run on the caller's thread; a bucket's row, which every request reads, is kept in memory until a
write that may change it. Writes are group-committed (conveyor.storage.db), and what runs on
the database's writer thread is SQL and the checks of its results, nothing else: rows, JSON and event
records are computed by the caller beforehand. A write computed from a bucket's state (its versioning
decides the version id, its notification configuration the events) checks in its transaction that the
bucket is still as read, and raises BucketChanged otherwise, for the caller to compute it again.

Blob files are written before the rows that name them and deleted after the commit that drops the
last row naming them; files a crash left unnamed are collected at start.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from conveyor.services.s3.blobs import BlobStore
from conveyor.services.s3.conditions import WritePrecondition
from conveyor.services.s3.errors import no_such_bucket, no_such_upload
from conveyor.services.s3.outbox import Outbox, OutboxRow, Sender
from conveyor.services.s3.schema import (
    BUCKET_COLUMNS,
    MIGRATIONS,
    OBJECT_COLUMNS,
    PART_COLUMNS,
    SEQUENCER_SLOT,
    TABLES,
    BucketRow,
    NewVersion,
    ObjectPage,
    ObjectRow,
    PartRow,
    PendingEvent,
    UploadRow,
    json_object,
)
from conveyor.storage.db import Database
from conveyor.storage.disk import DiskGuard
from conveyor.wire import ServiceError

T = TypeVar("T")

# An event's outbox row, its sequencer filled in from the bucket's change count of this very write.
_QUEUE_EVENT = ("INSERT INTO outbox (kind, target, body) "
                "SELECT ?, ?, replace(?, ?, printf('\"sequencer\":\"%018X\"', seq)) FROM buckets WHERE name = ?")


# How long a completed multipart upload is remembered for a retried CompleteMultipartUpload (seconds).
COMPLETED_KEPT = 86400.0


class BucketChanged(Exception):
    """The bucket's versioning or configuration changed between the read a write was computed from and
    the write: the caller computes it again."""


def _bucket_already_owned(name: str) -> ServiceError:
    return ServiceError("BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and "
                        "you already own it.", 409, extra={"BucketName": name})


class S3Store:
    def __init__(self, root: Path, disk: DiskGuard | None = None) -> None:
        self.root = root
        self.disk = disk
        self.blobs = BlobStore(root / "blobs", disk)
        self._db: Database | None = None
        self._outbox: Outbox | None = None
        self._buckets: dict[str, BucketRow] = {}  # rows read, until a write that may change them
        self._bucket_writes = 0  # such writes queued and not yet settled

    # -- lifecycle -------------------------------------------------------------------------------
    def open(self, deliver: Sender) -> None:
        """Open the database and the blob files, and start delivering events (in a running event loop)."""
        self.blobs.open()
        self._db = Database(self.root / "s3.db", MIGRATIONS, self.disk)
        # SQLite as Debian and others build it zeroes every byte it frees (SECURE_DELETE): deleting or replacing
        # a small object writes its body's pages again, all zeros (about 15 µs of the writer's CPU per 4 KiB
        # body). FAST zeroes only within pages written anyway. https://www.sqlite.org/pragma.html#pragma_secure_delete
        self._db.write_sync(lambda conn: conn.execute("PRAGMA secure_delete = FAST"))
        self._collect_orphans()
        self._outbox = Outbox(self, deliver)
        self._outbox.start()

    async def close(self) -> None:
        if self._outbox is not None:
            await self._outbox.stop()
            self._outbox = None
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def is_open(self) -> bool:
        return self._db is not None

    @property
    def db(self) -> Database:
        assert self._db is not None, "S3 is not started"
        return self._db

    async def wipe(self) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            for table in TABLES:
                conn.execute(f"DELETE FROM {table}")

        await self._write(fn)
        self.blobs.wipe()

    def _collect_orphans(self) -> None:
        """Blob files a crash left without metadata (written, never committed) are removed."""
        known = {r[0] for r in self.db.query("SELECT blob FROM objects WHERE blob IS NOT NULL")}
        known |= {r[0] for r in self.db.query("SELECT blob FROM parts")}
        self.blobs.delete(self.blobs.all_ids() - known)

    async def _write(self, fn: Callable[[sqlite3.Connection], T], *, grows: bool = True,
                     objects_only: bool = False) -> T:
        """A group-committed write. One that may change a bucket's row (any but `objects_only`: objects,
        uploads, parts and the bucket's change count alone) keeps `bucket` from its copies in memory from
        when it is queued until its commit has settled, and drops them then."""
        if objects_only:
            result: T = await self.db.write(fn, grows=grows)
            return result
        self._bucket_writes += 1
        written = self.db.write(fn, grows=grows)
        written.add_done_callback(self._bucket_written)
        # Shielded: a caller gone (a client disconnected) must not settle it before the commit does.
        changed: T = await asyncio.shield(written)
        return changed

    def _bucket_written(self, _: asyncio.Future[Any]) -> None:
        self._bucket_writes -= 1
        self._buckets.clear()

    def _kick(self, events: Sequence[PendingEvent]) -> None:
        if events and self._outbox is not None:
            self._outbox.kick()

    # -- reads -----------------------------------------------------------------------------------
    def counts(self) -> tuple[int, int]:
        """(buckets, events not yet delivered)."""
        buckets: int = self.db.query("SELECT count(*) FROM buckets")[0][0]
        handled = self._outbox.handled_through if self._outbox is not None else 0
        pending: int = self.db.query("SELECT count(*) FROM outbox WHERE id > ?", (handled,))[0][0]
        return buckets, pending

    def bucket(self, name: str) -> BucketRow | None:
        """The bucket's row: read once and kept until a write that may change it (see `_write`), as every
        request reads its bucket. Shared: never to be changed in place."""
        row = self._buckets.get(name)
        if row is not None:
            return row
        rows = self.db.query(f"SELECT {BUCKET_COLUMNS} FROM buckets WHERE name = ?", (name,))
        if not rows:
            return None
        row = BucketRow.from_row(rows[0])
        if not self._bucket_writes:  # (one queued may commit a newer row before this read is kept)
            self._buckets[name] = row
        return row

    def notification_configs(self) -> list[tuple[str, dict[str, Any]]]:
        """(name, NotificationConfiguration) of every bucket that has one (the dashboard's graph)."""
        found = []
        for name, text in self.db.query("SELECT name, config FROM buckets WHERE config LIKE '%notification%'"):
            config = json.loads(text).get("notification")
            if config:
                found.append((name, config))
        return found

    def buckets(self) -> list[tuple[str, float, str]]:
        """(name, created, region) of every bucket, by name."""
        return [(r[0], r[1], r[2]) for r in self.db.query("SELECT name, created, region FROM buckets ORDER BY name")]

    def object(self, bucket: str, key: str, version_id: str | None = None, with_body: bool = False) -> ObjectRow | None:
        """A version, or the current one; its inline body comes in the same read, so it matches the ETag."""
        columns = OBJECT_COLUMNS + (", body" if with_body else "")
        if version_id:
            rows = self.db.query(f"SELECT {columns} FROM objects WHERE bucket=? AND key=? AND version_id=?",
                                 (bucket, key, version_id))
        else:
            rows = self.db.query(f"SELECT {columns} FROM objects WHERE bucket=? AND key=? AND is_latest=1",
                                 (bucket, key))
        return ObjectRow.from_row(rows[0]) if rows else None

    def objects_from(self, bucket: str, cursor: str, inclusive: bool, versions: bool, limit: int) -> ObjectPage:
        """Up to `limit` rows in key order from `cursor`: current objects, or every version (newest first)."""
        op = ">=" if inclusive else ">"
        where = "" if versions else " AND is_latest = 1 AND delete_marker = 0"
        order = "key, seq DESC" if versions else "key"
        rows = self.db.query(
            f"SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = ? AND key {op} ?{where} ORDER BY {order} LIMIT ?",
            (bucket, cursor, limit))
        return ObjectPage(rows)

    def versions_of_keys(self, bucket: str, prefix: str, after: str, limit: int) -> list[ObjectRow]:
        """Every version (newest first) of the next `limit` keys after `after` that are at or past `prefix`,
        in key order: a lifecycle sweep's page."""
        rows = self.db.query(
            f"SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = ? AND key IN (SELECT DISTINCT key FROM objects "
            "WHERE bucket = ? AND key > ? AND key >= ? ORDER BY key LIMIT ?) ORDER BY key, seq DESC",
            (bucket, bucket, after, prefix, limit))
        return [ObjectRow.from_row(r) for r in rows]

    def bucket_names_configured(self, setting: str) -> list[str]:
        """The buckets whose configuration may hold `setting` (the caller checks its value)."""
        return [r[0] for r in self.db.query("SELECT name FROM buckets WHERE config LIKE ?", (f'%"{setting}"%',))]

    def versions_of(self, bucket: str, key: str) -> list[ObjectRow]:
        rows = self.db.query(f"SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket=? AND key=? ORDER BY seq DESC",
                             (bucket, key))
        return [ObjectRow.from_row(r) for r in rows]

    def upload(self, upload_id: str, bucket: str, key: str) -> UploadRow | None:
        rows = self.db.query("SELECT upload_id, key, initiated, meta FROM uploads WHERE upload_id=? AND bucket=? "
                             "AND key=?", (upload_id, bucket, key))
        return UploadRow(rows[0][0], rows[0][1], rows[0][2], json_object(rows[0][3])) if rows else None

    def completed_upload(self, upload_id: str, bucket: str, key: str) -> tuple[str, str] | None:
        """(version id, ETag) of the version a recently completed upload became."""
        rows = self.db.query("SELECT version_id, etag FROM completed_uploads WHERE upload_id=? AND bucket=? AND key=?",
                             (upload_id, bucket, key))
        return (rows[0][0], rows[0][1]) if rows else None

    def uploads(self, bucket: str) -> list[UploadRow]:
        """The bucket's multipart uploads, by key then age."""
        rows = self.db.query("SELECT upload_id, key, initiated, meta FROM uploads WHERE bucket=? "
                             "ORDER BY key, initiated", (bucket,))
        return [UploadRow(r[0], r[1], r[2], json_object(r[3])) for r in rows]

    def parts(self, upload_id: str, after: int = 0, limit: int = -1) -> list[PartRow]:
        rows = self.db.query(f"SELECT {PART_COLUMNS} FROM parts WHERE upload_id=? AND part_number>? "
                             "ORDER BY part_number LIMIT ?", (upload_id, after, limit))
        return [PartRow.from_row(r) for r in rows]

    def pending_events(self, limit: int, after: int = 0) -> list[OutboxRow]:
        """The first `limit` rows past `after` (the last the outbox handled: the rows up to it are delivered,
        their deletion rides the next commit)."""
        rows = self.db.query("SELECT id, kind, target, body FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
                             (after, limit))
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    # -- buckets ---------------------------------------------------------------------------------
    async def create_bucket(self, name: str, region: str, created: float, owner: str, acl: str,
                            config_json: str, versioning: str = "") -> None:
        def fn(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone():
                raise _bucket_already_owned(name)
            conn.execute("INSERT INTO buckets (name, region, created, owner, acl, config, versioning) "
                         "VALUES (?,?,?,?,?,?,?)", (name, region, created, owner, acl, config_json, versioning))

        await self._write(fn)

    async def delete_bucket(self, name: str) -> None:
        def fn(conn: sqlite3.Connection) -> list[str]:
            if not conn.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone():
                raise no_such_bucket(name)
            if conn.execute("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", (name,)).fetchone():
                raise ServiceError("BucketNotEmpty", "The bucket you tried to delete is not empty", 409,
                                   extra={"BucketName": name})
            blobs = [r[0] for r in conn.execute(
                "SELECT p.blob FROM parts p JOIN uploads u USING (upload_id) WHERE u.bucket = ?", (name,))]
            conn.execute("DELETE FROM buckets WHERE name = ?", (name,))  # uploads and parts go with it
            return blobs

        self.blobs.delete(await self._write(fn, grows=False))

    async def set_versioning(self, name: str, status: str) -> None:
        await self._update_bucket("UPDATE buckets SET versioning = ? WHERE name = ?", (status, name), name)

    async def set_acl(self, name: str, acl: str) -> None:
        await self._update_bucket("UPDATE buckets SET acl = ? WHERE name = ?", (acl, name), name)

    async def _update_bucket(self, sql: str, params: tuple[str, ...], name: str) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            if conn.execute(sql, params).rowcount == 0:
                raise no_such_bucket(name)

        await self._write(fn)

    async def replace_config(self, bucket: BucketRow, config_json: str, events: Sequence[PendingEvent] = ()) -> None:
        """Store a bucket's new configuration (computed from `bucket`), and queue `events` with it."""
        queued = self._event_rows(bucket.name, events)

        def fn(conn: sqlite3.Connection) -> None:
            cur = conn.execute("UPDATE buckets SET config = ? WHERE name = ? AND created = ? AND config = ?",
                               (config_json, bucket.name, bucket.created, bucket.config_json))
            if cur.rowcount == 0:
                self._changed_or_gone(conn, bucket.name)
            conn.executemany(_QUEUE_EVENT, queued)

        await self._write(fn)
        self._kick(events)

    @staticmethod
    def _check_current(conn: sqlite3.Connection, bucket: BucketRow) -> None:
        """Inside a write: the bucket is still as `bucket` was read (same bucket, versioning, configuration)."""
        if conn.execute("SELECT 1 FROM buckets WHERE name = ? AND created = ? AND versioning = ? AND config = ?",
                        (bucket.name, bucket.created, bucket.versioning, bucket.config_json)).fetchone() is None:
            S3Store._changed_or_gone(conn, bucket.name)

    @staticmethod
    def _changed_or_gone(conn: sqlite3.Connection, name: str) -> None:
        if conn.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone() is None:
            raise no_such_bucket(name)
        raise BucketChanged(name)

    @staticmethod
    def _event_rows(bucket: str, events: Sequence[PendingEvent]) -> list[tuple[str, str, str, str, str]]:
        return [(e.kind, e.target, e.body, SEQUENCER_SLOT, bucket) for e in events]

    @staticmethod
    def _count_change_if_current(conn: sqlite3.Connection, bucket: BucketRow) -> None:
        """Inside a write: _check_current and _count_change in one statement."""
        if conn.execute("UPDATE buckets SET seq = seq + 1 WHERE name = ? AND created = ? AND versioning = ? AND "
                        "config = ?", (bucket.name, bucket.created, bucket.versioning,
                                       bucket.config_json)).rowcount == 0:
            S3Store._changed_or_gone(conn, bucket.name)

    @staticmethod
    def _count_change(conn: sqlite3.Connection, bucket: str) -> None:
        """Inside a write: one more change to the bucket; its count orders versions and sequences events."""
        conn.execute("UPDATE buckets SET seq = seq + 1 WHERE name = ?", (bucket,))

    # -- object versions ---------------------------------------------------------------------------
    async def put_version(self, bucket: BucketRow, version: NewVersion, events: Sequence[PendingEvent], *,
                          precondition: WritePrecondition | None = None, completes: str | None = None,
                          grows: bool = True) -> None:
        """Store a new current version of a key (computed from `bucket`) and its events; `completes` names the
        multipart upload it completes, gone with it in the same commit. Frees what it replaced afterwards."""
        queued = self._event_rows(bucket.name, events)
        versioned = bucket.versioning == "Enabled"
        # Versioning once enabled is only ever suspended, and the write checks it is still as read.
        never_versioned = bucket.versioning == "" and version.version_id == "null"
        row = (version.bucket, version.key, version.version_id, bucket.name, int(version.delete_marker),
               version.blob, version.size, version.etag, version.last_modified, version.meta_json, version.body)

        def fn(conn: sqlite3.Connection) -> list[str]:
            # (the change counted first, in the statement that checks the bucket: a refusal below rolls it back)
            self._count_change_if_current(conn, bucket)
            if precondition is not None:
                current = conn.execute("SELECT etag FROM objects WHERE bucket=? AND key=? AND is_latest=1 "
                                       "AND delete_marker=0", (version.bucket, version.key)).fetchone()
                precondition.check(current[0] if current else None)
            freed = self._take_upload(conn, completes) if completes is not None else []
            if completes is not None:
                conn.execute("DELETE FROM completed_uploads WHERE completed < ?",
                             (version.last_modified - COMPLETED_KEPT,))
                conn.execute("INSERT OR REPLACE INTO completed_uploads VALUES (?, ?, ?, ?, ?, ?)",
                             (completes, version.bucket, version.key, version.version_id, version.etag,
                              version.last_modified))
            if not versioned:
                # Unversioned or suspended: the "null" version is replaced, other versions stay.
                old = conn.execute("SELECT blob FROM objects WHERE bucket = ? AND key = ? AND version_id = 'null'",
                                   (version.bucket, version.key)).fetchone()
                if old is not None:
                    if old[0]:
                        freed.append(old[0])
                    conn.execute("DELETE FROM objects WHERE bucket = ? AND key = ? AND version_id = 'null'",
                                 (version.bucket, version.key))
            if not never_versioned:  # (a bucket never versioned holds a key's null version alone, gone above)
                conn.execute("UPDATE objects SET is_latest = 0 WHERE bucket = ? AND key = ? AND is_latest = 1",
                             (version.bucket, version.key))
            conn.execute(f"INSERT INTO objects ({OBJECT_COLUMNS}, body) VALUES (?, ?, ?, (SELECT seq FROM buckets "
                         "WHERE name = ?), 1, ?, ?, ?, ?, ?, ?, ?)", row)
            if queued:
                conn.executemany(_QUEUE_EVENT, queued)
            return freed

        self.blobs.delete(await self._write(fn, grows=grows, objects_only=True))
        self._kick(events)

    async def remove_version(self, bucket: BucketRow, key: str, version_id: str,
                             events: Sequence[PendingEvent], checked_meta: str | None = None,
                             precondition: WritePrecondition | None = None) -> bool | None:
        """Delete one version (the next newest becomes current) and queue `events` if it existed; whether it
        was a delete marker, None if there was no such version. `checked_meta`: the version's metadata as the
        caller judged it deletable (its Object Lock); changed since, the caller judges again (BucketChanged)."""
        queued = self._event_rows(bucket.name, events)

        def fn(conn: sqlite3.Connection) -> tuple[bool | None, list[str]]:
            self._check_current(conn, bucket)
            found = conn.execute("SELECT delete_marker, blob, is_latest, meta, etag FROM objects WHERE bucket=? "
                                 "AND key=? AND version_id=?", (bucket.name, key, version_id)).fetchone()
            if precondition is not None:
                precondition.check(found[4] if found is not None and not found[0] else None)
            if found is None:
                return None, []
            if checked_meta is not None and found[3] != checked_meta:
                raise BucketChanged(bucket.name)
            conn.execute("DELETE FROM objects WHERE bucket=? AND key=? AND version_id=?", (bucket.name, key, version_id))
            if found[2]:
                conn.execute("UPDATE objects SET is_latest=1 WHERE bucket=? AND key=? AND version_id = (SELECT "
                             "version_id FROM objects WHERE bucket=? AND key=? ORDER BY seq DESC LIMIT 1)",
                             (bucket.name, key, bucket.name, key))
            self._count_change(conn, bucket.name)
            conn.executemany(_QUEUE_EVENT, queued)
            return bool(found[0]), [found[1]] if found[1] else []

        # A delete runs on a full disk too (conveyor.storage.disk).
        was_marker, freed = await self._write(fn, grows=False, objects_only=True)
        self.blobs.delete(freed)
        if was_marker is not None:
            self._kick(events)
        return was_marker

    async def set_object_meta(self, bucket: str, key: str, version_id: str, meta_json: str) -> None:
        await self.db.execute("UPDATE objects SET meta = ? WHERE bucket=? AND key=? AND version_id=?",
                              (meta_json, bucket, key, version_id))

    async def change_object_meta(self, bucket: BucketRow, key: str, version_id: str, old_json: str, meta_json: str,
                                 events: Sequence[PendingEvent]) -> None:
        """Set a version's metadata and queue the events of the change in one commit; BucketChanged when the
        bucket's settings or the version's metadata changed since the caller read them (it computes again)."""
        queued = self._event_rows(bucket.name, events)

        def fn(conn: sqlite3.Connection) -> None:
            self._check_current(conn, bucket)
            cursor = conn.execute("UPDATE objects SET meta = ? WHERE bucket=? AND key=? AND version_id=? AND meta=?",
                                  (meta_json, bucket.name, key, version_id, old_json))
            if cursor.rowcount == 0:
                raise BucketChanged(bucket.name)
            self._count_change(conn, bucket.name)
            conn.executemany(_QUEUE_EVENT, queued)

        await self._write(fn, grows=False, objects_only=True)
        self._kick(events)

    def restores_expired(self, now: float) -> list[tuple[str, str, str]]:
        """(bucket, key, version id) of the versions whose restored copy has expired by `now`."""
        rows = self.db.query("SELECT bucket, key, version_id FROM objects WHERE "
                             "json_extract(meta, '$.RestoreExpiry') <= ?", (now,))
        return [(r[0], r[1], r[2]) for r in rows]

    async def replace_object_meta(self, bucket: str, key: str, version_id: str, old_json: str, meta_json: str) -> bool:
        """Set a version's metadata if it is still `old_json` (what the caller computed it from)."""

        def fn(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute("UPDATE objects SET meta = ? WHERE bucket=? AND key=? AND version_id=? AND meta=?",
                                  (meta_json, bucket, key, version_id, old_json))
            return cursor.rowcount > 0

        return await self._write(fn, grows=False, objects_only=True)

    # -- multipart uploads -------------------------------------------------------------------------
    async def create_upload(self, upload_id: str, bucket: str, key: str, initiated: float, meta_json: str) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM buckets WHERE name = ?", (bucket,)).fetchone() is None:
                raise no_such_bucket(bucket)
            conn.execute("INSERT INTO uploads (upload_id, bucket, key, initiated, meta) VALUES (?,?,?,?,?)",
                         (upload_id, bucket, key, initiated, meta_json))

        await self._write(fn, objects_only=True)

    async def save_part(self, upload_id: str, part: PartRow, checksums_json: str) -> None:
        """Store (or replace) a part whose blob is written; frees the blob of the part it replaced."""
        row = (upload_id, part.number, part.blob, part.size, part.etag, part.last_modified, checksums_json)

        def fn(conn: sqlite3.Connection) -> list[str]:
            if not conn.execute("SELECT 1 FROM uploads WHERE upload_id=?", (upload_id,)).fetchone():
                raise no_such_upload(upload_id)
            old = conn.execute("SELECT blob FROM parts WHERE upload_id=? AND part_number=?",
                               (upload_id, part.number)).fetchone()
            conn.execute("INSERT OR REPLACE INTO parts VALUES (?,?,?,?,?,?,?)", row)
            return [old[0]] if old else []

        self.blobs.delete(await self._write(fn, objects_only=True))

    async def abort_upload(self, upload_id: str) -> None:
        def fn(conn: sqlite3.Connection) -> list[str]:
            return self._take_upload(conn, upload_id)

        self.blobs.delete(await self._write(fn, grows=False, objects_only=True))

    @staticmethod
    def _take_upload(conn: sqlite3.Connection, upload_id: str) -> list[str]:
        """Inside a write: drop an upload and its parts; the parts' blobs, to free after the commit."""
        blobs = [r[0] for r in conn.execute("SELECT blob FROM parts WHERE upload_id=?", (upload_id,))]
        if conn.execute("DELETE FROM uploads WHERE upload_id=?", (upload_id,)).rowcount == 0:
            raise no_such_upload(upload_id)
        return blobs

    # -- the outbox ----------------------------------------------------------------------------------
    def clear_events(self, ids: Sequence[int]) -> asyncio.Future[Any]:
        """Delete delivered rows in the next commit another write starts (or one of their own shortly
        after): nobody waits for it, and until it commits the outbox reads past them."""
        rows = [(i,) for i in ids]
        return self.db.write_behind(lambda conn: conn.executemany("DELETE FROM outbox WHERE id = ?", rows),
                                    grows=False)

