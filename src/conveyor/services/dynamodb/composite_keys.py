"""Multi-attribute keys of global secondary indexes, as bytes SQLite orders as DynamoDB does.

A global index's partition key and sort key may each be made of up to four attributes. Its items are
distributed by all the partition key attributes together, and ordered by the sort key attributes left
to right (by the first, then by the second among equals...). A Query names every partition key
attribute with `=` and the sort key attributes left to right, all but the last with `=`.
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.MultiAttributeKeys

A key of one attribute keeps the plain encoding of values.key_bytes (the rows of indexes created before
multi-attribute keys stay valid). A key of several attributes is a tuple encoding: each attribute's
key_bytes with every 0x00 escaped as 0x00 0xFF, then the terminator 0x00 0x01. The terminator sorts below
any continuation of the attribute, so comparing two encodings compares attribute by attribute, and the
encodings of all tuples starting with some attributes share the encoding of those as a prefix.
"""

from __future__ import annotations

from collections.abc import Sequence

from conveyor.services.dynamodb.expressions import RangeCondition
from conveyor.services.dynamodb.store import Bound
from conveyor.services.dynamodb.values import AttributeValue, key_bytes

_TERMINATOR = b"\x00\x01"
_PAST_TERMINATOR = b"\x00\x02"  # above an attribute's terminator, below any longer value of the attribute


def _escaped(value: AttributeValue) -> bytes:
    return key_bytes(value).replace(b"\x00", b"\x00\xff")


def _component(value: AttributeValue) -> bytes:
    return _escaped(value) + _TERMINATOR


def encode(values: Sequence[AttributeValue]) -> bytes:
    """A key's column value: key_bytes of a single attribute, the tuple encoding of several (none: b"")."""
    if len(values) == 1:
        return key_bytes(values[0])
    return b"".join(_component(v) for v in values)


def successor(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with `prefix` (None: there is none)."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])


def _within(prefix: bytes) -> tuple[Bound | None, Bound | None]:
    """Every encoding starting with `prefix`."""
    if not prefix:
        return None, None
    high = successor(prefix)
    return Bound(prefix, True), Bound(high, False) if high is not None else None


def sort_bounds(prefix_values: Sequence[AttributeValue], condition: RangeCondition | None
                ) -> tuple[Bound | None, Bound | None]:
    """The bounds on a multi-attribute sort key's encoding of a Query that fixes the leading attributes
    to `prefix_values` and puts `condition` on the next one (None: only the prefix)."""
    prefix = b"".join(_component(v) for v in prefix_values)
    if condition is None:
        return _within(prefix)
    op, values = condition.op, condition.values
    if op == "begins_with":
        return _within(prefix + _escaped(values[0]))
    at = [prefix + _escaped(v) for v in values]
    whole_low, whole_high = _within(prefix)
    if op == "=":
        return Bound(at[0] + _TERMINATOR, True), Bound(at[0] + _PAST_TERMINATOR, False)
    if op == "<":
        return whole_low, Bound(at[0] + _TERMINATOR, False)
    if op == "<=":
        return whole_low, Bound(at[0] + _PAST_TERMINATOR, False)
    if op == ">":
        return Bound(at[0] + _PAST_TERMINATOR, True), whole_high
    if op == ">=":
        return Bound(at[0] + _TERMINATOR, True), whole_high
    assert op == "BETWEEN"
    return Bound(at[0] + _TERMINATOR, True), Bound(at[1] + _PAST_TERMINATOR, False)
