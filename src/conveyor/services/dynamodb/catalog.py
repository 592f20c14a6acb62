"""The tables in memory, loaded from the store at start, and the locks that order writes to one item.

A write reads its item's committed state, judges its condition, then queues its new state and waits for
the commit. Two writes to the same item must not interleave between the read and the commit (the second
would judge a state that is about to change): each holds its item's lock from its read to its commit. A
transaction takes the locks of all its items in one order (sorted), so two transactions cannot deadlock.
Reads take no lock: they see what is committed.

A write transaction also claims its items from its start to its commit, and DynamoDB's conflict rules
read the claims: a PutItem, UpdateItem or DeleteItem of a claimed item fails at once with
TransactionConflictException, a second transaction touching a claimed item is cancelled, and so is a
TransactGetItems of an item any write holds.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-conflict-handling
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from conveyor.services.dynamodb import errors
from conveyor.services.dynamodb.store import BackupRow, DynamoStore
from conveyor.services.dynamodb.tables import Table

ItemId = tuple[int, bytes, bytes]  # (table id, hk, rk)


class KeyLocks:
    def __init__(self) -> None:
        self._held: dict[ItemId, asyncio.Lock] = {}
        self._waiting: dict[ItemId, int] = {}
        self._claimed: set[ItemId] = set()  # the items of write transactions in flight

    def busy(self, key: ItemId) -> bool:
        """Whether a write holds or waits for the item (or a transaction has claimed it)."""
        return key in self._held or key in self._claimed

    def claimed(self, key: ItemId) -> bool:
        return key in self._claimed

    def claim(self, keys: Iterable[ItemId]) -> set[ItemId]:
        """Claim a write transaction's items, or none of them: the items another transaction in flight
        claimed already. Called with no await before the transaction's hold(), so nothing comes between."""
        wanted = set(keys)
        taken = wanted & self._claimed
        if not taken:
            self._claimed |= wanted
        return taken

    def unclaim(self, keys: Iterable[ItemId]) -> None:
        self._claimed -= set(keys)

    @asynccontextmanager
    async def hold(self, keys: Iterable[ItemId]) -> AsyncIterator[None]:
        ordered = sorted(set(keys))
        taken: list[ItemId] = []
        try:
            for key in ordered:
                lock = self._held.get(key)
                if lock is None:
                    lock = self._held[key] = asyncio.Lock()
                self._waiting[key] = self._waiting.get(key, 0) + 1
                try:
                    await lock.acquire()
                except BaseException:
                    self._release_count(key)
                    raise
                taken.append(key)
            yield
        finally:
            for key in reversed(taken):
                self._held[key].release()
                self._release_count(key)

    def _release_count(self, key: ItemId) -> None:
        left = self._waiting[key] - 1
        if left:
            self._waiting[key] = left
        else:
            del self._waiting[key]
            del self._held[key]


class Catalog:
    def __init__(self, store: DynamoStore) -> None:
        self.store = store
        self.tables: dict[tuple[str, str], Table] = {}
        self.locks = KeyLocks()
        self.mutex = asyncio.Lock()  # control-plane changes, one at a time
        self.tokens_in_flight: set[str] = set()  # ClientRequestTokens of write transactions in flight
        self._next_id = 0
        self.backups: dict[str, BackupRow] = {}  # by ARN

    @property
    def seq(self) -> int:
        """The highest stream sequence number committed."""
        return self.store.last_seq

    def load(self) -> None:
        for row in self.store.tables():
            table = Table.from_row(row.id, row.region, row.name, row.created, row.spec)
            self.tables[(row.region, row.name)] = table
        self._next_id = self.store.max_table_id()
        self.store.last_seq = self.store.high_water()
        self.backups = {b.arn: b for b in self.store.backups()}

    def next_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def clear(self) -> None:
        self.tables.clear()
        self._next_id = 0
        self.store.last_seq = 0
        self.backups.clear()

    def in_region(self, region: str) -> list[Table]:
        return sorted((t for (r, _), t in self.tables.items() if r == region), key=lambda t: t.name)

    def find(self, region: str, name: str, *, control: bool = False) -> Table:
        """The table a TableName (or table ARN) names; ResourceNotFoundException in the operation's words."""
        table = self.tables.get((region, table_name(name)))
        if table is None:
            raise errors.table_not_found(table_name(name) if control else None)
        return table


def table_name(name_or_arn: str) -> str:
    """TableName accepts the table's ARN too (arn:aws:dynamodb:REGION:ACCOUNT:table/NAME).
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/access-control-resource-based.html"""
    if name_or_arn.startswith("arn:") and ":table/" in name_or_arn:
        return name_or_arn.split(":table/", 1)[1].split("/", 1)[0]
    return name_or_arn
