"""Message ids: AWS's shape, in the order they are made.

SQS promises only that a MessageId is unique across accounts for an extended period
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_Message.html); its ids read as
version-4 UUIDs, and so do these. Their leading 48 bits are the time in milliseconds, the other bits
(but the version and variant ones) random: ids made later sort after those made before. (The store once
indexed messages by id, where random ids split a random page per message; it now keys them by an integer,
conveyor.services.sqs.store, and the order only keeps ids readable by age.) Within a millisecond 74 random
bits keep them unique, across restarts as well.
"""

from __future__ import annotations

import os
import random
import time

_rng = random.Random(os.urandom(32))
_VERSION_MASK = ~(0xF << 76 | 0x3 << 62)  # (the version nibble and the variant's two bits)
_VERSION_BITS = 0x4 << 76 | 0x2 << 62  # version 4, RFC 4122 variant


def new_message_id() -> str:
    return message_id_at(time.time_ns() // 1_000_000)


def new_packed_message_id() -> tuple[str, bytes]:
    """A new id and its 16 bytes as the backlog packs them (conveyor.services.sqs.backlog.pack_id), made
    from the same number: packing the string again costs a regex and a hex parse per message sent."""
    n = time.time_ns() // 1_000_000 << 80 | (_rng.getrandbits(80) & _VERSION_MASK) | _VERSION_BITS
    return _canonical(n), n.to_bytes(16, "big")


def message_id_at(ms: int) -> str:
    """An id made at `ms` milliseconds since the epoch."""
    return _canonical(ms << 80 | (_rng.getrandbits(80) & _VERSION_MASK) | _VERSION_BITS)


def _canonical(n: int) -> str:
    h = f"{n:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
