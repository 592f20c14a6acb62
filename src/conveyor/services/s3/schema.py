"""S3's tables and the rows read from and written to them.

Unversioned objects have version_id "null" (as AWS reports them); each (bucket, key) has at most one
row with is_latest=1. Keys are compared as SQLite BINARY text, i.e. by UTF-8 bytes, which is the order
S3 lists them in. Each bucket counts its changes in `seq`: an object version's `seq` orders the versions
of a key, and becomes the `sequencer` of the change's event.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
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
    # Multipart uploads completed lately, so that a retried CompleteMultipartUpload answers as the first did.
    """
    CREATE TABLE completed_uploads (
        upload_id TEXT PRIMARY KEY,
        bucket TEXT NOT NULL REFERENCES buckets(name) ON DELETE CASCADE,
        key TEXT NOT NULL,
        version_id TEXT NOT NULL,
        etag TEXT NOT NULL,
        completed REAL NOT NULL
    )
    """,
]

# children before parents
TABLES = ("outbox", "parts", "uploads", "completed_uploads", "objects", "buckets", "garbage")
OBJECT_COLUMNS = "bucket, key, version_id, seq, is_latest, delete_marker, blob, size, etag, last_modified, meta"
BUCKET_COLUMNS = "name, region, created, owner, versioning, acl, config"
Row = sqlite3.Row | tuple[Any, ...]


def json_object(text: str) -> dict[str, Any]:
    """A JSON object column (bucket config, object meta, part checksums): Conveyor wrote it, so it is one."""
    loaded: dict[str, Any] = json.loads(text)
    return loaded


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
    body: bytes | None = None  # the inline body, on rows read `with_body`
    meta_json: str = "{}"  # `meta` as stored: what a write decided on this row checks is still current

    @classmethod
    def from_row(cls, row: Row) -> ObjectRow:
        return cls(row[0], row[1], row[2], row[3], bool(row[4]), bool(row[5]), row[6], row[7], row[8],
                   row[9], json_object(row[10]), row[11] if len(row) > 11 else None, row[10])

    @property
    def quoted_etag(self) -> str:
        return f'"{self.etag}"'


class ObjectPage:
    """A page of a key-ordered scan; its rows become ObjectRows only as a listing reaches them (a listing
    that rolls keys up into common prefixes, or lists versions, reads a page for one key at a time)."""

    def __init__(self, rows: Sequence[Row]) -> None:
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[ObjectRow]:
        return (ObjectRow.from_row(row) for row in self._rows)

    def versions_of(self, key: str) -> list[ObjectRow]:
        return [ObjectRow.from_row(row) for row in self._rows if row[1] == key]


@dataclass(frozen=True)
class NewVersion:
    """An object version (or delete marker) about to be stored, every column computed before the write."""

    bucket: str
    key: str
    version_id: str
    delete_marker: bool
    blob: str | None
    size: int
    etag: str
    last_modified: float
    meta_json: str
    body: bytes | None  # a small body stored in the row (blob is then None)

    @property
    def quoted_etag(self) -> str:
        return f'"{self.etag}"'


@dataclass(frozen=True)
class BucketRow:
    name: str
    region: str
    created: float
    owner: str
    versioning: str  # "", "Enabled" or "Suspended"
    acl: str
    config: dict[str, Any]
    # The stored text of `config`: with `created` and `versioning`, what a write that decided on this row
    # checks is still current (see S3Store's BucketChanged).
    config_json: str

    @classmethod
    def from_row(cls, row: Row) -> BucketRow:
        return cls(row[0], row[1], row[2], row[3], row[4], row[5], json_object(row[6]), row[6])


@dataclass(frozen=True)
class UploadRow:
    upload_id: str
    key: str
    initiated: float
    meta: dict[str, Any]


@dataclass(frozen=True)
class PartRow:
    number: int
    blob: str
    size: int
    etag: str
    last_modified: float
    checksums: dict[str, str]  # algorithm -> base64

    @classmethod
    def from_row(cls, row: Row) -> PartRow:
        return cls(row[0], row[1], row[2], row[3], row[4], json_object(row[5]))


PART_COLUMNS = "part_number, blob, size, etag, last_modified, checksums"


@dataclass(frozen=True)
class PendingEvent:
    """An event record for the outbox, encoded before the write. A record about an object change holds
    SEQUENCER_SLOT where its sequencer goes: the bucket's change counter is only known inside the write,
    which fills it in (in SQL)."""

    kind: str  # sqs, sns or lambda
    target: str  # the destination's ARN
    body: str


# The JSON member the sequencer replaces. JSON puts a `:` only after a member name, and the names are
# Conveyor's, so this text cannot come from a key or configuration id (those are values).
SEQUENCER_PLACEHOLDER = "?"
SEQUENCER_SLOT = f'"sequencer":"{SEQUENCER_PLACEHOLDER}"'
