"""A shape's JSON writer: turns a result into what the JSON protocols send (members by their JSON names,
None members left out, binary as base64, timestamps as epoch seconds), by functions built once per shape.

Walking the model for every answer asked each shape, at every level, for its members, their JSON names and
its type, and converted strings and numbers one call each. A writer asks once: a structure keeps its members'
JSON names and writers, and a value that needs no conversion (a string, a number, a list of them) is
taken as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from conveyor.protocol.base import b64encode, format_timestamp

Write = Callable[[Any], Any]
# What per_shape keeps: (id of the shape, id of the hooks) -> (the shape and hooks, kept so their ids are not
# reused; the function built), and the stand-ins of the functions being built, by what defines the shape.
Built = dict[tuple[int, int], tuple[Shape, Mapping[str, Any], Any]]
Building = dict[tuple[int, str, str, int], Callable[[Any], Any]]

_WRITERS: Built = {}
_BUILDING: Building = {}


def to_json(shape: Shape, value: Any, hooks: Mapping[str, Write]) -> Any:
    """`value` as the JSON protocols write `shape`; `hooks`: shapes (by name) a service writes itself."""
    write = writer(shape, hooks)
    return value if write is None else write(value)


def writer(shape: Shape, hooks: Mapping[str, Write]) -> Write | None:
    """The function that writes `shape`, or None when a value of it is written as it is."""
    write: Write | None = per_shape(_WRITERS, _BUILDING, shape, hooks, _build)
    return write


def per_shape(cache: Built, building: Building, shape: Shape, hooks: Mapping[str, Any],
              build: Callable[[Shape, Mapping[str, Any]], Any]) -> Any:
    """What `build` makes of `shape` (a writer, or conveyor.protocol.json_reader's reader), made once per
    shape and hooks and kept in `cache`. A recursive shape meets itself below itself while it is being
    built: it gets a stand-in that calls the finished function (`building`: the stand-ins by what defines
    the shape)."""
    key = (id(shape), id(hooks))
    found = cache.get(key)
    if found is not None:
        return found[2]
    definition = (id(getattr(shape, "_shape_resolver", None)), shape.name, repr(sorted(shape.serialization.items())),
                  id(hooks))
    forward = building.get(definition)
    if forward is not None:
        return forward
    done: list[Any] = []

    def ahead(value: Any) -> Any:
        function = done[0]
        return value if function is None else function(value)

    building[definition] = ahead
    try:
        function = build(shape, hooks)
    finally:
        del building[definition]
    done.append(function)
    cache[key] = (shape, hooks, function)
    return function


def _build(shape: Shape, hooks: Mapping[str, Write]) -> Write | None:
    hook = hooks.get(shape.name)
    if hook is not None:
        return hook
    if isinstance(shape, StructureShape):
        return _structure(shape, hooks)
    if isinstance(shape, ListShape):
        member = writer(shape.member, hooks)
        if member is None:
            return list
        return lambda value: [member(item) for item in value]
    if isinstance(shape, MapShape):
        entry = writer(shape.value, hooks)
        if entry is None:
            return _as_dict
        return lambda value: {k: entry(v) for k, v in value.items()}
    kind = shape.type_name
    if kind == "blob":
        return lambda value: b64encode(value if isinstance(value, bytes) else str(value).encode())
    if kind == "timestamp":
        return lambda value: format_timestamp(value, shape, "unixTimestamp")
    return None


def _as_dict(value: Any) -> Any:
    """A map of values written as they are: written as it is when it already is a dict (the answer is encoded
    at once, before anything could change it), copied from another kind of mapping."""
    return value if type(value) is dict else {k: v for k, v in value.items()}


def _structure(shape: StructureShape, hooks: Mapping[str, Write]) -> Write:
    members = {name: (member.serialization.get("name", name), writer(member, hooks))
               for name, member in shape.members.items()}

    def write(value: Any) -> Any:
        out = {}
        for name, item in value.items():
            if item is not None:
                member = members.get(name)
                if member is not None:
                    wire, write_member = member
                    out[wire] = item if write_member is None else write_member(item)
        return out

    return write
