"""S3 metadata in SQLite: buckets, object versions, multipart uploads, the notification outbox.

Unversioned objects have version_id "null" (as AWS reports them); each (bucket, key) has at most one
row with is_latest=1. Keys are compared as SQLite BINARY text, i.e. by UTF-8 bytes, which is the order
S3 lists them in.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

MIGRATIONS = [
    """
    CREATE TABLE buckets (
        name TEXT PRIMARY KEY,
        region TEXT NOT NULL,
        created REAL NOT NULL,
        owner TEXT NOT NULL,
        versioning TEXT NOT NULL DEFAULT '',
        acl TEXT NOT NULL DEFAULT 'private',
        config TEXT NOT NULL DEFAULT '{}',
        seq INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE objects (
        bucket TEXT NOT NULL REFERENCES buckets(name) ON DELETE CASCADE,
        key TEXT NOT NULL,
        version_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        is_latest INTEGER NOT NULL,
        delete_marker INTEGER NOT NULL DEFAULT 0,
        blob TEXT,
        size INTEGER NOT NULL DEFAULT 0,
        etag TEXT NOT NULL DEFAULT '',
        last_modified REAL NOT NULL,
        meta TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (bucket, key, version_id)
    );
    CREATE INDEX objects_latest ON objects(bucket, is_latest, key);
    CREATE INDEX objects_versions ON objects(bucket, key, seq);
    CREATE TABLE uploads (
        upload_id TEXT PRIMARY KEY,
        bucket TEXT NOT NULL REFERENCES buckets(name) ON DELETE CASCADE,
        key TEXT NOT NULL,
        initiated REAL NOT NULL,
        meta TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX uploads_bucket ON uploads(bucket, key, initiated);
    CREATE TABLE parts (
        upload_id TEXT NOT NULL REFERENCES uploads(upload_id) ON DELETE CASCADE,
        part_number INTEGER NOT NULL,
        blob TEXT NOT NULL,
        size INTEGER NOT NULL,
        etag TEXT NOT NULL,
        last_modified REAL NOT NULL,
        checksums TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (upload_id, part_number)
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        target TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE TABLE garbage (
        blob TEXT PRIMARY KEY
    )
    """,
    # Small bodies live in the row itself (see blobs.INLINE_MAX); `blob` is then NULL.
    "ALTER TABLE objects ADD COLUMN body BLOB",
]


@dataclass
class ObjectRow:
    bucket: str
    key: str
    version_id: str
    seq: int
    is_latest: bool
    delete_marker: bool
    blob: str | None
    size: int
    etag: str
    last_modified: float
    meta: dict[str, Any]
    body: bytes | None = None  # an inline body: set on rows being written and read `with_body`

    @classmethod
    def from_row(cls, row: sqlite3.Row | tuple[Any, ...]) -> ObjectRow:
        return cls(row[0], row[1], row[2], row[3], bool(row[4]), bool(row[5]), row[6], row[7], row[8],
                   row[9], json.loads(row[10]), row[11] if len(row) > 11 else None)

    @property
    def quoted_etag(self) -> str:
        return f'"{self.etag}"'


OBJECT_COLUMNS = "bucket, key, version_id, seq, is_latest, delete_marker, blob, size, etag, last_modified, meta"


@dataclass
class BucketRow:
    name: str
    region: str
    created: float
    owner: str
    versioning: str
    acl: str
    config: dict[str, Any]

    @classmethod
    def from_row(cls, row: Any) -> BucketRow:
        return cls(row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6]))


def next_seq(conn: sqlite3.Connection, bucket: str) -> int:
    conn.execute("UPDATE buckets SET seq = seq + 1 WHERE name = ?", (bucket,))
    return conn.execute("SELECT seq FROM buckets WHERE name = ?", (bucket,)).fetchone()[0]


def insert_object(conn: sqlite3.Connection, obj: ObjectRow, versioned: bool) -> list[str]:
    """Store a new current version; returns blob ids no longer referenced (to delete after commit)."""
    freed: list[str] = []
    if versioned:
        conn.execute("UPDATE objects SET is_latest = 0 WHERE bucket = ? AND key = ? AND is_latest = 1",
                     (obj.bucket, obj.key))
    else:
        # Unversioned or suspended: the "null" version is replaced, other versions stay.
        old = conn.execute("SELECT blob, is_latest FROM objects WHERE bucket = ? AND key = ? AND version_id = 'null'",
                           (obj.bucket, obj.key)).fetchone()
        if old is not None and old[0]:
            freed.append(old[0])
        conn.execute("DELETE FROM objects WHERE bucket = ? AND key = ? AND version_id = 'null'", (obj.bucket, obj.key))
        conn.execute("UPDATE objects SET is_latest = 0 WHERE bucket = ? AND key = ? AND is_latest = 1",
                     (obj.bucket, obj.key))
    conn.execute(
        f"INSERT INTO objects ({OBJECT_COLUMNS}, body) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (obj.bucket, obj.key, obj.version_id, obj.seq, 1, int(obj.delete_marker), obj.blob, obj.size,
         obj.etag, obj.last_modified, json.dumps(obj.meta), obj.body),
    )
    return freed



def delete_version(conn: sqlite3.Connection, bucket: str, key: str, version_id: str) -> tuple[ObjectRow | None, list[str]]:
    row = conn.execute(f"SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket=? AND key=? AND version_id=?",
                       (bucket, key, version_id)).fetchone()
    if row is None:
        return None, []
    obj = ObjectRow.from_row(row)
    conn.execute("DELETE FROM objects WHERE bucket=? AND key=? AND version_id=?", (bucket, key, version_id))
    if obj.is_latest:
        nxt = conn.execute("SELECT version_id FROM objects WHERE bucket=? AND key=? ORDER BY seq DESC LIMIT 1",
                           (bucket, key)).fetchone()
        if nxt is not None:
            conn.execute("UPDATE objects SET is_latest=1 WHERE bucket=? AND key=? AND version_id=?",
                         (bucket, key, nxt[0]))
    return obj, [obj.blob] if obj.blob else []


def add_outbox(conn: sqlite3.Connection, kind: str, target: str, body: str) -> None:
    conn.execute("INSERT INTO outbox (kind, target, body) VALUES (?,?,?)", (kind, target, body))
