"""Access keys: issued by CreateAccessKey, accepted by the gateway's signature check (`--auth sigv4`).

A user holds at most two keys; an inactive key is refused as an unknown one is. A key's last use
(GetAccessKeyLastUsed) is kept in memory at once and written to disk at most once a minute per key:
it is bookkeeping, not a write anybody waits for.
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html
"""

from __future__ import annotations

import asyncio
from typing import Any

from conveyor.ports import Credential
from conveyor.services.iam import errors
from conveyor.services.iam.core import Core
from conveyor.services.iam.entities import AccessKey, new_id, new_secret
from conveyor.wire import Caller

KEYS_PER_USER = 2
_WRITE_EVERY = 60.0
_REMEMBERED = 10_000


class AccessKeys:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.store = core.store
        self.recent: dict[str, tuple[float, str, str]] = {}  # key id -> (when, service, region)
        self._written: dict[str, float] = {}
        self._credentials: dict[str, Credential | None] = {}
        self._generation = -1

    def _owned(self, key_id: str, user: str | None) -> AccessKey:
        key = self.store.key(key_id)
        if key is None or (key.user or "").lower() != (user or "").lower():
            raise errors.no_key(key_id)
        return key

    async def create(self, user: str | None) -> AccessKey:
        async with self.core.lock:
            owner = self.core.user(user).name if user is not None else None
            if len(self.store.keys_of(owner)) >= KEYS_PER_USER:
                raise errors.quota("AccessKeysPerUser", KEYS_PER_USER)
            key = AccessKey(new_id("access-key"), new_secret(), owner, "Active", self.core.now())
            await self.store.put_key(key)
        return key

    def listing(self, user: str | None) -> list[AccessKey]:
        owner = self.core.user(user).name if user is not None else None
        return self.store.keys_of(owner)

    async def set_status(self, key_id: str, user: str | None, status: str) -> None:
        async with self.core.lock:
            owner = self.core.user(user).name if user is not None else None
            self._owned(key_id, owner)
            await self.store.set_key_status(key_id, status)

    async def delete(self, key_id: str, user: str | None) -> None:
        async with self.core.lock:
            owner = self.core.user(user).name if user is not None else None
            self._owned(key_id, owner)
            await self.store.delete_key(key_id)
            self.recent.pop(key_id, None)

    def last_used(self, key_id: str) -> tuple[AccessKey, tuple[float, str, str] | None]:
        key = self.store.key(key_id)
        if key is None:
            raise errors.no_key(key_id)
        used = self.recent.get(key_id)
        if used is None and key.last_used is not None:
            used = (key.last_used, key.last_service or "N/A", key.last_region or "N/A")
        return key, used

    # -- what the gateway asks (conveyor.ports.CredentialSource) -----------------------------------
    def credential(self, key_id: str) -> Credential | None:
        """Asked for every request signed with an IAM key: kept until IAM's data changes (a key disabled or
        deleted, a user renamed or retagged)."""
        if self._generation != self.store.generation:
            self._credentials.clear()
            self._generation = self.store.generation
        if key_id in self._credentials:
            return self._credentials[key_id]
        if len(self._credentials) >= _REMEMBERED:
            self._credentials.clear()
        found = self._credentials[key_id] = self._credential(key_id)
        return found

    def _credential(self, key_id: str) -> Credential | None:
        key = self.store.key(key_id)
        if key is None or key.status != "Active":
            return None
        account = self.core.account
        if key.user is None:
            return Credential(key.id, key.secret, Caller.root(account))
        user = self.store.user(key.user)
        if user is None:
            return None
        caller = Caller("user", account, self.core.user_arn(user), user.id,
                        tags={tag["Key"]: tag["Value"] for tag in user.tags})
        return Credential(key.id, key.secret, caller)

    def note_used(self, key_id: str, service: str, region: str) -> None:
        now = self.core.now()
        self.recent[key_id] = (now, service, region)
        if now - self._written.get(key_id, float("-inf")) < _WRITE_EVERY:
            return
        self._written[key_id] = now
        self.store.note_key_used(key_id, now, service, region).add_done_callback(_ignore)


def _ignore(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # a failed bookkeeping write is not the request's failure
