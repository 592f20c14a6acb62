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

A write computes what it stores beside its item (index entries, expiry, stream record, point-in-time
history row) from the table as it found it; UpdateTable may add or drop an index or turn the stream on or
off meanwhile, UpdateTimeToLive change the TTL, UpdateContinuousBackups point-in-time recovery. Every write
goes to the store through `Catalog.commit` (items, batches, transactions, PartiQL, the TTL sweeper,
ImportTable), which keeps it in step with such a change: while the change is on its way to the store, a
write of that table waits for it, and a write computed under settings the table no longer has is computed
again under the ones it has, so that it commits under the settings in force when it commits. A backfill
reads the items inside its change's commit (DynamoStore.update_table, set_expiries), so every write queued
before it is in it, and every write queued after it carries what the new settings ask for itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence

from conveyor.services.dynamodb import errors, mutations
from conveyor.services.dynamodb.keys import ItemKey
from conveyor.services.dynamodb.store import BackupRow, DynamoStore, ItemWrite, landing_of
from conveyor.services.dynamodb.stored import load_item
from conveyor.services.dynamodb.stream_records import TTL_HORIZON, expiry
from conveyor.services.dynamodb.tables import Table
from conveyor.services.dynamodb.values import Item

ItemId = tuple[int, bytes, bytes]  # (table id, hk, rk)


class KeyLocks:
    """Per-item locks that cost nothing until a key is contended: a free key is taken by marking it held
    (no lock object); only a write that finds its key held queues a future, handed the key when the
    holder lets go (first come, first served)."""

    def __init__(self) -> None:
        # The items a write holds, each with the writes waiting for it in order (None: nobody waits).
        self._held: dict[ItemId, deque[asyncio.Future[None]] | None] = {}
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

    def hold(self, keys: Iterable[ItemId]) -> Held:
        """`async with locks.hold(keys):` the items' locks, taken in sorted order (two writes of several
        items cannot deadlock), released in reverse."""
        return Held(self, keys)

    async def _wait(self, key: ItemId) -> None:
        """Queue for a held key until its holder hands it over."""
        waiters = self._held[key]
        if waiters is None:
            waiters = self._held[key] = deque()
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters.append(turn)
        try:
            await turn
        except BaseException:
            if turn.done() and not turn.cancelled():
                self._release(key)  # handed the key as it was cancelled: pass it on
            elif turn in waiters:  # (a release may have dropped it already)
                waiters.remove(turn)
            raise

    def _release(self, key: ItemId) -> None:
        waiters = self._held[key]
        while waiters:
            turn = waiters.popleft()
            if not turn.done():
                turn.set_result(None)  # the key passes to the next writer, still held
                return
        del self._held[key]


class Held:
    """The locks of one write's items while it runs (KeyLocks.hold)."""

    __slots__ = ("locks", "keys", "taken")

    def __init__(self, locks: KeyLocks, keys: Iterable[ItemId]) -> None:
        self.locks = locks
        self.keys = keys
        self.taken: list[ItemId] = []

    async def __aenter__(self) -> None:
        keys = self.keys if isinstance(self.keys, list) and len(self.keys) == 1 else sorted(set(self.keys))
        held = self.locks._held
        try:
            for key in keys:
                if key in held:
                    await self.locks._wait(key)
                else:
                    held[key] = None  # free: taken with no lock object and no await
                self.taken.append(key)
        except BaseException:
            await self.__aexit__(None, None, None)
            raise

    async def __aexit__(self, kind: object, error: BaseException | None, trace: object) -> None:
        taken, self.taken = self.taken, []
        if error is not None and (landing := landing_of(error)) is not None and not landing.done():
            # Cancelled while its write waited for its commit: the write lands all the same, and the items
            # stay held until it has (nobody judges a condition against the state it replaces).
            landing.add_done_callback(lambda _: self._release(taken))
            return
        self._release(taken)

    def _release(self, taken: list[ItemId]) -> None:
        for key in reversed(taken):
            self.locks._release(key)


class Catalog:
    def __init__(self, store: DynamoStore, now: Callable[[], float]) -> None:
        self.store = store
        self.now = now  # the server's clock: a write computed again is stamped when it is
        self.tables: dict[tuple[str, str], Table] = {}
        self.locks = KeyLocks()
        self.mutex = asyncio.Lock()  # control-plane changes, one at a time
        self.tokens_in_flight: set[str] = set()  # ClientRequestTokens of write transactions in flight
        self._next_id = 0
        self.backups: dict[str, BackupRow] = {}  # by ARN
        # The tables (by id) whose index change (UpdateTable) is queued for commit, each with the future
        # it settles when that commit is over, whichever way it went.
        self.changing: dict[int, asyncio.Future[None]] = {}

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

    def commit(self, tables: Iterable[Table], writes: Sequence[ItemWrite],
               token: tuple[str, str, float] | None = None, *, by_ttl: bool = False) -> Awaitable[None]:
        """Store writes computed from `tables` (the Table objects the caller found), as DynamoStore.apply,
        under the settings their tables have when they are queued (see the module's doc). `by_ttl`: the
        writes are the TTL sweeper's deletions (their stream records name the service). Awaited at once by
        the caller: nothing awaits between this check and the write's queueing."""
        made_for = {table.id: table for table in tables}
        if self.changing and any(table_id in self.changing for table_id in made_for):
            return self._commit_after_changes(made_for, writes, token, by_ttl)
        return self.store.apply(self._recomputed(made_for, writes, by_ttl), token)

    async def _commit_after_changes(self, made_for: dict[int, Table], writes: Sequence[ItemWrite],
                                    token: tuple[str, str, float] | None, by_ttl: bool) -> None:
        while pending := [self.changing[i] for i in made_for if i in self.changing]:
            await asyncio.wait(pending)
        # From here to the write's queueing nothing awaits: no change can come between.
        await self.store.apply(self._recomputed(made_for, writes, by_ttl), token)

    @contextlib.contextmanager
    def changing_table(self, table_id: int) -> Iterator[None]:
        """`with catalog.changing_table(id):` around the commit of a change to what a table stores beside its
        items (its indexes, TTL, stream, point-in-time history) or of its deletion: the table's writes wait
        for it in `commit`."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.changing[table_id] = done
        try:
            yield
        finally:
            del self.changing[table_id]
            done.set_result(None)

    def _recomputed(self, made_for: dict[int, Table], writes: Sequence[ItemWrite],
                    by_ttl: bool) -> Sequence[ItemWrite]:
        """The writes, those computed from another version of their table than the one it has now computed
        again under its current settings (a key attribute of the wrong type for a new index is refused, as
        AWS refuses it once the index exists); a write of a table deleted meanwhile is refused as one of a
        table that does not exist."""
        stale: dict[int, Table] = {}
        for table_id, table in made_for.items():
            current = self.tables.get((table.region, table.name))
            if current is table:
                continue
            if current is None or current.id != table_id:
                # Deleted while the write was on its way (DeleteTable waits for nothing): stored now, its
                # item would outlive its table, under an id a later table may take again.
                raise errors.table_not_found()
            if storage_rules(current) != storage_rules(table):
                stale[table_id] = current
        if not stale:
            return writes
        now = self.now()
        made = [self._recompute(stale[w.table_id], w, now, by_ttl) if w.table_id in stale else w for w in writes]
        return [w for w in made if w is not None]

    def _recompute(self, table: Table, write: ItemWrite, now: float, by_ttl: bool) -> ItemWrite | None:
        """A write as `table`'s settings make it. Its old image is read again: the committed one is the one
        it replaces, since the write holds its item's lock (a write computed for a table without stream or
        recovery may not have read it at all). A TTL deletion whose item no longer expires under the table's
        TTL as it is now (UpdateTimeToLive turned it off, or onto another attribute, while the deletion waited
        for that change) is not made (None): once UpdateTimeToLive is answered and DescribeTimeToLive says
        DISABLED, the sweeper deletes nothing more. (AWS may go on deleting while its status says DISABLING,
        for up to an hour: "It can take up to one hour for the change to fully process"; Conveyor's change
        is whole when it is answered, and no deletion outlives it.)
        https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTimeToLive.html"""
        text = self.store.get(write.table_id, write.hk, write.rk)
        old = load_item(text) if text is not None else None
        if by_ttl and not _still_expired(table, old, now):
            return None
        new = load_item(write.item) if write.item is not None else None
        image = new if new is not None else old
        if image is None:  # deleting an item that is not there: nothing to record
            return dataclasses.replace(write, stream=None, history=None)
        key = ItemKey(table.id, {name: image[name] for name in table.key_names()}, write.hk, write.rk)
        return mutations.item_write(table, key, old, new, now, by_ttl=by_ttl,
                                    size=write.size if new is not None else None)

    def in_region(self, region: str) -> list[Table]:
        return sorted((t for (r, _), t in self.tables.items() if r == region), key=lambda t: t.name)

    def find(self, region: str, name: str, *, control: bool = False) -> Table:
        """The table a TableName (or table ARN) names; ResourceNotFoundException in the operation's words."""
        table = self.tables.get((region, table_name(name)))
        if table is None:
            raise errors.table_not_found(table_name(name) if control else None)
        return table


def _still_expired(table: Table, item: Item | None, now: float) -> bool:
    """Whether the TTL sweeper may delete the item now, under its table's TTL as it is (see Sweeper)."""
    when = expiry(table, item)
    return when is not None and now - TTL_HORIZON <= when <= now


def storage_rules(table: Table) -> tuple[object, ...]:
    """What decides what a table stores beside its items: its indexes' keys, its TTL, its stream (a new
    label is a new stream), its point-in-time recovery."""
    return ([(index.name, index.key_names()) for index in table.indexes], table.ttl_enabled, table.ttl_attribute,
            table.stream_enabled, table.stream_view_type, table.stream_label, bool(table.pitr_since))


def table_name(name_or_arn: str) -> str:
    """TableName accepts the table's ARN too (arn:aws:dynamodb:REGION:ACCOUNT:table/NAME).
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/access-control-resource-based.html"""
    if name_or_arn.startswith("arn:") and ":table/" in name_or_arn:
        return name_or_arn.split(":table/", 1)[1].split("/", 1)[0]
    return name_or_arn
