"""Identifiers made on the hot path (request ids, message ids, receipt handles).

They must be unique, not secret: a Mersenne Twister seeded from the OS is several times cheaper than a
getrandom() system call per id (uuid.uuid4, secrets), which a busy 2-core machine makes slow.
Anything that guards access (signing keys, confirmation tokens) keeps using `secrets`.
"""

from __future__ import annotations

import os
import random

_rng = random.Random(os.urandom(32))


# The version (4) and variant (10xx) bits of a random UUID: the bits they replace, then their values.
_UUID_KEEP = ~(0xF000 << 64) & ~(0xC << 60)
_UUID_SET = (0x4000 << 64) | (0x8 << 60)
_getrandbits = _rng.getrandbits


def uuid4() -> str:
    """A random (version 4, RFC 4122 variant) UUID in its canonical text form."""
    h = "%032x" % (_getrandbits(128) & _UUID_KEEP | _UUID_SET)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def token_hex(nbytes: int) -> str:
    return f"{_rng.getrandbits(nbytes * 8):0{nbytes * 2}x}"
