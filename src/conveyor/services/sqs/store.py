"""SQLite schema and row conversions for SQS (the durable log behind the in-memory queues)."""

from __future__ import annotations

import base64
import json
from typing import Any

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
]

MESSAGE_COLUMNS = (
    "id, queue_id, seq, body, attrs, sys_attrs, md5_body, md5_attrs, md5_sys, sent, sender_id, group_id, "
    "dedup_id, receive_count, first_receive, visible_at, receipt, source_arn"
)
INSERT_MESSAGE = f"INSERT OR REPLACE INTO messages ({MESSAGE_COLUMNS}) VALUES ({', '.join('?' * 18)})"


def encode_attrs(attrs: dict[str, dict[str, Any]] | None) -> str | None:
    if not attrs:
        return None
    out = {}
    for name, value in attrs.items():
        item = dict(value)
        if isinstance(item.get("BinaryValue"), bytes | bytearray):
            item["BinaryValue"] = {"b64": base64.b64encode(item["BinaryValue"]).decode()}
        if item.get("BinaryListValues"):
            item["BinaryListValues"] = [base64.b64encode(b).decode() for b in item["BinaryListValues"]]
        out[name] = item
    return json.dumps(out, separators=(",", ":"))


def decode_attrs(text: str | None) -> dict[str, dict[str, Any]] | None:
    if not text:
        return None
    data = json.loads(text)
    for item in data.values():
        if isinstance(item.get("BinaryValue"), dict):
            item["BinaryValue"] = base64.b64decode(item["BinaryValue"]["b64"])
        if item.get("BinaryListValues"):
            item["BinaryListValues"] = [base64.b64decode(b) for b in item["BinaryListValues"]]
    return data


def message_row(msg: Any) -> tuple[Any, ...]:
    return (
        msg.id, msg.queue.id, msg.seq, msg.body, encode_attrs(msg.attrs), encode_attrs(msg.sys_attrs),
        msg.md5_body, msg.md5_attrs, msg.md5_sys, msg.sent, msg.sender_id, msg.group_id, msg.dedup_id,
        msg.receive_count, msg.first_receive, msg.visible_at, msg.receipt, msg.source_arn,
    )
