"""Temporary credentials: issued durably, looked up by the gateway on every request signed with one.

A session's access key id starts with ASIA, as AWS's temporary keys do (long-term keys start with AKIA,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-unique-ids);
its session token is an opaque random string the caller must send with every request. Expiration is on
the server's clock, so tests move past it with the manual clock.

Lookups are served from memory; the SQLite store is written first, and memory changes only once the
write is committed, so every session handed out survives kill -9.
"""

from __future__ import annotations

import base64
import secrets
import string
from dataclasses import replace

from conveyor.clock import Clock
from conveyor.ports import Credential
from conveyor.services.sts.store import SessionStore
from conveyor.wire import Caller

_ID_CHARS = string.ascii_uppercase + "234567"
_SECRET_CHARS = string.ascii_letters + string.digits + "+/"
# How long an expired session is still recognized (and answered "expired"), and how often to sweep.
KEEP_EXPIRED = 7 * 24 * 3600
SWEEP_EVERY = 3600


def new_access_key() -> str:
    return "ASIA" + "".join(secrets.choice(_ID_CHARS) for _ in range(16))


def new_secret() -> str:
    return "".join(secrets.choice(_SECRET_CHARS) for _ in range(40))


def new_token() -> str:
    return base64.b64encode(secrets.token_bytes(192)).decode()


class Sessions:
    def __init__(self, store: SessionStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.by_key: dict[str, Credential] = {}
        self._swept = float("-inf")

    def load(self) -> None:
        self.by_key = {c.access_key: c for c in self.store.all()}

    def credential(self, access_key: str) -> Credential | None:
        return self.by_key.get(access_key)

    async def issue(self, caller: Caller, duration: int) -> Credential:
        """New temporary credentials for `caller`, valid `duration` seconds from now."""
        now = self.clock.now()
        credential = Credential(new_access_key(), new_secret(), replace(caller, temporary=True), new_token(),
                                now + duration)
        await self.store.put(credential, now)
        self.by_key[credential.access_key] = credential
        if now - self._swept >= SWEEP_EVERY:
            self._swept = now
            await self._sweep(now - KEEP_EXPIRED)
        return credential

    async def _sweep(self, before: float) -> None:
        await self.store.drop_expired(before)
        for key in [k for k, c in self.by_key.items() if (c.expiration or 0) < before]:
            del self.by_key[key]

    async def wipe(self) -> None:
        await self.store.wipe()
        self.by_key.clear()
