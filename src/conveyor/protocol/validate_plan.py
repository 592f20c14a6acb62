"""A shape's validation plan: whether a value breaks any rule of conveyor.protocol.validate, answered by
checks built once per shape, naming nothing.

The walk in conveyor.protocol.validate names each member on its way (`Item.name.S`) so that an error can
say where it is; on the valid requests that are nearly all of them those names were built for nothing, and
each level asked the shape again for its members, bounds and enum. A plan asks the model once, keeps the
answers in closures, and returns True or False. It must refuse every value the walk refuses (the walk then
words the error); tests/protocol/test_validate_plan.py holds the two to the same verdicts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StringShape, StructureShape

Check = Callable[[Any], bool]


@lru_cache(maxsize=256)
def pattern(text: str) -> re.Pattern[str] | None:
    """A model's pattern (Java syntax, which Python reads for the classes models use); None if it cannot
    (`\\p{L}` in STS tag keys). AWS applies it as Java's `matches()`, to the whole value: hence `fullmatch`
    (`$` with `match` lets a trailing newline through), and ASCII `\\w`, `\\d`, `\\s` as in Java."""
    try:
        return re.compile(text, re.DOTALL | re.ASCII)
    except re.error:
        return None


# (id of the shape, patterns, enums) -> (the shape, kept so that its id is not reused; its plan). botocore
# makes a shape's members once per shape object, so the objects a request's input reaches are few and kept.
_PLANS: dict[tuple[int, bool, bool], tuple[Shape, Check]] = {}
# Plans being built, by what defines the shape: a recursive shape (DynamoDB's AttributeValue holds maps of
# AttributeValues) meets itself, as a new object, below itself, and gets a forward to its own plan.
_BUILDING: dict[tuple[int, str, str, bool, bool], Check] = {}


def plan(shape: Shape, patterns: bool, enums: bool) -> Check:
    """The check of `shape` (a value that is None passes: optional members are left out). `patterns` and
    `enums`: whether strings must match their pattern and be one of their enum (ValidationCodes)."""
    key = (id(shape), patterns, enums)
    found = _PLANS.get(key)
    if found is not None:
        return found[1]
    definition = (id(getattr(shape, "_shape_resolver", None)), shape.name, repr(sorted(shape.metadata.items())), patterns, enums)
    forward = _BUILDING.get(definition)
    if forward is not None:
        return forward
    built: list[Check] = []
    _BUILDING[definition] = lambda value: built[0](value)
    try:
        check = _build(shape, patterns, enums)
    finally:
        del _BUILDING[definition]
    built.append(check)
    _PLANS[key] = (shape, check)
    return check


def _bounds(shape: Shape) -> tuple[Any, Any]:
    return shape.metadata.get("min"), shape.metadata.get("max")


def _within(low: Any, high: Any) -> Callable[[Any], bool] | None:
    """The bounds check of a measure (a number, a length), or None when the shape has no bounds (most: the
    checks below then skip the call)."""
    if low is None and high is None:
        return None
    if high is None:
        return lambda measure: not measure < low
    if low is None:
        return lambda measure: not measure > high
    return lambda measure: not (measure < low or measure > high)


def _build(shape: Shape, patterns: bool, enums: bool) -> Check:
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        return _structure(shape, patterns, enums)
    if isinstance(shape, ListShape):
        return _list(shape, patterns, enums)
    if isinstance(shape, MapShape):
        return _map(shape, patterns, enums)
    low, high = _bounds(shape)
    within = _within(low, high)
    if isinstance(shape, StringShape):
        return _string(shape, patterns, enums, within)
    if within is None:
        within = _unbounded
    if kind in ("integer", "long"):
        return lambda value: value is None or (
            not isinstance(value, bool) and isinstance(value, int) and within(value))
    if kind in ("float", "double"):
        return lambda value: value is None or (
            not isinstance(value, bool) and isinstance(value, int | float) and within(value))
    if kind == "boolean":
        return lambda value: value is None or isinstance(value, bool)
    if kind == "blob":
        return lambda value: value is None or (isinstance(value, bytes | bytearray) and within(len(value)))
    return lambda value: True


def _unbounded(measure: Any) -> bool:
    return True


def _structure(shape: StructureShape, patterns: bool, enums: bool) -> Check:
    required = tuple(shape.required_members)
    members = {name: plan(member, patterns, enums) for name, member in shape.members.items()}

    def check(value: Any) -> bool:
        if value is None:
            return True
        if not isinstance(value, dict):
            return False
        for name in required:
            if value.get(name) is None:
                return False
        for name, item in value.items():
            member = members.get(name)
            if member is None or item is None:
                continue
            if member is _any_string:  # (most members: the type checked here, without a call)
                if not isinstance(item, str):
                    return False
            elif not member(item):
                return False
        return True

    return check


def _list(shape: ListShape, patterns: bool, enums: bool) -> Check:
    member = plan(shape.member, patterns, enums)
    within = _within(*_bounds(shape)) or _unbounded

    def check(value: Any) -> bool:
        if value is None:
            return True
        if not isinstance(value, list) or not within(len(value)):
            return False
        for item in value:  # noqa: SIM110  (a loop, not all() over a generator: no generator frame per item)
            if item is not None and not member(item):
                return False
        return True

    return check


def _map(shape: MapShape, patterns: bool, enums: bool) -> Check:
    key_check = plan(shape.key, patterns, enums)
    value_check = plan(shape.value, patterns, enums)
    within = _within(*_bounds(shape)) or _unbounded
    key_pattern: str | None = shape.key.metadata.get("pattern") if patterns else None
    key_regex = pattern(key_pattern) if key_pattern else None

    def check(value: Any) -> bool:
        if value is None:
            return True
        if not isinstance(value, dict) or not within(len(value)):
            return False
        for key, item in value.items():
            if key_regex is not None and isinstance(key, str) and not key_regex.fullmatch(key):
                return False
            if key is not None and not key_check(key):
                return False
            if item is not None and not value_check(item):
                return False
        return True

    return check


def _string(shape: StringShape, patterns: bool, enums: bool, within: Callable[[Any], bool] | None) -> Check:
    enum = frozenset(shape.enum) if enums and shape.enum else None
    text = shape.metadata.get("pattern") if patterns else None
    regex = pattern(text) if text else None
    if enum is None and regex is None and within is None:  # (most strings: only the type to check)
        return _any_string
    if within is None:
        within = _unbounded

    def check(value: Any) -> bool:
        if value is None:
            return True
        if not isinstance(value, str):
            return False
        if enum is not None and value not in enum:
            return False
        if not within(len(value)):
            return False
        return regex is None or regex.fullmatch(value) is not None

    return check


def _any_string(value: Any) -> bool:
    return value is None or isinstance(value, str)
