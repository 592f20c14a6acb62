"""Log events in: PutLogEvents' rules; and out: GetLogEvents' and FilterLogEvents' pages and tokens.

PutLogEvents (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html):
a batch is at most 1,048,576 bytes counting 26 bytes per event, at most 10,000 events, in chronological
order; events more than 2 hours ahead, more than 14 days old or older than the group's retention are
rejected (and said so in rejectedLogEventsInfo) while the others are stored; the stored ones may not span
more than 24 hours. The sequence token is ignored.
"""

from __future__ import annotations

import base64
import binascii
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from conveyor.services.logs import errors
from conveyor.services.logs.catalog import LogGroup, LogStream
from conveyor.services.logs.store import EventRow, StreamTouch

MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
MAX_FUTURE_MS = 2 * 3600 * 1000
MAX_AGE_MS = 14 * 86400 * 1000
MAX_SPAN_MS = 24 * 3600 * 1000
DAY_MS = 86400 * 1000
DEFAULT_LIMIT = 10_000
# FilterLogEvents reads at most this many events per call; a page may come back short, with a token.
SCAN_LIMIT = 10_000


@dataclass
class Accepted:
    """The events of a PutLogEvents batch that are stored, and what was rejected."""

    events: list[tuple[int, str]]  # (timestamp ms, message)
    rejected: dict[str, int]


def check_batch(raw: Sequence[dict[str, Any]], now_ms: int, retention_days: int | None) -> Accepted:
    size = sum(len(e["message"].encode()) + EVENT_OVERHEAD for e in raw)
    if size > MAX_BATCH_BYTES:
        raise errors.invalid(f"Upload too large: {size} bytes exceeds limit of {MAX_BATCH_BYTES}")
    stamps = [int(e["timestamp"]) for e in raw]
    if any(later < earlier for earlier, later in zip(stamps, stamps[1:], strict=False)):
        raise errors.invalid("Log events in a single PutLogEvents request must be in chronological order.")
    rejected: dict[str, int] = {}
    too_old = now_ms - MAX_AGE_MS
    expired = now_ms - retention_days * DAY_MS if retention_days else None
    start, stop = 0, len(raw)
    for index, ts in enumerate(stamps):
        if ts < too_old:
            rejected["tooOldLogEventEndIndex"] = index
            start = index + 1
        elif expired is not None and ts < expired:
            rejected["expiredLogEventEndIndex"] = index
            start = index + 1
    for index, ts in enumerate(stamps):
        if ts > now_ms + MAX_FUTURE_MS:
            rejected["tooNewLogEventStartIndex"] = index
            stop = index
            break
    kept = [(stamps[i], raw[i]["message"]) for i in range(start, max(start, stop))]
    if kept and kept[-1][0] - kept[0][0] > MAX_SPAN_MS:
        raise errors.invalid("The batch of log events in a single PutLogEvents request cannot span more than "
                             "24 hours.")
    return Accepted(kept, rejected)


def rows_for(group: LogGroup, stream: LogStream, events: Sequence[tuple[int, str]], ids: range,
             ingested: int) -> tuple[list[EventRow], StreamTouch]:
    rows = [EventRow(event_id, stream.id, group.id, ts, ingested, message)
            for event_id, (ts, message) in zip(ids, events, strict=True)]
    touch = StreamTouch(stream.id, group.id, min((r.ts for r in rows), default=None),
                        max((r.ts for r in rows), default=None), ingested,
                        sum(len(r.message.encode()) for r in rows))
    return rows, touch


# -- positions and tokens --------------------------------------------------------------------------------
Position = tuple[int, int]  # (timestamp ms, event id): the order events are read in


def event_id(ts: int, row_id: int) -> str:
    """AWS's event ids are 56 digits; these order as the events do."""
    return f"{ts:020d}{row_id:036d}"


def stream_token(direction: str, position: Position) -> str:
    return f"{direction}/{event_id(*position)}"


def parse_stream_token(token: str) -> tuple[str, Position]:
    direction, _, digits = token.partition("/")
    if direction not in ("f", "b") or len(digits) != 56 or not digits.isdigit():
        raise errors.bad_token()
    return direction, (int(digits[:20]), int(digits[20:]))


def filter_token(position: Position) -> str:
    return base64.urlsafe_b64encode(f"{position[0]}:{position[1]}".encode()).decode()


def parse_filter_token(token: str) -> Position:
    try:
        ts, _, row = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        return int(ts), int(row)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise errors.bad_token()


def output_event(row: sqlite3.Row) -> dict[str, Any]:
    return {"timestamp": row[2], "message": row[4], "ingestionTime": row[3]}
