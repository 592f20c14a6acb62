"""One item's change, shared by the single-item operations, batches and transactions: its committed
state read, its condition judged, its new state computed and encoded for the store.
"""

from __future__ import annotations

from collections.abc import Iterable

from conveyor.services.dynamodb import errors
from conveyor.services.dynamodb.compiling import Compiled
from conveyor.services.dynamodb.expressions import Update
from conveyor.services.dynamodb.keys import ItemKey, index_entries, segment
from conveyor.services.dynamodb.store import DynamoStore, HistoryRow, IndexEntry, ItemWrite
from conveyor.services.dynamodb.stored import dump_item, load_item
from conveyor.services.dynamodb.stream_records import expiry, record_row
from conveyor.services.dynamodb.tables import Table
from conveyor.services.dynamodb.values import Item, check_item_size, item_size

RETURN_VALUES = ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW")


def load(store: DynamoStore, key: ItemKey) -> Item | None:
    text = store.get(*key.id)
    return load_item(text) if text is not None else None


def check_return_values(value: str | None, allowed: Iterable[str]) -> None:
    """PutItem and DeleteItem return only NONE or ALL_OLD.
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PutItem.html#DDB-PutItem-request-ReturnValues"""
    if value is not None and value not in allowed:
        raise errors.validation("Return values set to invalid value")


def judge(compiled: Compiled, old: Item | None, on_failure: str | None) -> None:
    """The condition against the committed item (None: absent); ConditionalCheckFailedException (with
    the item, when ReturnValuesOnConditionCheckFailure is ALL_OLD) when it does not hold."""
    if compiled.condition is not None and not compiled.condition.matches(old):
        raise errors.condition_failed(old if on_failure == "ALL_OLD" and old is not None else None)


def updated(table: Table, key: ItemKey, old: Item | None, compiled: Compiled) -> Item:
    """UpdateItem's new item: the old one (or the key alone) with the update applied."""
    base: Item = dict(old) if old is not None else dict(key.attributes)
    update = compiled.update
    if update is None:
        return base
    for name in table.key_names():
        if name in update.top_level_names:
            raise errors.invalid(f"Cannot update attribute {name}. This attribute is part of the key")
    new: Item = update.apply(base)
    check_item_size(new, updating=True)
    _refuse_emptied_index_keys(table, new)
    return new


def _refuse_emptied_index_keys(table: Table, new: Item) -> None:
    """An update that leaves a secondary index's key attribute an empty string or binary gets AWS's
    update-specific wording (PutItem's names the index and the key).
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html"""
    for index in table.indexes:
        for attr in index.hash_attrs() + index.range_attrs():
            value = new.get(attr.name)
            if value is not None and attr.type in ("S", "B") and value.get(attr.type) in ("", b""):
                raise errors.validation(
                    "One or more parameter values are not valid. The update expression attempted to update a "
                    "secondary index key to a value that is not supported. The AttributeValue for a key attribute "
                    f"cannot contain an empty {'string' if attr.type == 'S' else 'binary'} value.")


def needs_old(table: Table, compiled: Compiled, return_values: str | None, consumed: str | None) -> bool:
    """Whether a write must read the item it replaces: for its condition, its returned old image, its
    table's stream or point-in-time history, or the capacity it reports (the larger image counts). A
    plain PutItem needs none of these and writes blind, under its key's lock all the same."""
    return (compiled.condition is not None or return_values not in (None, "NONE") or keeps_images(table)
            or consumed in ("TOTAL", "INDEXES"))


def keeps_images(table: Table) -> bool:
    """Whether a change to the table's items records the old image (its stream, its point-in-time history)."""
    return table.stream_enabled or bool(table.pitr_since)


def item_write(table: Table, key: ItemKey, old: Item | None, new: Item | None, now: float,
               *, by_ttl: bool = False, size: int | None = None, plain: bool = False,
               entries: list[IndexEntry] | None = None) -> ItemWrite:
    """The store's row for an item's new state (None: deleted), with its index entries, its stream record
    and its expiry. `size`: the new item's size, when the caller has counted it already; `plain`: the new
    item holds no binary, map or list (values.sized_item)."""
    record = None
    if table.stream_enabled and old != new:
        record = record_row(table, now, key.attributes, old, new, by_ttl)
    stored = dump_item(new, plain=plain) if new is not None else None
    history = None
    if table.pitr_since and old != new:  # point-in-time recovery keeps every change (conveyor.services.dynamodb.pitr)
        history = HistoryRow(now, dump_item(old) if old is not None else None, stored)
    if new is None or stored is None:
        return ItemWrite(table.id, key.hk, key.rk, 0, None, stream=record, history=history)
    if entries is None:
        entries = index_entries(table, new)
    return ItemWrite(table.id, key.hk, key.rk, segment(key.hk), stored, item_size(new) if size is None else size,
                     entries, record, expiry(table, new), history, bool(table.indexes))


def returned(mode: str | None, old: Item | None, new: Item | None, update: Update | None = None) -> Item | None:
    """The Attributes a write returns for ReturnValues `mode`. UPDATED_OLD and UPDATED_NEW hold only the
    paths the update touched, nested ones included (SET a.b[1] returns a: {b: [that element]}), not
    the whole top-level attributes.
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateItem.html#DDB-UpdateItem-request-ReturnValues"""
    if mode in (None, "NONE"):
        return None
    if mode == "ALL_OLD":
        return old
    if mode == "ALL_NEW":
        return new
    source = old if mode == "UPDATED_OLD" else new
    if source is None or update is None:
        return None
    return update.updated(source) or None
