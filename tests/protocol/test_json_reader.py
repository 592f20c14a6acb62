"""The JSON readers built per shape (conveyor.protocol.json_reader) read what the model walk they replace
read, and refuse what it refused with the same path and words: every input shape of every served JSON
model, with generated requests (full and empty, members under their model and their JSON names, unknown
members and nulls) and, one leaf at a time, values of the wrong type, nulls inside lists and maps, lone
surrogates and bad base64; with a service's own shape hooks (DynamoDB's AttributeValue) and without."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from conveyor.protocol.base import b64decode, parse_timestamp
from conveyor.protocol.json_reader import NOT_READ, _WireTypeError
from conveyor.protocol.json_rpc import _from_json
from tests.protocol.codec_harness import served_codecs
from tests.protocol.shape_examples import VARIANTS, structure_example

Hooks = Mapping[str, Callable[[Any], Any]]
_SURROGATE = re.compile("[\ud800-\udfff]")


def model_walk(shape: Shape, value: Any, hooks: Hooks) -> Any:
    """The walk the JSON codecs ran for every request before they had readers."""
    if value is None:
        return None
    if hooks:
        hook = hooks.get(shape.name)
        if hook is not None:
            read = hook(value)
            if read is not NOT_READ:
                return read
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            raise _WireTypeError("", "an object")
        members = shape.members
        out: dict[str, Any] = {}
        for name, item in value.items():
            member = members.get(name)
            if member is None:
                name, member = next(((n, m) for n, m in members.items() if m.serialization.get("name") == name),
                                    (name, None))
            if member is not None and item is not None:
                try:
                    out[name] = model_walk(member, item, hooks)
                except _WireTypeError as exc:
                    raise exc.inside(name)
        return out
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            raise _WireTypeError("", "a list")
        items = []
        for i, item in enumerate(value, 1):
            try:
                items.append(model_walk(shape.member, _not_null(item), hooks))
            except _WireTypeError as exc:
                raise exc.inside(i)
        return items
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            raise _WireTypeError("", "an object")
        if any(_SURROGATE.search(k) for k in value):
            raise _WireTypeError("", "keys of Unicode characters (a lone surrogate escape is not one)")
        entries = {}
        for k, v in value.items():
            try:
                entries[str(k)] = model_walk(shape.value, _not_null(v), hooks)
            except _WireTypeError as exc:
                raise exc.inside(k)
        return entries
    if kind == "blob":
        if not isinstance(value, str):
            raise _WireTypeError("", "a base64 string")
        try:
            return b64decode(value)
        except ValueError:
            raise _WireTypeError("", "a base64 string")
    if kind == "timestamp":
        try:
            return parse_timestamp(value)
        except ValueError:
            raise _WireTypeError("", "a timestamp")
    if kind == "string" and not isinstance(value, str):
        raise _WireTypeError("", "a string")
    if kind == "string" and _SURROGATE.search(value):
        raise _WireTypeError("", "a string of Unicode characters (a lone surrogate escape is not one)")
    if kind in ("integer", "long") and (isinstance(value, bool) or not isinstance(value, int)):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise _WireTypeError("", "an integer")
    if kind == "boolean" and not isinstance(value, bool):
        raise _WireTypeError("", "a boolean")
    if kind in ("float", "double") and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise _WireTypeError("", "a number")
    return value


def _not_null(item: Any) -> Any:
    if item is None:
        raise _WireTypeError("", "a value, not null")
    return item


def wire(shape: Shape, value: Any, json_names: bool) -> Any:
    """An example value as a client's JSON carries it (binary in base64, timestamps as epoch seconds),
    members under their JSON names when `json_names`."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        members = shape.members
        return {(members[k].serialization.get("name", k) if json_names else k): wire(members[k], v, json_names)
                for k, v in value.items()}
    if isinstance(shape, ListShape):
        return [wire(shape.member, v, json_names) for v in value]
    if isinstance(shape, MapShape):
        return {k: wire(shape.value, v, json_names) for k, v in value.items()}
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return value


WRONG: tuple[Any, ...] = (5, "x", True, None, [], {}, 1.5, 2.0, "\ud800", "not base64!", "é\udc00", [None], {"k": None},
                          {"\ud800": "v"}, "2024-05-06T07:08:09Z", "MTIz")


def leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Where each value sits, containers included."""
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, (*path, i))


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: (replaced(v, rest, new) if k == head else v) for k, v in value.items()}
    return [replaced(v, rest, new) if i == head else v for i, v in enumerate(value)]


def outcome(read: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    try:
        return ("read", read(*args))
    except _WireTypeError as exc:
        return ("refused", (exc.path, exc.expected))


def test_readers_read_and_refuse_what_the_model_walk_did() -> None:
    compared = refused = 0
    wrong = itertools.cycle(WRONG)
    for served in served_codecs():
        codec = served.codec
        if codec.name not in ("json", "rest-json"):
            continue
        hook_sets: list[Hooks] = [{}]
        own: Hooks = getattr(codec, "shape_readers", {})
        if own:
            hook_sets.append(own)
        for name in codec.model.operation_names:
            shape = codec.model.operation_model(name).input_shape
            if shape is None:
                continue
            for variant, json_names, hooks in itertools.product(VARIANTS, (False, True), hook_sets):
                request = wire(shape, structure_example(shape, variant), json_names)
                requests = [request, {**request, "NotAMember": "x", "Nothing": None}]
                requests += [replaced(request, path, next(wrong)) for path in itertools.islice(leaves(request), 1, 40)]
                for value in requests:
                    expected = outcome(model_walk, shape, value, hooks)
                    assert outcome(_from_json, shape, value, "", hooks) == expected, (
                        codec.model.service_name, name, value)
                    compared += 1
                    refused += expected[0] == "refused"
    assert compared > 5000 and refused > 1000, (compared, refused)
