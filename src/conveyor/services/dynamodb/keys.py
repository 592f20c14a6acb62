"""Keys: taking a table's and its indexes' keys out of items and Key parameters, with AWS's checks.

Key attributes are scalars of the type the table defines, non-empty, the partition key at most 2048
bytes and the sort key at most 1024. https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/
ServiceQuotas.html#limits-partition-sort-keys and HowItWorks.NamingRulesDataTypes.html.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from conveyor.services.dynamodb import composite_keys, errors
from conveyor.services.dynamodb.store import IndexEntry
from conveyor.services.dynamodb.tables import Index, KeyAttr, Table
from conveyor.services.dynamodb.values import AttributeValue, Item, key_bytes, kind_of

MAX_HASH_BYTES = 2048
MAX_RANGE_BYTES = 1024


class ItemKey:
    """An item's primary key: the key attributes as given, their encoded column values, and `id`, the
    item's identity in the store and in the item locks. (A plain class with slots, not a frozen dataclass:
    one is made per item written, and a frozen dataclass sets each field through object.__setattr__.
    Nothing changes one once made.)"""

    __slots__ = ("table_id", "attributes", "hk", "rk", "id")

    def __init__(self, table_id: int, attributes: Item, hk: bytes, rk: bytes) -> None:
        self.table_id = table_id
        self.attributes = attributes
        self.hk = hk
        self.rk = rk
        self.id: tuple[int, bytes, bytes] = (table_id, hk, rk)

    def __repr__(self) -> str:
        return f"ItemKey({self.table_id!r}, {self.attributes!r}, {self.hk!r}, {self.rk!r})"


def segment(hk: bytes) -> int:
    """A 16-bit hash of the partition key: Scan's segments split 0..65535 evenly."""
    return int.from_bytes(hashlib.md5(hk).digest()[:2], "big")


def segment_range(segment_index: int, total: int) -> tuple[int, int]:
    low = segment_index * 65536 // total
    high = (segment_index + 1) * 65536 // total - 1
    return low, high


def _size_checks(attr: KeyAttr, value: AttributeValue, is_range: bool) -> None:
    if attr.type == "N":
        return  # a number is never empty, and its size never near the limits
    encoded = value[attr.type]
    # (an ASCII string's length is its size in bytes: no encoded copy is made to count them)
    size = len(encoded) if attr.type == "B" or encoded.isascii() else len(encoded.encode())
    if size == 0:
        raise errors.validation("One or more parameter values are not valid. The AttributeValue for a key "
                                f"attribute cannot contain an empty {'string' if attr.type == 'S' else 'binary'} "
                                f"value. Key: {attr.name}")
    if not is_range and size > MAX_HASH_BYTES:
        raise errors.invalid(f"Size of hashkey has exceeded the maximum size limit of{MAX_HASH_BYTES} bytes")
    if is_range and size > MAX_RANGE_BYTES:
        raise errors.invalid(f"Aggregated size of all range keys has exceeded the size limit of "
                             f"{MAX_RANGE_BYTES} bytes")


def key_of_item(table: Table, item: Item) -> ItemKey:
    """The key of an item being written (PutItem, a Put in a transaction or batch)."""
    hash_value = _item_key_value(table.hash, item, False)
    attributes = {table.hash.name: hash_value}
    rk = b""
    if table.range is not None:
        range_value = _item_key_value(table.range, item, True)
        attributes[table.range.name] = range_value
        rk = key_bytes(range_value)
    return ItemKey(table.id, attributes, key_bytes(hash_value), rk)


def _item_key_value(attr: KeyAttr, item: Item, is_range: bool) -> AttributeValue:
    value = item.get(attr.name)
    if value is None:
        raise errors.invalid(f"Missing the key {attr.name} in the item")
    if kind_of(value) != attr.type:
        raise errors.invalid(f"Type mismatch for key {attr.name} expected: {attr.type} actual: {kind_of(value)}")
    _size_checks(attr, value, is_range)
    return value


def key_of_request(table: Table, key: Mapping[str, AttributeValue]) -> ItemKey:
    """The key a Key parameter names (GetItem, UpdateItem, DeleteItem...): exactly the table's key
    attributes, of their types. https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_GetItem.html"""
    hash_attr, range_attr = table.hash, table.range
    if (len(key) != (1 if range_attr is None else 2) or hash_attr.name not in key
            or (range_attr is not None and range_attr.name not in key)):
        raise errors.validation("The provided key element does not match the schema")
    # (checked and encoded in one look at each value: every GetItem comes this way)
    hash_value = key[hash_attr.name]
    if kind_of(hash_value) != hash_attr.type:
        raise errors.validation("The provided key element does not match the schema")
    _size_checks(hash_attr, hash_value, False)
    attributes = {hash_attr.name: hash_value}
    rk = b""
    if range_attr is not None:
        range_value = key[range_attr.name]
        if kind_of(range_value) != range_attr.type:
            raise errors.validation("The provided key element does not match the schema")
        _size_checks(range_attr, range_value, True)
        attributes[range_attr.name] = range_value
        rk = key_bytes(range_value)
    return ItemKey(table.id, attributes, key_bytes(hash_value), rk)


def index_entries(table: Table, item: Item) -> list[IndexEntry]:
    """The index entries of an item: one per index whose key attributes the item all has (a sparse index
    leaves out the others, and a multi-attribute key needs every one of its attributes). A key attribute
    of the wrong type or empty is refused, as AWS refuses it.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.Writes"""
    entries = []
    for index in table.indexes:
        hashes, ranges = index.hash_attrs(), index.range_attrs()
        found = [item.get(attr.name) for attr in hashes + ranges]
        values = [v for v in found if v is not None]
        if len(values) != len(found):
            continue
        for position, (attr, value) in enumerate(zip(hashes + ranges, values, strict=True)):
            _index_checks(index, attr, value, is_range=position >= len(hashes))
        ihk = composite_keys.encode(values[:len(hashes)])
        irk = composite_keys.encode(values[len(hashes):])
        entries.append(IndexEntry(index.name, ihk, irk, segment(ihk)))
    return entries


def _index_checks(index: Index, attr: KeyAttr, value: AttributeValue, *, is_range: bool) -> None:
    """An index key's type and emptiness, and its size: an index's keys have the table's key size limits
    (a table's partition key may be 2048 bytes, but 1024 once an index sorts by it)."""
    actual = kind_of(value)
    if actual != attr.type:
        raise errors.invalid(f"Type mismatch for Index Key {attr.name} Expected: {attr.type} Actual: {actual} "
                             f"IndexName: {index.name}")
    if attr.type in ("S", "B") and len(value[attr.type]) == 0:
        raise errors.validation("One or more parameter values are not valid. A value specified for a secondary "
                                "index key is not supported. The AttributeValue for a key attribute cannot contain "
                                f"an empty {'string' if attr.type == 'S' else 'binary'} value. IndexName: "
                                f"{index.name}, IndexKey: {attr.name}")
    _size_checks(attr, value, is_range)


def index_key_attributes(table: Table, index: Index, item: Item) -> Item:
    """An index's LastEvaluatedKey: the index's keys and the table's."""
    names = dict.fromkeys(index.key_names() + table.key_names())
    return {n: item[n] for n in names if n in item}
