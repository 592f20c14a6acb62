"""A shape's JSON reader: checks a request's JSON value against its shape and turns it into what the
handlers take (members by their model names, binary decoded from base64, timestamps parsed), by functions
built once per shape, as conveyor.protocol.json_writer writes answers.

The model walk this replaces asked every value's shape, at every level, what kind it was, through a chain
of isinstance tests (structure? list? map? blob? ...), and ran the surrogate regular expression over every
string: a SendMessageBatch of ten entries cost four times its json.loads. A reader asks the shape once; an
ASCII string (nearly every one) skips the regular expression, since it cannot hold a surrogate.

What is refused, and how it is named (_WireTypeError: the path from the top and what was expected), is
the walk's exactly: tests/protocol/test_json_reader.py compares the two over every served JSON model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from conveyor.protocol.base import b64decode, parse_timestamp
from conveyor.protocol.json_writer import Building, Built, per_shape

Read = Callable[[Any], Any]

NOT_READ = object()  # a shape hook's answer for a value it leaves to the reader built from the model

_SURROGATE = re.compile("[\ud800-\udfff]")


class _WireTypeError(Exception):
    """A value of the wrong type. `path` names it from the top of the input ("Item.name.S"); the readers
    build it only on the way out of a failure, one member name per level, never for a value that parses."""

    def __init__(self, path: str, expected: str) -> None:
        super().__init__(expected)
        self.path = path
        self.expected = expected

    def inside(self, name: str | int) -> _WireTypeError:
        """This error, seen from the container that holds the value under `name`."""
        self.path = f"{name}.{self.path}" if self.path else str(name)
        return self

    def __str__(self) -> str:
        return f"{self.path}: expected {self.expected}"


_READERS: Built = {}
_BUILDING: Building = {}


def from_json(shape: Shape, value: Any, hooks: Mapping[str, Read]) -> Any:
    """`value` (parsed JSON) read as `shape`; `hooks`: shapes (by name) a service reads itself, answering
    NOT_READ for a value it leaves to the model's reader. Raises _WireTypeError."""
    if value is None:
        return None
    return reader(shape, hooks)(value)


def reader(shape: Shape, hooks: Mapping[str, Read]) -> Read:
    """The function that reads a (non-null) value of `shape`."""
    read: Read = per_shape(_READERS, _BUILDING, shape, hooks, _build)
    return read


def _build(shape: Shape, hooks: Mapping[str, Read]) -> Read:
    read = _from_model(shape, hooks)
    hook = hooks.get(shape.name)
    if hook is None:
        return read

    def hooked(value: Any) -> Any:
        done = hook(value)
        return read(value) if done is NOT_READ else done

    return hooked


def _from_model(shape: Shape, hooks: Mapping[str, Read]) -> Read:
    if isinstance(shape, StructureShape):
        return _structure(shape, hooks)
    if isinstance(shape, ListShape):
        return _list(shape, hooks)
    if isinstance(shape, MapShape):
        return _map(shape, hooks)
    return _SCALARS.get(shape.type_name, _as_it_is)


def _structure(shape: StructureShape, hooks: Mapping[str, Read]) -> Read:
    members = shape.members
    # A member is found by its name, or else by a JSON name of its own (`locationName`, as API Gateway's:
    # botocore reads and writes that name), the first member to carry it.
    by_key: dict[str, tuple[str, Read]] = {}
    for name, member in members.items():
        json_name = member.serialization.get("name")
        if json_name is not None and json_name not in members and json_name not in by_key:
            by_key[json_name] = (name, reader(member, hooks))
    for name, member in members.items():
        by_key[name] = (name, reader(member, hooks))

    def read(value: Any) -> Any:
        if not isinstance(value, dict):
            raise _WireTypeError("", "an object")
        out: dict[str, Any] = {}
        for key, item in value.items():
            if item is not None:
                found = by_key.get(key)
                if found is not None:
                    name, read_member = found
                    try:
                        out[name] = read_member(item)
                    except _WireTypeError as exc:
                        raise exc.inside(name)
        return out

    return read


def _list(shape: ListShape, hooks: Mapping[str, Read]) -> Read:
    read_member = reader(shape.member, hooks)

    def read(value: Any) -> Any:
        if not isinstance(value, list):
            raise _WireTypeError("", "a list")
        items = []
        for i, item in enumerate(value, 1):
            try:
                items.append(read_member(_not_null(item)))
            except _WireTypeError as exc:
                raise exc.inside(i)
        return items

    return read


def _map(shape: MapShape, hooks: Mapping[str, Read]) -> Read:
    read_value = reader(shape.value, hooks)

    def read(value: Any) -> Any:
        if not isinstance(value, dict):
            raise _WireTypeError("", "an object")
        if any(not k.isascii() and _SURROGATE.search(k) for k in value):
            raise _WireTypeError("", "keys of Unicode characters (a lone surrogate escape is not one)")
        entries = {}
        for k, v in value.items():
            try:
                entries[str(k)] = read_value(_not_null(v))
            except _WireTypeError as exc:
                raise exc.inside(k)
        return entries

    return read


def _not_null(item: Any) -> Any:
    """AWS's collections are dense unless modelled `sparse` (none of the served ones is): a null inside one
    is refused, as Smithy server SDKs refuse it, never passed on as a missing value."""
    if item is None:
        raise _WireTypeError("", "a value, not null")
    return item


def _string(value: Any) -> Any:
    if not isinstance(value, str):
        raise _WireTypeError("", "a string")
    if not value.isascii() and _SURROGATE.search(value):
        raise _WireTypeError("", "a string of Unicode characters (a lone surrogate escape is not one)")
    return value


def _blob(value: Any) -> Any:
    if not isinstance(value, str):
        raise _WireTypeError("", "a base64 string")
    try:
        return b64decode(value)
    except ValueError:
        raise _WireTypeError("", "a base64 string")


def _timestamp(value: Any) -> Any:
    try:
        return parse_timestamp(value)
    except ValueError:
        raise _WireTypeError("", "a timestamp")


def _integer(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise _WireTypeError("", "an integer")
    return value


def _boolean(value: Any) -> Any:
    if not isinstance(value, bool):
        raise _WireTypeError("", "a boolean")
    return value


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _WireTypeError("", "a number")
    return value


def _as_it_is(value: Any) -> Any:
    return value


_SCALARS: dict[str, Read] = {
    "string": _string, "blob": _blob, "timestamp": _timestamp, "integer": _integer, "long": _integer,
    "boolean": _boolean, "float": _number, "double": _number,
}
