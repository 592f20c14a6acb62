"""Message ids read as AWS's (version-4 UUIDs) and sort in the order they were made (SQLite's id
indexes then grow at their right edge)."""

from __future__ import annotations

import time
import uuid

from conveyor.services.sqs.backlog import pack_id, unpack_id
from conveyor.services.sqs.message_ids import message_id_at, new_message_id, new_packed_message_id


def test_ids_are_version_4_uuids_in_canonical_form() -> None:
    for _ in range(1000):
        mid = new_message_id()
        parsed = uuid.UUID(mid)
        assert str(parsed) == mid and parsed.version == 4 and parsed.variant == uuid.RFC_4122
        raw = pack_id(mid)  # the packed backlog keeps them (16 bytes each)
        assert raw is not None and unpack_id(raw) == mid


def test_a_sent_id_comes_with_the_bytes_the_backlog_packs() -> None:
    """A send's id is made with its 16 bytes (the backlog takes them as they are): they are the id's."""
    for _ in range(1000):
        mid, raw = new_packed_message_id()
        parsed = uuid.UUID(mid)
        assert str(parsed) == mid and parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert raw == pack_id(mid) == parsed.bytes and unpack_id(raw) == mid


def test_ids_made_later_sort_after_and_never_repeat() -> None:
    now = time.time_ns() // 1_000_000
    first = [message_id_at(now) for _ in range(20000)]  # (the leading bits count milliseconds)
    later = [message_id_at(now + 1) for _ in range(100)]
    assert max(first) < min(later)
    assert new_message_id()[:13] >= first[0][:13]  # (made from the time now)
    assert len(set(first + later)) == len(first) + len(later)
