"""Work on the server's clock: TTL deletes expired items every `dynamodb_ttl_interval` seconds; hourly,
stream records past their 24 hours, transaction tokens past their 10 minutes and point-in-time history past
its table's recovery period are forgotten, and so are deleted tables' system backups past their 35 days.

A TTL deletion is a delete like any other (its item's lock, its index entries and stream record in the same
commit), made only if the item is still expired when its lock is held, and its stream record names the
service as `userIdentity`. Items whose expiry is over five years past are left alone, as AWS leaves them.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/howitworks-ttl.html
"""

from __future__ import annotations

import logging

from conveyor.background import spawn
from conveyor.clock import TimerHandle
from conveyor.services.dynamodb import mutations, pitr
from conveyor.services.dynamodb.backend import Backend
from conveyor.services.dynamodb.backup_api import SYSTEM_BACKUP_DAYS
from conveyor.services.dynamodb.keys import ItemKey
from conveyor.services.dynamodb.stored import load_item
from conveyor.services.dynamodb.stream_records import RETENTION, TTL_HORIZON, expiry
from conveyor.services.dynamodb.tables import Table
from conveyor.services.dynamodb.transact_api import TOKEN_SECONDS
from conveyor.wire import ServiceError

log = logging.getLogger(__name__)
HOUR = 3600.0
TTL_BATCH = 100  # items deleted in one commit


class Sweeper:
    def __init__(self, backend: Backend, interval: float) -> None:
        self.backend = backend
        self.interval = interval
        self._ttl: TimerHandle | None = None
        self._hourly: TimerHandle | None = None
        self._busy: set[str] = set()  # sweeps in flight: a clock moved far ahead starts each once
        self._again: set[str] = set()  # sweeps due while one was in flight: run once more after it

    def start(self) -> None:
        self.stop()
        clock = self.backend.clock
        self._ttl = clock.call_at(clock.now() + self.interval, self._ttl_due)
        self._hourly = clock.call_at(clock.now() + HOUR, self._hourly_due)

    def stop(self) -> None:
        for timer in (self._ttl, self._hourly):
            if timer is not None:
                timer.cancel()
        self._ttl = self._hourly = None

    def _ttl_due(self) -> None:
        clock = self.backend.clock
        self._ttl = clock.call_at(clock.now() + self.interval, self._ttl_due)
        self._once("ttl")

    def _hourly_due(self) -> None:
        clock = self.backend.clock
        self._hourly = clock.call_at(clock.now() + HOUR, self._hourly_due)
        self._once("hourly")

    def _once(self, name: str) -> None:
        if name in self._busy:
            self._again.add(name)
            return
        self._busy.add(name)
        spawn(self._run(name))

    async def _run(self, name: str) -> None:
        try:
            while True:
                self._again.discard(name)
                try:
                    await (self.expire() if name == "ttl" else self.trim())
                except Exception:  # a sweep that fails is retried at the next one
                    log.exception("dynamodb sweep failed")
                if name not in self._again:
                    return
        finally:
            self._busy.discard(name)

    async def expire(self) -> int:
        """Delete the expired items of every table with TTL enabled; how many were deleted."""
        if not self.backend.running:
            return 0
        deleted = 0
        for table in list(self.backend.catalog.tables.values()):
            if table.ttl_enabled:
                deleted += await self._expire_table(table)
        return deleted

    async def _expire_table(self, table: Table) -> int:
        catalog, now = self.backend.catalog, self.backend.now()
        deleted = 0
        while True:
            rows = catalog.store.expired(table.id, now, now - TTL_HORIZON, TTL_BATCH)
            if not rows:
                return deleted
            keys = []
            for hk, rk, text in rows:
                item = load_item(text)
                attributes = {n: item[n] for n in table.key_names()}
                keys.append(ItemKey(table.id, attributes, hk, rk))
            async with catalog.locks.hold([k.id for k in keys]):
                # The table as it is once the locks are held (they may have been waited for).
                current = catalog.tables.get((table.region, table.name))
                if current is None or current.id != table.id or not current.ttl_enabled:
                    return deleted  # the table went meanwhile, or its TTL
                writes = []
                for key in keys:
                    old = mutations.load(catalog.store, key)
                    when = expiry(current, old)
                    if old is not None and when is not None and now - TTL_HORIZON <= when <= now:
                        writes.append(mutations.item_write(current, key, old, None, now, by_ttl=True))
                if not writes:
                    return deleted
                # Through the catalog as every write: a change of the table's stream, recovery or indexes
                # on its way to disk is waited for, and the deletions are made under it.
                try:
                    await catalog.commit([current], writes, by_ttl=True)
                except ServiceError as error:
                    if error.code != "ResourceNotFoundException":
                        raise
                    return deleted  # the table was deleted while the deletions waited for it
            deleted += len(writes)

    async def trim(self) -> None:
        if not self.backend.running:
            return
        catalog, now = self.backend.catalog, self.backend.now()
        await catalog.store.trim_streams(now - RETENTION)
        await catalog.store.forget_tokens(now - TOKEN_SECONDS)
        # Point-in-time history older than each table's recovery period is no longer restorable.
        await catalog.store.history.trim([(t.id, pitr.horizon(t, now)) for t in catalog.tables.values() if t.pitr_since])
        # A deleted table's system backup is kept 35 days.
        for backup in [b for b in catalog.backups.values()
                       if b.kind == "SYSTEM" and b.created + SYSTEM_BACKUP_DAYS * pitr.DAY <= now]:
            await catalog.store.delete_backup(backup.arn)
            catalog.backups.pop(backup.arn, None)
