"""Shard iterators: where a reader is in a shard, good for five minutes.

An iterator names the stream (its id and creation time, so an iterator of a deleted stream does not
read a new stream of the same name), the shard, the counter of the last record read, and when it was
issued. https://docs.aws.amazon.com/kinesis/latest/APIReference/API_GetShardIterator.html: "A shard
iterator expires 5 minutes after it is returned to the requester."
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from conveyor.services.kinesis import errors

LIFETIME_MS = 300_000
_MAGIC = "cvy1"


@dataclass(frozen=True)
class Position:
    stream_id: int
    stream_created: int  # ms
    shard_row: int
    after: int  # the counter of the last record read
    issued: int  # ms

    def encode(self) -> str:
        text = f"{_MAGIC}.{self.stream_id}.{self.stream_created}.{self.shard_row}.{self.after}.{self.issued}"
        return base64.urlsafe_b64encode(text.encode()).decode()


def decode(iterator: str, now_ms: int) -> Position:
    try:
        parts = base64.urlsafe_b64decode(iterator.encode()).decode().split(".")
        if len(parts) != 6 or parts[0] != _MAGIC:
            raise ValueError(iterator)
        position = Position(*(int(p) for p in parts[1:]))
    except (ValueError, UnicodeError, binascii.Error):
        raise errors.invalid("Invalid ShardIterator.")
    if now_ms - position.issued > LIFETIME_MS:
        raise errors.iterator_expired(position.issued, now_ms, LIFETIME_MS)
    return position
