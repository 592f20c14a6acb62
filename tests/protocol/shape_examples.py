"""Example values generated from botocore shapes: every member of a structure, required and optional, with
one value per type, in two variants:

- FULL: values that stress a codec (characters that need escaping, two items per list and map, a
  timestamp, binary bytes, true);
- EMPTY: the edges a codec may lose (false, the smallest number, empty text, lists, maps and bytes).

Values are what boto3 users pass and get back: str, int, float, bool, bytes, timezone-aware datetimes,
lists and dicts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StringShape, StructureShape


@dataclass(frozen=True)
class Variant:
    name: str
    text: str
    header_text: str  # HTTP headers carry visible ASCII (RFC 9110 5.5): botocore sends them as given
    label_text: str  # a URI label is never empty (the path would lose a segment)
    integer: int
    number: float
    boolean: bool
    timestamp: dt.datetime
    blob: bytes
    items: int  # how many items a list or map gets


FULL = Variant(
    "full",
    # Characters that need escaping in a URI, a form, XML or JSON, and a non-ASCII one.
    text="ex a+m/p%l&e=<v\"a'l>?#é",
    header_text="ex a+m/p%l;e=v,al",
    label_text="ex a+m/p%l&e=<v\"a'l>?#é",
    integer=7, number=1.5, boolean=True,
    timestamp=dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC),
    blob=b"\x00\x01 binary \xff\r\n",
    items=2,
)
EMPTY = Variant(
    "empty",
    text="", header_text="", label_text="x",
    integer=0, number=0.0, boolean=False,
    timestamp=dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
    blob=b"",
    items=0,
)
VARIANTS = (FULL, EMPTY)


def example(shape: Shape, variant: Variant, *, location: str | None = None, stack: tuple[str, ...] = ()) -> Any:
    """A value of `shape`; None for a structure already being filled (a recursive shape ends there)."""
    if isinstance(shape, StructureShape):
        if shape.name in stack:
            return None
        return structure_example(shape, variant, stack=stack)
    if isinstance(shape, ListShape):
        items = [example(shape.member, variant, location=location, stack=stack) for _ in range(variant.items)]
        return [item for item in items if item is not None]
    if isinstance(shape, MapShape):
        out = {key: example(shape.value, variant, stack=stack) for key in _keys(shape.key, variant)}
        return {k: v for k, v in out.items() if v is not None}
    return scalar_example(shape, variant, location=location)


def structure_example(shape: StructureShape, variant: Variant, *, stack: tuple[str, ...] = (),
                      members: dict[str, Shape] | None = None) -> dict[str, Any]:
    members = shape.members if members is None else members
    stack = (*stack, shape.name)
    if shape.metadata.get("union"):  # a union carries exactly one member
        members = dict(list(members.items())[:1])
    out: dict[str, Any] = {}
    for name, member in members.items():
        value = example(member, variant, location=member.serialization.get("location"), stack=stack)
        if value is not None:
            out[name] = value
    return out


def scalar_example(shape: Shape, variant: Variant, *, location: str | None = None) -> Any:
    kind = shape.type_name
    if kind == "string":
        enum = shape.enum if isinstance(shape, StringShape) else []
        if enum:
            return enum[0]
        if location == "uri":
            return variant.label_text
        return variant.header_text if location in ("header", "headers") else variant.text
    if kind in ("integer", "long"):
        return _in_range(shape, variant.integer)
    if kind in ("float", "double"):
        return variant.number
    if kind == "boolean":
        return variant.boolean
    if kind == "timestamp":
        return variant.timestamp
    if kind == "blob":
        return variant.blob
    raise AssertionError(f"no example for a {kind} ({shape.name})")


def _in_range(shape: Shape, preferred: int) -> int:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    value = preferred
    if low is not None and value < low:
        value = int(low)
    if high is not None and value > high:
        value = int(high)
    return value


def _keys(shape: Shape, variant: Variant) -> list[str]:
    enum = shape.enum if isinstance(shape, StringShape) else []
    keys = list(enum) if enum else ["key-1", "Key.2"]
    return keys[:variant.items]
